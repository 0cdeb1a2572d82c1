"""`dataframer-watcher simulate` seeding every kind, as a user runs it: a real subprocess.

(Beside the simulator's tests rather than in tests/cli: the command's options are the
simulator's, and `tests/cli/test_demo.py` already covers its signals and its port errors.)
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import dataframer
import httpx

from tests.support import clean_env, cli, free_port


def test_simulate_seeds_each_kind_the_sdk_then_lists(tmp_path: Path) -> None:
    """--runs, --evaluations, --red-team-runs and --anonymization-runs each seed their kind;
    the first line says what was seeded."""
    port = free_port()
    argv = [sys.executable, "-m", "watcher", "simulate", "--port", str(port), "--seed", "2"]
    argv += ["--runs", "6", "--evaluations", "3", "--red-team-runs", "4"]
    argv += ["--anonymization-runs", "5", "--processing-seconds", "0.1", "--pending-seconds", "0"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert "6 runs, 3 evaluations, 4 red-team runs, 5 anonymization runs" in first
        url = f"http://127.0.0.1:{port}"
        with dataframer.Dataframer(api_key="sim-key", base_url=url, max_retries=0) as sdk:
            assert len(sdk.dataframer.red_team_runs.list()) == 4
            assert len(sdk.dataframer.anonymization_runs.list()) == 5
            evaluations = httpx.get(f"{url}/_sim/evaluations").json()["evaluations"]
            assert len(evaluations) == 3
            for evaluation in evaluations:
                assert sdk.dataframer.evaluations.retrieve(evaluation["id"]).run_id
            # Evaluations need succeeded runs: there were some among the six, or new ones.
            assert len(sdk.dataframer.runs.list()) >= 6
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_simulate_help_names_every_kind(tmp_path: Path) -> None:
    """--help says what each seeding option does."""
    out = " ".join(cli("simulate", "--help", cwd=tmp_path).stdout.split())  # unwrapped
    for option in ("--runs", "--evaluations", "--red-team-runs", "--anonymization-runs"):
        assert option in out
    assert "of the runs that have succeeded" in out

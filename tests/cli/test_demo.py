"""`demo` and `simulate` as users run them: real subprocesses, real signals."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import dataframer
import pytest

from tests.support import clean_env, free_port
from watcher.cli.world import DEMO_MIN_SECONDS
from watcher.simulator import DEMO_SETTLES_AFTER


@pytest.mark.timeout(120)
def test_demo_prints_each_alert_and_exits_0(tmp_path: Path) -> None:
    """The demo ends by itself: one alert per finished run, every terminal status shown, even
    with the smallest --timeout it accepts (which must leave its scenario time to finish)."""
    assert DEMO_MIN_SECONDS >= DEMO_SETTLES_AFTER + 5
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "demo", "--timeout", f"{DEMO_MIN_SECONDS:g}"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for status in ("SUCCEEDED", "FAILED", "CANCELED"):
        assert f"Dataframer run {status}:" in out
    assert "demo finished" in out
    messages = out.count("🔔")
    run_alerts = out.count("   Run: ")
    assert f"{run_alerts} run alerts in {messages} messages" in out
    assert run_alerts >= 3
    assert list(tmp_path.iterdir()) == []  # the demo leaves nothing behind


def test_simulate_serves_the_sdk_and_stops_on_sigterm(tmp_path: Path) -> None:
    """`simulate` answers the official SDK with the given key and exits 0 on SIGTERM."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watcher",
            "simulate",
            "--port",
            str(port),
            "--api-key",
            "k-123456",
            "--runs",
            "7",
            "--seed",
            "3",
        ],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        client = dataframer.Dataframer(
            api_key="k-123456", base_url=f"http://127.0.0.1:{port}", max_retries=0
        )
        runs = client.dataframer.runs.list()
        assert len(runs) == 7
        with pytest.raises(dataframer.AuthenticationError):
            dataframer.Dataframer(
                api_key="wrong", base_url=f"http://127.0.0.1:{port}", max_retries=0
            ).dataframer.runs.list()
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_simulate_on_a_taken_port_is_one_line_exit_1(tmp_path: Path) -> None:
    """A port already in use: one line naming it, exit 1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "watcher", "simulate", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 1
    assert str(port) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_demo_refuses_a_timeout_its_scenario_cannot_fit(tmp_path: Path) -> None:
    """Below the minimum the demo would fail for want of time: bad usage, one line, exit 2."""
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "demo", "--timeout", "5"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--timeout" in result.stderr
    assert "30" in result.stderr

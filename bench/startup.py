"""Start-up time of a command that never sends: `python -m watcher --config X status`.

Every CLI call is a fresh interpreter, so what it imports is paid on each one (a script that
tracks 40 runs one by one pays it 40 times). The command runs as a subprocess, as a user or a
cron job runs it, on a config with channels (one with a ``${VAR}``) and a state file holding a
few tracked runs; the bare interpreter (`python -c pass`) is measured beside it, so the table
shows how much of the time is the watcher's own.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.timing import Result
from bench.world import Sizes, write_config

_RUN_IDS = ("bench-startup-1", "bench-startup-2", "bench-startup-3")


def startup_benchmarks(sizes: Sizes, work: Path) -> list[Result]:
    """`status` timed as a subprocess, median of `sizes.reps` after one warm-up call."""
    config = write_config(
        work,
        "http://127.0.0.1:9",
        channels={"team": "json://127.0.0.1:9/hook", "oncall": "slack://${SLACK_TOKEN}/B/C"},
    )
    env = _clean_env()
    _watcher(config, env, "track", *_RUN_IDS)  # a state file with runs in it, as in real use
    floor = _timed([sys.executable, "-c", "pass"], env, warmup=1, reps=sizes.reps)
    samples = _timed(
        [sys.executable, "-m", "watcher", "--config", str(config), "status"],
        env,
        warmup=1,
        reps=sizes.reps,
    )
    floor_ms = statistics.median(floor) * 1000
    return [
        Result(
            "startup.status",
            1,
            samples,
            extra={"interpreter_ms": round(floor_ms, 3), "tracked_runs": len(_RUN_IDS)},
            note=f"a fresh `status` process; a bare interpreter takes {floor_ms:.0f} ms",
        )
    ]


def _clean_env() -> dict[str, str]:
    """The environment minus anything that configures the watcher: the developer's must not
    change the numbers."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("WATCHER_", "DATAFRAMER_"))
    }


def _watcher(config: Path, env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), *args],
        env=env,
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"watcher {' '.join(args[:1])} failed: {done.stderr.strip()}")


def _timed(
    argv: Sequence[str], env: dict[str, str], *, warmup: int, reps: int
) -> tuple[float, ...]:
    """Wall-clock seconds of each of ``reps`` runs of ``argv``, after ``warmup`` untimed ones
    (the first call may write bytecode caches)."""
    samples: list[float] = []
    for index in range(warmup + reps):
        started = time.perf_counter()
        done = subprocess.run(
            list(argv), env=env, capture_output=True, text=True, timeout=60, check=False
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])}... exited {done.returncode}: {done.stderr}")
        if index >= warmup:
            samples.append(elapsed)
    return tuple(samples)

"""Memory of a 10k-run tick and of an idle daemon, each measured in a process of its own.

The parent holds the simulator (10k runs of its own weigh tens of MiB), so peak RSS is only
meaningful in a child that does nothing but watch. Run as `python -m bench.memory URL DIR`,
the child prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.world import API_KEY, quiet_logs, settings_for, write_config
from watcher.api import DataframerClient
from watcher.clock import utcnow
from watcher.pipeline import Pipeline
from watcher.service.runtime import tick_policy
from watcher.state import Store

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parent.parent
_DAEMON_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class Gauge:
    """A row of the report that measures sizes, not time."""

    name: str
    n: int
    values: dict[str, float]
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The JSON form of this row."""
        return {"n": self.n, **self.values, **self.extra}


def peak_rss_mib() -> float:
    """This process's peak resident set so far.

    VmHWM first: Linux carries ru_maxrss across fork and exec, so a child started by a big
    parent would report the parent's peak. ru_maxrss (KiB on Linux, bytes on macOS) elsewhere.
    """
    peak = proc_status_mib(os.getpid()).get("VmHWM")
    if peak is not None:
        return peak
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(maxrss / (MIB if sys.platform == "darwin" else 1024), 1)


def proc_status_mib(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, from /proc; empty where there is no /proc."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    found: dict[str, float] = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return found


async def _measure_tick(url: str, workdir: Path) -> dict[str, float]:
    """Inside the child: a baseline tick for peak RSS, then both ticks under tracemalloc."""
    quiet_logs()
    settings = settings_for(write_config(workdir, url))
    before = peak_rss_mib()
    out: dict[str, float] = {"rss_before_mib": before}
    async with DataframerClient(url, API_KEY) as client:
        with Store.open(workdir / "rss.db") as store:
            await Pipeline(tick_policy(settings), store, client, clock=utcnow).tick()
        out["peak_rss_mib"] = peak_rss_mib()
        out["peak_rss_growth_mib"] = round(out["peak_rss_mib"] - before, 1)
        # tracemalloc slows allocation several-fold, so it never runs during the RSS tick.
        tracemalloc.start()
        with Store.open(workdir / "traced.db") as store:
            await Pipeline(tick_policy(settings), store, client, clock=utcnow).tick()
        out["tracemalloc_baseline_peak_mib"] = round(tracemalloc.get_traced_memory()[1] / MIB, 2)
        tracemalloc.clear_traces()
        with Store.open(workdir / "rss.db") as store:
            store.snapshots()
            cache = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            await Pipeline(tick_policy(settings), store, client, clock=utcnow).tick()
            peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    out["snapshot_cache_mib"] = round(cache / MIB, 2)
    out["tracemalloc_steady_peak_mib"] = round((peak - cache) / MIB, 2)
    return out


def tick_memory(url: str, runs: int, workdir: Path) -> Gauge:
    """Peak RSS and tracemalloc peaks of ticks over `runs` runs, in a fresh child process."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory", url, str(workdir)],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the memory child failed: {done.stderr.strip()[-2000:]}")
    values: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return Gauge(
        "memory.tick",
        runs,
        values,
        f"peak RSS {values['peak_rss_mib']:g} MiB (tick +{values['peak_rss_growth_mib']:g}),"
        f" tracemalloc {values['tracemalloc_baseline_peak_mib']:.1f} MiB",
    )


def idle_daemon(url: str, runs: int, workdir: Path) -> Gauge:
    """RSS of `dataframer-watcher run` at rest after its baseline tick over `runs` runs."""
    config = write_config(workdir, url, poll={"interval": "1h"})
    log_path = workdir / "daemon.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "run"],
            cwd=workdir,
            env={**_clean_env(), "DATAFRAMER_API_KEY": API_KEY},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_tick(proc, log_path)
            time.sleep(0.5)  # let the post-tick garbage go before reading the resident set
            status = proc_status_mib(proc.pid)
            if proc.poll() is not None:
                raise RuntimeError(f"the daemon died after its tick: {_tail(log_path)}")
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    values = {
        "idle_rss_mib": status.get("VmRSS", 0.0),
        "peak_rss_mib": status.get("VmHWM", 0.0),
    }
    note = (
        f"idle RSS {values['idle_rss_mib']:g} MiB, peak {values['peak_rss_mib']:g} MiB"
        if status
        else "no /proc here: not measured"
    )
    return Gauge("memory.idle_daemon", runs, values, note, {"exit_code": proc.returncode})


def _wait_for_tick(proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + _DAEMON_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the daemon exited before its first tick: {_tail(log_path)}")
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("{") and json.loads(line).get("event") == "tick":
                return
        time.sleep(0.1)
    raise RuntimeError(f"the daemon logged no tick within {_DAEMON_START_TIMEOUT:g}s")


def _tail(log_path: Path) -> str:
    """The last lines of the daemon's log: where its error is."""
    return "\n".join(log_path.read_text(errors="replace").splitlines()[-5:])


def _clean_env() -> dict[str, str]:
    """Our environment minus anything that configures the watcher or the SDK."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WATCHER_", "DATAFRAMER_")) and key != "NOTIFY_SOCKET"
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_measure_tick(sys.argv[1], Path(sys.argv[2])))))

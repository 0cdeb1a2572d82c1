"""The watcher at scale, beside the loop a user would write (issue 10, item 6).

Each world is a fresh simulator in this process; the watcher runs in a child process
(`bench.scaletick`), so its CPU time and peak RSS are its own, while this process moves runs
on (transitions injected as it ticks). Then: `status` on the 100,000-run state file, the
detection-to-delivery latency of a real daemon to a real webhook receiver, and the naive
loop (the official SDK's `runs.retrieve` per tracked run, one after another) beside ours at
1,000 tracked runs, on the same simulator.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataframer import Dataframer

from bench.memory import _clean_env
from bench.timing import Result
from bench.world import API_KEY, write_config
from watcher.simulator import SimulatorServer, WebhookSink
from watcher.simulator.sink import run_ids_in

_FINISHED = ("SUCCEEDED",) * 17 + ("FAILED",) * 2 + ("CANCELED",)
_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class World:
    """A company's runs: how many, how many active, the name of its rows, and how many active
    runs finish each second while it ticks."""

    name: str
    runs: int
    active: int
    moves_per_second: float = 10.0


def worlds(quick: bool) -> list[World]:
    """The sizes measured: a tenth active at 1k/10k/100k, a quarter at 10k, 200 at 100k."""
    if quick:
        return [World("scale.1k", 200, 20)]
    return [
        World("scale.1k", 1_000, 100),
        World("scale.10k", 10_000, 1_000),
        World("scale.10k_quarter", 10_000, 2_500),
        World("scale.100k", 100_000, 10_000),
        World("scale.100k_200", 100_000, 200, moves_per_second=2.0),
    ]


def populate(server: SimulatorServer, world: World) -> list[str]:
    """Old finished runs, then newer active ones that make progress on their own; active ids."""
    sim = server.sim
    sim.create_runs(
        world.runs - world.active,
        status=list(_FINISHED),
        created_ago_seconds=(3_600.0, 60 * 86_400.0),
    )
    active = sim.create_runs(
        world.active,
        outcomes=["SUCCEEDED"],
        pending_seconds=0.0,
        processing_seconds=(3_600.0, 7_200.0),
        created_ago_seconds=(0.0, 3_000.0),
    )
    return [run.id for run in active]


def ticks_in_child(
    server: SimulatorServer,
    workdir: Path,
    active: Sequence[str],
    *,
    ticks: int,
    explicit: Sequence[str] = (),
    moves_per_second: float = 10.0,
) -> dict[str, Any]:
    """Run `bench.scaletick` against `server`; after its baseline, finish active runs at
    `moves_per_second` until it is done. Its JSON, plus how many runs were moved."""
    argv = [sys.executable, "-m", "bench.scaletick", server.url, str(workdir)]
    argv += ["--ticks", str(ticks)]
    if explicit:
        argv += ["--explicit", ",".join(explicit)]
    proc = subprocess.Popen(
        argv,
        cwd=_ROOT,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    proc.stderr.readline()  # "baseline": it is ticking steadily from now on
    moved = 0

    def move() -> None:
        nonlocal moved
        while proc.poll() is None and moved < len(active) // 2:
            server.sim.force_status(active[moved], "SUCCEEDED")
            moved += 1
            time.sleep(1.0 / moves_per_second)

    mover = threading.Thread(target=move, daemon=True)
    mover.start()
    out, err = proc.communicate(timeout=600)
    mover.join()
    if proc.returncode != 0:
        raise RuntimeError(f"bench.scaletick failed: {err.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(out)
    result["moved"] = moved
    return result


def tick_row(world: World, data: dict[str, Any]) -> Result:
    """One world's row: steady ticks' CPU as samples; wall, requests, RSS as extras."""
    steady = [t for t in data["ticks"] if not t["first"]]
    cpu = tuple(t["cpu_s"] for t in steady)
    extra = {
        "runs": world.runs,
        "active": world.active,
        "cpu_ms_median": round(statistics.median(cpu) * 1000, 2),
        "wall_ms_median": round(statistics.median(t["wall_s"] for t in steady) * 1000, 2),
        "requests_median": statistics.median(t["requests"] for t in steady),
        "requests_max": max(t["requests"] for t in steady),
        "listed_median": statistics.median(t["listed"] for t in steady),
        "parsed_median": statistics.median(t["parsed"] for t in steady),
        "rows_written": [t["written"] for t in steady],
        "events": [t["events"] for t in steady],
        "baseline_wall_ms": round(data["ticks"][0]["wall_s"] * 1000, 1),
        "peak_rss_mib": data["peak_rss_mib"],
        "state_mib": round(data["state_bytes"] / 2**20, 1),
        "moved": data["moved"],
    }
    note = (
        f"CPU/tick; wall {extra['wall_ms_median']:.0f} ms, {extra['requests_median']:g} req"
        f" (max {extra['requests_max']}), {extra['listed_median']:g} items read,"
        f" rows {sum(extra['rows_written'])}/{sum(extra['events'])} events,"
        f" RSS {extra['peak_rss_mib']:.0f} MiB, state {extra['state_mib']:g} MiB"
    )
    return Result(world.name, world.runs, cpu, extra, note)


def status_row(workdir: Path, runs: int, reps: int) -> Result:
    """`status` (active runs and the 20 latest finished) as a fresh process on the state file a
    world left behind; `status --json` (every run) beside it."""
    config = workdir / "watcher.yaml"

    def timed(*extra: str) -> float:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "watcher", "--config", str(config), "status", *extra],
            cwd=workdir,
            env={**_clean_env(), "DATAFRAMER_API_KEY": API_KEY},
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"status failed: {done.stderr.decode()[-200:]}")
        return time.perf_counter() - started

    samples = tuple(timed() for _ in range(reps))
    every = round(timed("--json") * 1000, 1)
    size = os.path.getsize(workdir / "watcher.db")
    return Result(
        "scale.status",
        runs,
        samples,
        {"state_mib": round(size / 2**20, 1), "json_every_run_ms": every},
        f"`status` on a {size / 2**20:.0f} MiB file; `status --json` (every run) {every:.0f} ms",
    )


def naive_rows(server: SimulatorServer, tracked: Sequence[str], workdir: Path) -> list[Result]:
    """The SDK's retrieve per tracked run, one after another, beside our tick on those runs."""
    with Dataframer(api_key=API_KEY, base_url=server.url, max_retries=0) as sdk:
        samples = []
        for _ in range(3):
            started = time.perf_counter()
            for run_id in tracked:
                sdk.dataframer.runs.retrieve(run_id)
            samples.append(time.perf_counter() - started)
    data = ticks_in_child(server, workdir, tracked, ticks=4, explicit=tracked, moves_per_second=2)
    steady = [t for t in data["ticks"] if not t["first"]]
    ours = tuple(t["wall_s"] for t in steady)
    ratio = round(statistics.median(samples) / statistics.median(ours), 1)
    plans = sorted({str(t["plan"]) for t in steady})
    return [
        Result(
            "naive.sdk_retrieve_loop",
            len(tracked),
            tuple(samples),
            {"requests": len(tracked)},
            f"wall/tick: {len(tracked)} SDK retrieves, one after another",
        ),
        Result(
            "naive.ours",
            len(tracked),
            ours,
            {
                "speedup": ratio,
                "plans": plans,
                "requests_median": statistics.median(t["requests"] for t in steady),
            },
            f"wall/tick, same runs tracked ({'/'.join(plans)}): {ratio}x faster",
        ),
    ]


def latency_row(
    server: SimulatorServer, active: Sequence[str], workdir: Path, *, count: int
) -> Result:
    """Seconds from a forced transition in the simulator to its alert at the webhook receiver,
    through a real `run` daemon polling every second."""
    interval = 1.0
    with WebhookSink() as sink:
        config = write_config(
            workdir,
            server.url,
            channels={"hook": sink.url()},
            poll={"interval": f"{interval:g}s"},
        )
        log = (workdir / "daemon.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "run"],
            cwd=workdir,
            env={**_clean_env(), "DATAFRAMER_API_KEY": API_KEY},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(lambda: _logged(workdir / "daemon.log", "tick"), 120, "its baseline")
            forced: dict[str, float] = {}
            for run_id in active[:count]:
                forced[run_id] = time.monotonic()
                server.sim.force_status(run_id, "FAILED")
                time.sleep(0.23)  # spread over the poll interval
            _wait_for(lambda: set(forced) <= set(sink.run_ids()), 60, "every alert")
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            log.close()
        arrived: dict[str, float] = {}
        for request in sink.accepted:
            if request.body is None:
                continue
            for run_id in _run_ids(request.body.get("message", "")):
                arrived.setdefault(run_id, request.at)
    latencies = sorted(arrived[r] - at for r, at in forced.items())
    p99 = latencies[max(0, int(0.99 * len(latencies) + 0.5) - 1)]
    return Result(
        "scale.latency",
        len(latencies),
        tuple(latencies),
        {"poll_interval_s": interval, "p99_s": round(p99, 3)},
        f"transition -> webhook, poll every {interval:g}s: p99 {p99 * 1000:.0f} ms",
    )


def _run_ids(message: str) -> list[str]:
    return run_ids_in([message])


def _logged(path: Path, event: str) -> bool:
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{") and json.loads(line).get("event") == event:
            return True
    return False


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {timeout:g}s for {what}")
        time.sleep(0.05)


def scale_benchmarks(quick: bool) -> list[Result]:
    """Every scale row: the worlds' ticks, `status` at 100k, latency, the naive loop."""
    rows: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="watcher-scale-") as tmp:
        for world in worlds(quick):
            workdir = Path(tmp) / world.name
            workdir.mkdir()
            with SimulatorServer(api_key=API_KEY, seed=3) as server:
                active = populate(server, world)
                data = ticks_in_child(
                    server,
                    workdir,
                    active,
                    ticks=3 if quick else 10,
                    moves_per_second=world.moves_per_second,
                )
                rows.append(tick_row(world, data))
                if world.name == "scale.100k_200" or quick:
                    rows.append(status_row(workdir, world.runs, 1 if quick else 3))
                if world.name == "scale.1k":
                    tracked = active + populate(
                        server, World("more", 1_000 - len(active), 1_000 - len(active))
                    )
                    naive_dir = Path(tmp) / "naive"
                    naive_dir.mkdir()
                    rows += naive_rows(server, tracked[: 30 if quick else 1_000], naive_dir)
                    latency_dir = Path(tmp) / "latency"
                    latency_dir.mkdir()
                    late = tracked[len(tracked) // 2 :]
                    rows.append(latency_row(server, late, latency_dir, count=3 if quick else 20))
    return rows

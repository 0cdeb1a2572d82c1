"""Full discovery ticks over HTTP: the silent baseline, then a steady-state tick."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.timing import Result, Stopwatch
from bench.world import (
    API_KEY,
    DETAIL_ROUTE,
    LIST_ROUTE,
    Sizes,
    change,
    restore,
    settings_for,
    write_config,
)
from watcher.api import DataframerClient
from watcher.clock import utcnow
from watcher.config import Settings
from watcher.pipeline import Pipeline, TickSummary
from watcher.service.runtime import tick_policy
from watcher.simulator import SimulatorServer
from watcher.state import Store


@dataclass(frozen=True)
class Requests:
    """The API requests one tick made, as the simulator counted them."""

    lists: int
    details: int


@contextmanager
def counting(server: SimulatorServer) -> Iterator[list[Requests]]:
    """Count the list and detail requests made inside the block (one entry, on exit)."""
    stats = server.sim.stats
    lists, details = stats.count(LIST_ROUTE), stats.count(DETAIL_ROUTE)
    seen: list[Requests] = []
    yield seen
    seen.append(Requests(stats.count(LIST_ROUTE) - lists, stats.count(DETAIL_ROUTE) - details))


def copy_state(source: Path, target: Path) -> None:
    """A consistent copy of a state file, through SQLite's backup API (WAL included)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def remove_state(path: Path) -> None:
    """Delete a state file and its WAL companions (10k runs weigh several MB per copy)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def tick_benchmarks(
    server: SimulatorServer, active: list[str], sizes: Sizes, workdir: Path
) -> list[Result]:
    """Time a baseline tick on an empty state file, then steady ticks on copies of it.

    `workdir` must exist.
    """
    settings = settings_for(write_config(workdir, server.url))
    async with DataframerClient(server.url, API_KEY) as client:
        baseline, golden = await _baseline(server, settings, client, sizes, workdir)
        steady = await _steady(server, settings, client, active, sizes, workdir, golden)
    return [baseline, steady]


async def _baseline(
    server: SimulatorServer,
    settings: Settings,
    client: DataframerClient,
    sizes: Sizes,
    workdir: Path,
) -> tuple[Result, Path]:
    watch = Stopwatch()
    requests: list[Requests] = []
    summary: TickSummary | None = None
    # The first tick is the warm-up, and its state file becomes the golden baseline.
    for rep in range(1 + sizes.slow_reps):
        path = workdir / f"baseline-{rep}.db"
        with Store.open(path) as store:
            pipeline = Pipeline(tick_policy(settings), store, client, clock=utcnow)
            with counting(server) as seen, watch:
                summary = await pipeline.tick()
        requests += seen
        if not summary.baseline or summary.observed != sizes.runs:
            raise RuntimeError(f"the baseline tick did not see every run: {summary}")
    assert summary is not None
    golden = workdir / "baseline-0.db"
    size_mb = round(golden.stat().st_size / 1e6, 1)
    result = Result(
        "tick.baseline",
        sizes.runs,
        tuple(watch.samples[1:]),
        {
            "list_requests": max(r.lists for r in requests),
            "detail_requests": max(r.details for r in requests),
            "snapshots_written": summary.observed,
            "state_file_mb": size_mb,
        },
        f"{summary.observed} snapshots, {_reqs(requests)}",
    )
    return result, golden


async def _steady(
    server: SimulatorServer,
    settings: Settings,
    client: DataframerClient,
    active: list[str],
    sizes: Sizes,
    workdir: Path,
    golden: Path,
) -> Result:
    watch = Stopwatch()
    requests: list[Requests] = []
    events: list[int] = []
    finished = 0
    # Every repetition starts from a copy of the baseline and moves the same runs, so each one
    # does the same work; the copy and the cache warm-up are set-up, not timed.
    for rep in range(1 + sizes.reps):
        path = workdir / f"steady-{rep}.db"
        copy_state(golden, path)
        with Store.open(path) as store:
            store.snapshots()  # a running daemon holds them in memory from its last tick
            pipeline = Pipeline(tick_policy(settings), store, client, clock=utcnow)
            moved = change(server, active, sizes.changes)
            try:
                with counting(server) as seen, watch:
                    summary = await pipeline.tick()
            finally:
                restore(server, moved)
        finished = moved.finished
        requests += seen
        events.append(summary.events)
        remove_state(path)
    return Result(
        "tick.steady",
        sizes.runs,
        tuple(watch.samples[1:]),
        {
            "active": sizes.active,
            "changed": sizes.changes,
            "events": max(events),
            "finished": finished,
            "list_requests": max(r.lists for r in requests),
            "list_requests_min": min(r.lists for r in requests),
            "detail_requests": max(r.details for r in requests),
            "requests_per_tick": max(r.lists + r.details for r in requests),
        },
        f"{sizes.changes} changed, {_reqs(requests)}",
    )


def _reqs(requests: list[Requests]) -> str:
    worst = max(requests, key=lambda r: r.lists + r.details)
    return f"{worst.lists} list + {worst.details} detail reqs"

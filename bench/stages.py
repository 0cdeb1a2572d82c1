"""Single stages without the network: detect (pure CPU) and the SQLite record stage."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from bench.tick import copy_state
from bench.timing import Result, Stopwatch, measure
from bench.world import Sizes
from watcher.clock import utcnow
from watcher.detect import detect
from watcher.events import Detection, Observation, Snapshot, TickRecord
from watcher.models import RUN_LIST
from watcher.render import compose_messages
from watcher.route import route
from watcher.state import Store


@dataclass(frozen=True)
class Observations:
    """The list body before and after a steady-state change, parsed once."""

    before: bytes
    after: bytes


def detect_benchmarks(
    seen: Observations, sizes: Sizes
) -> tuple[list[Result], Detection, Detection]:
    """detect on a baseline, a steady-state tick and an all-active list; returns two detections."""
    now = utcnow()
    later = now + timedelta(seconds=30)
    before = tuple(RUN_LIST.validate_json(seen.before))
    after = tuple(RUN_LIST.validate_json(seen.after))
    first = Observation(runs=before, baseline=True)
    base = detect({}, first, now)
    previous = {s.run_id: s for s in base.snapshots}
    steady_obs = Observation(runs=after)
    steady = detect(previous, steady_obs, later)
    # The worst case for a steady tick: every run still under way, none changing.
    running = tuple(run.model_copy(update={"status": "PROCESSING"}) for run in before)
    busy = {s.run_id: replace(s, status="PROCESSING") for s in base.snapshots}
    busy_obs = Observation(runs=running)

    rows = [
        Result(
            "detect.baseline",
            len(before),
            measure(lambda: detect({}, first, now), warmup=1, reps=sizes.reps),
            {"snapshots": len(base.snapshots), "events": len(base.events)},
            f"{len(base.snapshots)} new snapshots, silent",
        ),
        Result(
            "detect.steady",
            len(after),
            measure(lambda: detect(previous, steady_obs, later), warmup=1, reps=sizes.reps),
            {"snapshots": len(steady.snapshots), "events": len(steady.events)},
            f"{len(steady.events)} events",
        ),
        Result(
            "detect.all_active",
            len(running),
            measure(lambda: detect(busy, busy_obs, later), warmup=1, reps=sizes.reps),
            {"snapshots": len(running), "events": 0},
            "every run active, none changed",
        ),
    ]
    return rows, base, steady


def store_benchmarks(
    base: Detection, steady: Detection, sizes: Sizes, workdir: Path
) -> list[Result]:
    """Store.record of a baseline and of a steady tick; Store.snapshots() from a cold open."""
    now = utcnow()
    events = steady.events
    notes = compose_messages(events, route(events, [], ["team"], now=now), max_runs_per_message=20)
    baseline_record = TickRecord(now, base.snapshots, (), (), baseline_done=True)
    tick_record = TickRecord(now, steady.snapshots, events, tuple(notes))

    record_base = Stopwatch()
    for rep in range(1 + sizes.slow_reps):
        with Store.open(workdir / f"record-{rep}.db") as store, record_base:
            store.record(baseline_record)

    golden = workdir / "record-0.db"  # the warm-up's baseline is the others' starting point
    copy = workdir / "record-tick.db"
    copy_state(golden, copy)
    with Store.open(copy) as store:
        store.snapshots()  # the daemon's cache is warm; the lost-update guard reads it
        record_tick = measure(lambda: store.record(tick_record), warmup=1, reps=sizes.reps)

    reload = Stopwatch()
    loaded: dict[str, Snapshot] = {}
    for _ in range(1 + sizes.slow_reps):
        with Store.open(golden) as store, reload:
            loaded = store.snapshots()
    return [
        Result(
            "store.record_baseline",
            len(base.snapshots),
            tuple(record_base.samples[1:]),
            {"snapshots": len(base.snapshots)},
            "one transaction",
        ),
        Result(
            "store.record_tick",
            len(events),
            record_tick,
            {
                "snapshots": len(steady.snapshots),
                "events": len(events),
                "deliveries": len(notes),
            },
            f"{len(steady.snapshots)} snapshots, {len(events)} events, {len(notes)} to deliver",
        ),
        Result(
            "store.snapshots_reload",
            len(loaded),
            tuple(reload.samples[1:]),
            {"snapshots": len(loaded)},
            "cold cache, rows to snapshots",
        ),
    ]

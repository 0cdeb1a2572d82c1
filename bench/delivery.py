"""Delivery throughput: the outbox drained through apprise to a local json:// webhook."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from bench.timing import Result, Stopwatch
from bench.world import Sizes
from watcher.clock import utcnow
from watcher.deliver import Deliverer, RetryPolicy
from watcher.deliver.sender import Sender
from watcher.events import Event, EventKind, Snapshot, Source, TickRecord
from watcher.models import Run
from watcher.render import compose_messages
from watcher.route import route
from watcher.simulator import WebhookSink
from watcher.state import Store

CONCURRENCY = 4
_MAX_ROUNDS = 20  # a drain that stops sending must end the benchmark, not hang it


async def delivery_benchmark(runs: list[Run], sizes: Sizes, workdir: Path) -> Result:
    """`sizes.deliveries` alerts over several channels (each drains in order), 4 sends at a time.

    `workdir` must exist.
    """
    sink = WebhookSink().start()
    channels = {f"hook{i}": [sink.url(f"hook/{i}")] for i in range(sizes.channels)}
    record = _alerts(runs[: sizes.deliveries // sizes.channels], list(channels))
    sender = Sender(concurrency=CONCURRENCY, timeout=10.0)
    watch = Stopwatch()
    try:
        with Store.open(workdir / "deliver.db") as store:
            deliverer = Deliverer(
                store,
                sender,
                channels,
                policy=RetryPolicy(1.0, 60.0, 3_600.0),
                clock=utcnow,
                rng=random.Random(0),
            )
            for _ in range(1 + sizes.slow_reps):
                store.record(record)
                with watch:
                    sent = await _drain(deliverer, len(record.notifications))
                if sent != len(record.notifications):
                    raise RuntimeError(f"sent {sent} of {len(record.notifications)} deliveries")
    finally:
        sender.close()
        sink.stop()
    samples = tuple(watch.samples[1:])
    count = len(record.notifications)
    per_second = round(count / sorted(samples)[len(samples) // 2], 1)
    return Result(
        "deliver.webhook",
        count,
        samples,
        {
            "deliveries_per_second": per_second,
            "concurrency": CONCURRENCY,
            "channels": len(channels),
            "received": len(sink.posts),
        },
        f"{per_second:g} deliveries/s, concurrency {CONCURRENCY}",
    )


def _alerts(runs: list[Run], channels: list[str]) -> TickRecord:
    """One SUCCEEDED alert per run, one message per run and channel."""
    now = utcnow()
    done = [run.model_copy(update={"status": "SUCCEEDED"}) for run in runs]
    snapshots = tuple(
        Snapshot(run.id, Source.DISCOVERED, "SUCCEEDED", now, now, now, run=run) for run in done
    )
    events = tuple(
        Event(
            run.id,
            EventKind.TRANSITION,
            "PROCESSING",
            "SUCCEEDED",
            now,
            alert=True,
            run=run,
            previous_since=now - timedelta(minutes=12),
        )
        for run in done
    )
    notes = compose_messages(events, route(events, [], channels, now=now), max_runs_per_message=1)
    return TickRecord(now, snapshots, events, tuple(notes))


async def _drain(deliverer: Deliverer, expected: int) -> int:
    sent = 0
    for _ in range(_MAX_ROUNDS):
        summary = await deliverer.drain(limit=expected)
        sent += summary.sent
        if summary.failed or summary.dead:
            raise RuntimeError(f"the webhook refused deliveries: {summary}")
        if sent >= expected or summary.sent == 0:
            break
    return sent

"""One broken channel neither starves nor delays another: per-channel batches, per-channel tasks.

The outbox and the deliverer run on a real SQLite state file and real loopback receivers; the
daemon test runs `dataframer-watcher run` as a subprocess against the simulator.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support import HANG, START, ManualClock, WebhookSink, free_port, wait_for
from watcher.api import DataframerClient
from watcher.config import load_settings
from watcher.deliver import Deliverer, RetryPolicy, Tally
from watcher.deliver.sender import Sender
from watcher.events import Event, EventKind, Notification, Snapshot, Source, TickRecord
from watcher.pipeline import Pipeline
from watcher.service.runtime import Runtime, tick_policy
from watcher.simulator import SimulatorServer
from watcher.state import Store


@pytest.fixture
def sender() -> Iterator[Sender]:
    s = Sender(concurrency=4, timeout=5)
    yield s
    s.close()


@pytest.fixture
def good() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "watcher.db") as s:
        yield s


def queue(store: Store, channels: list[str], at: datetime = START) -> list[int]:
    """Record one tick with one alert per entry of `channels`, in that order (ids ascending)."""
    snaps, events, notes = [], [], []
    for i, channel in enumerate(channels):
        run_id = f"run-{i}"
        snaps.append(Snapshot(run_id, Source.EXPLICIT, "FAILED", at, at, at))
        events.append(Event(run_id, EventKind.TRANSITION, "PROCESSING", "FAILED", at, alert=True))
        notes.append(Notification(channel, (i,), f"FAILED: {run_id}", f"Run: {run_id}"))
    return store.record(TickRecord(at, tuple(snaps), tuple(events), tuple(notes)))


def refused_url() -> str:
    """A json:// URL nothing listens on: every send is refused at once."""
    return f"json://127.0.0.1:{free_port()}/hook"


class TickingClock:
    """A clock that moves one second forward each time it is read."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def test_due_deliveries_are_the_oldest_of_each_channel(store: Store) -> None:
    """The limit applies per channel: a long backlog of one channel leaves room for the others."""
    ids = queue(store, ["bad"] * 5 + ["good", "other", "good"])

    due = store.due_deliveries(START, limit=2)

    assert [(d.id, d.channel) for d in due] == [
        (ids[0], "bad"),
        (ids[1], "bad"),
        (ids[5], "good"),
        (ids[6], "other"),
        (ids[7], "good"),
    ]
    assert [d.id for d in store.due_deliveries(START, limit=2, channels=["good"])] == ids[5::2]


async def test_a_broken_channel_backlog_does_not_starve_a_healthy_channel(
    store: Store, sender: Sender, good: WebhookSink
) -> None:
    """150 due deliveries of a refusing channel, queued before one of a healthy channel: the
    healthy one goes out in the very first drain. (Before, every batch of 100 was the broken
    channel's oldest, and the healthy channel was never drained.)"""
    queue(store, ["bad"] * 150 + ["good"])
    deliverer = Deliverer(
        store,
        sender,
        {"bad": [refused_url()], "good": [good.url()]},
        policy=RetryPolicy(600, 600, 86_400),
        clock=ManualClock(START + timedelta(seconds=1)),
        rng=random.Random(0),
    )

    summary = await deliverer.drain()

    assert good.messages == ["Run: run-150"]
    assert summary == Tally(sent=1, failed=1, dead=0, skipped=99)


async def test_drain_all_tries_each_due_delivery_once_and_every_channel_progresses(
    tmp_path: Path, store: Store, sender: Sender, good: WebhookSink
) -> None:
    """`once`: a refusing channel with a backlog, and a healthy one with more than a batch.
    Every healthy delivery goes out; no refused delivery is tried twice in one call, even when
    its retry falls due during the call. (Before, the first refused delivery filled every round
    with itself, retried each time, and the healthy channel got nothing.)"""
    ids = queue(store, ["bad"] * 150 + ["good"] * 150)
    clock = TickingClock(START)
    channels = {"bad": [refused_url()], "good": [good.url()]}
    deliverer = Deliverer(
        store,
        sender,
        channels,
        # Each retry falls due at the next read of the clock.
        policy=RetryPolicy(0.001, 0.001, 86_400),
        clock=clock,
        rng=random.Random(0),
    )
    (tmp_path / "watcher.yaml").write_text(f"state:\n  path: {store.path}\n")
    settings = load_settings(tmp_path / "watcher.yaml", environ={"DATAFRAMER_API_KEY": "k-1"})
    client = DataframerClient("http://127.0.0.1:9", "k-1")
    pipeline = Pipeline(tick_policy(settings), store, client, clock=clock)
    runtime = Runtime(settings, store, client, sender, deliverer, pipeline, clock)

    try:
        summary = await runtime.drain_all()
    finally:
        await client.aclose()

    assert sorted(good.messages) == sorted(f"Run: run-{i}" for i in range(150, 300))
    tried = store._db.execute(
        "SELECT id, attempts, status FROM deliveries WHERE channel = 'bad' AND attempts > 0"
    ).fetchall()
    assert tried, "the refusing channel was not tried at all"
    assert {row["attempts"] for row in tried} == {1}
    assert summary.sent == 150
    assert summary.failed == len(tried)
    assert all(row["id"] in ids[:150] for row in tried)


def test_a_hanging_channel_does_not_delay_another_channels_new_alerts(
    simulator: SimulatorServer, write_config, start_daemon
) -> None:
    """One channel takes each request and never answers (its send is abandoned only after
    delivery.timeout, a minute here). The other channel gets a second alert, written after
    the hung send started, while that send still hangs. (Before, a delivery pass waited for
    its slowest channel: the second alert waited out the whole timeout.)"""
    slow = WebhookSink(default=HANG, hang_limit=120).start()
    fast = WebhookSink().start()
    try:
        config = write_config(
            dataframer={"base_url": simulator.url},
            poll={"interval": "100ms"},
            track={"all": True},
            # rto/cto: apprise's own socket timeouts, raised so only ours can end the send.
            channels={"slow": slow.url(query="rto=120&cto=120"), "fast": fast.url()},
            delivery={"timeout": "60s", "retry_initial": "200ms", "retry_max": "1s"},
        )
        daemon = start_daemon(config)
        daemon.wait_event("started")
        first, second = simulator.sim.create_runs(2, status="PROCESSING")
        daemon.wait_event("run_first_seen", at_least=2)
        simulator.sim.force_status(first.id, "FAILED")
        wait_for(lambda: fast.run_ids() == [first.id], what="the first alert on the fast channel")
        wait_for(lambda: len(slow.requests) == 1, what="the first alert to reach the hung channel")

        simulator.sim.force_status(second.id, "SUCCEEDED")
        wait_for(
            lambda: fast.run_ids() == [first.id, second.id],
            what="the second alert on the fast channel while the other channel hangs",
        )
        # The hung send has not ended yet: no failure recorded, no second request.
        assert daemon.count("channel_failing") == 0
        assert len(slow.requests) == 1

        slow.heal()
        assert daemon.terminate() == 0
    finally:
        slow.stop()
        fast.stop()

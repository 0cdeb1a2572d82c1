"""A retry remembers WHICH URLs took a message, whatever a reload does to the channel's list."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.support import START, ManualClock, WebhookSink, free_port
from watcher.deliver import Deliverer, RetryPolicy, url_key
from watcher.deliver.sender import Sender
from watcher.events import Event, EventKind, Notification, Snapshot, Source, TickRecord
from watcher.state import Store


@pytest.fixture
def sender() -> Iterator[Sender]:
    s = Sender(concurrency=4, timeout=5)
    yield s
    s.close()


@pytest.fixture
def receivers() -> Iterator[tuple[WebhookSink, WebhookSink]]:
    with WebhookSink() as a, WebhookSink() as c:
        yield a, c


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "watcher.db") as s:
        yield s


def queue_one(store: Store, at: datetime = START) -> int:
    """One alert to channel "team"; its delivery id."""
    event = Event("run-1", EventKind.TRANSITION, "PROCESSING", "FAILED", at, alert=True)
    snap = Snapshot("run-1", Source.EXPLICIT, "FAILED", at, at, at)
    (delivery_id,) = store.record(
        TickRecord(at, (snap,), (event,), (Notification("team", (0,), "t", "Run: run-1"),))
    )
    return delivery_id


def deliverer_for(store: Store, sender: Sender, urls: list[str], clock: ManualClock) -> Deliverer:
    return Deliverer(
        store,
        sender,
        {"team": urls},
        policy=RetryPolicy(1, 1, 3600),
        clock=clock,
        rng=random.Random(0),
    )


def stored_done_urls(store: Store, delivery_id: int) -> list[object]:
    row = store._db.execute(
        "SELECT done_urls FROM deliveries WHERE id = ?", (delivery_id,)
    ).fetchone()
    done: list[object] = json.loads(row[0])
    return done


async def test_a_reload_that_reorders_a_channels_urls_neither_skips_nor_resends(
    store: Store, sender: Sender, receivers: tuple[WebhookSink, WebhookSink]
) -> None:
    """team: [A, BROKEN]; A takes the message, BROKEN refuses it. The operator replaces
    BROKEN with C and lists it first: [C, A]. The retry goes to C, and not again to A.
    (Before, the outbox remembered "URL 0 is done": the retry skipped C and re-sent to A.)"""
    a, c = receivers
    broken = f"json://127.0.0.1:{free_port()}/hook"
    delivery_id = queue_one(store)
    clock = ManualClock(START)
    deliverer = deliverer_for(store, sender, [a.url(), broken], clock)

    await deliverer.drain()
    assert (a.messages, c.messages) == (["Run: run-1"], [])
    # The outbox keeps a digest of each URL that took it: never the URL, which holds secrets.
    assert stored_done_urls(store, delivery_id) == [url_key(a.url())]

    deliverer.update_channels({"team": [c.url(), a.url()]})
    clock.advance(5)
    await deliverer.drain()

    assert (a.messages, c.messages) == (["Run: run-1"], ["Run: run-1"])
    status = store._db.execute("SELECT status FROM deliveries WHERE id = ?", (delivery_id,))
    assert status.fetchone()[0] == "sent"
    assert sorted(stored_done_urls(store, delivery_id)) == sorted(
        [url_key(a.url()), url_key(c.url())]
    )
    assert all(
        re.fullmatch("[0-9a-f]{16}", str(key)) for key in stored_done_urls(store, delivery_id)
    )


async def test_a_url_dropped_by_a_reload_stays_done_if_it_comes_back(
    store: Store, sender: Sender, receivers: tuple[WebhookSink, WebhookSink]
) -> None:
    """[A, BROKEN] -> [BROKEN] -> [A, C]: A, which took the message before, is not sent it
    again when a later reload brings it back."""
    a, c = receivers
    broken = f"json://127.0.0.1:{free_port()}/hook"
    queue_one(store)
    clock = ManualClock(START)
    deliverer = deliverer_for(store, sender, [a.url(), broken], clock)

    await deliverer.drain()
    deliverer.update_channels({"team": [broken]})
    clock.advance(5)
    await deliverer.drain()
    deliverer.update_channels({"team": [a.url(), c.url()]})
    clock.advance(5)
    await deliverer.drain()

    assert (a.messages, c.messages) == (["Run: run-1"], ["Run: run-1"])


async def test_done_urls_recorded_as_positions_by_an_older_version_retry_every_url(
    store: Store, sender: Sender, receivers: tuple[WebhookSink, WebhookSink]
) -> None:
    """A row written before URLs were recorded by digest holds positions ([0]): they match no
    URL, so every URL of the channel gets the retry (a possible duplicate, never a loss)."""
    a, c = receivers
    delivery_id = queue_one(store)
    store._db.execute(
        "UPDATE deliveries SET status = 'retrying', attempts = 1, done_urls = '[0]' WHERE id = ?",
        (delivery_id,),
    )
    (due,) = store.due_deliveries(START)
    assert due.delivered_to == frozenset()

    await deliverer_for(store, sender, [a.url(), c.url()], ManualClock(START)).drain()

    assert (a.messages, c.messages) == (["Run: run-1"], ["Run: run-1"])
    assert sorted(stored_done_urls(store, delivery_id)) == sorted(
        [url_key(a.url()), url_key(c.url())]
    )

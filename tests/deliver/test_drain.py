"""Deliverer.drain over an in-memory outbox and real loopback receivers."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from tests.support import START, Answer, FakeOutbox, ManualClock, WebhookSink, free_port
from watcher.deliver import Deliverer, Outcome, RetryPolicy, Tally, url_key
from watcher.deliver.sender import Sender

TIMEOUT = 0.5
HORIZON = 120.0


@pytest.fixture
def sender() -> Iterator[Sender]:
    s = Sender(concurrency=8, timeout=TIMEOUT)
    yield s
    s.close()


@pytest.fixture
def good() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def flaky() -> Iterator[WebhookSink]:
    """A sink each test plans failures for; its `requests` hold every try, refused or not."""
    with WebhookSink() as sink:
        yield sink


def make_deliverer(
    store: FakeOutbox,
    sender: Sender,
    channels: dict[str, list[str]],
    clock: ManualClock,
    observed: Counter[tuple[str, Outcome]] | None = None,
) -> Deliverer:
    def observe(channel: str, outcome: Outcome) -> None:
        if observed is not None:
            observed[channel, outcome] += 1

    return Deliverer(
        store,
        sender,
        channels,
        policy=RetryPolicy(1, 16, HORIZON),
        clock=clock,
        rng=random.Random(42),
        observe=observe,
    )


async def test_a_refusing_channel_retries_with_growing_waits_then_dies(
    sender: Sender, good: WebhookSink
) -> None:
    """Two channels, one refusing: the good one is delivered exactly once; the bad one is
    retried with growing waits, then dead-lettered once it has failed for the horizon; a
    delivery for a channel no longer configured is dead-lettered at once."""
    store, clock = FakeOutbox(), ManualClock()
    ok_id = store.add("team", "to team")
    bad_id = store.add("oncall", "to oncall")
    gone_id = store.add("old", "to a removed channel")
    channels = {"team": [good.url()], "oncall": [f"json://127.0.0.1:{free_port()}/x"]}
    observed: Counter[tuple[str, Outcome]] = Counter()
    deliverer = make_deliverer(store, sender, channels, clock, observed)

    first = await deliverer.drain()

    assert first == Tally(sent=1, failed=1, dead=1, skipped=0)
    assert good.messages == ["to team"]
    assert store.rows[gone_id].reason == "channel 'old' is no longer configured"

    while store.rows[bad_id].state == "pending":
        clock.now = store.rows[bad_id].next_attempt_at
        await deliverer.drain()

    attempts = store.attempts_of(bad_id)
    waits = [(a.next_attempt_at - a.at).total_seconds() for a in attempts if a.next_attempt_at]
    # Equal jitter on a doubling base: each wait is at least the previous until the cap (16 s).
    assert waits[:5] == sorted(waits[:5])
    assert all(0.5 <= w <= 16 for w in waits)
    last = attempts[-1]
    assert last.dead
    assert last.reason == "JSON: connection refused"
    assert (last.at - attempts[0].at).total_seconds() >= HORIZON
    assert (attempts[-2].at - attempts[0].at).total_seconds() < HORIZON
    assert store.rows[bad_id].state == "dead"
    assert good.messages == ["to team"]
    assert observed == {
        ("team", "sent"): 1,
        ("oncall", "failed"): len(attempts) - 1,
        ("oncall", "dead"): 1,
        ("old", "dead"): 1,
    }
    assert store.rows[ok_id].state == "sent"


async def test_a_channel_keeps_its_order_and_logs_failing_and_recovered_once(
    sender: Sender, flaky: WebhookSink
) -> None:
    """A failing delivery holds back the later ones of its channel for that drain; once it
    goes through, they follow in order. One warning when the channel starts failing, one info
    when it recovers, debug in between."""
    store, clock = FakeOutbox(), ManualClock()
    ids = [store.add("team", f"m{i}", START + timedelta(seconds=i)) for i in range(3)]
    clock.advance(10)
    flaky.plan(500, 502)
    deliverer = make_deliverer(store, sender, {"team": [flaky.url()]}, clock)

    with capture_logs() as logs:
        first = await deliverer.drain()
        clock.now = store.rows[ids[0]].next_attempt_at
        second = await deliverer.drain()
        clock.now = store.rows[ids[0]].next_attempt_at
        third = await deliverer.drain()

    assert first == second == Tally(sent=0, failed=1, dead=0, skipped=2)
    assert third == Tally(sent=3, failed=0, dead=0, skipped=0)
    assert [r.message for r in flaky.requests] == ["m0", "m0", "m0", "m1", "m2"]
    events = [(e["event"], e["log_level"]) for e in logs]
    assert events == [
        ("channel_failing", "warning"),
        ("channel_still_failing", "debug"),
        ("channel_recovered", "info"),
    ]
    failing, _, recovered = logs
    assert (failing["channel"], failing["reason"]) == (
        "team",
        "JSON: HTTP 500 Internal Server Error",
    )
    first_failure = store.attempts_of(ids[0])[0].at
    assert recovered["channel"] == "team"
    assert recovered["failed_for"] == pytest.approx(
        (clock.now - first_failure).total_seconds(), abs=1e-3
    )


async def test_one_channel_hanging_does_not_delay_another(
    sender: Sender, good: WebhookSink, flaky: WebhookSink
) -> None:
    """While one channel's send hangs until its timeout, the other channel's deliveries are
    sent and acked one by one."""
    store, clock = FakeOutbox(), ManualClock()
    slow_id = store.add("slow", "stuck")
    fast_ids = [store.add("fast", f"f{i}", START + timedelta(seconds=i)) for i in range(3)]
    clock.advance(5)
    flaky.plan(Answer(hang=True))
    channels = {"slow": [flaky.url()], "fast": [good.url()]}

    summary = await make_deliverer(store, sender, channels, clock).drain()

    assert summary == Tally(sent=3, failed=1, dead=0, skipped=0)
    assert [a.delivery_id for a in store.attempts] == [*fast_ids, slow_id]
    assert store.attempts[-1].reason == "timed out after 0.5s"
    assert good.messages == ["f0", "f1", "f2"]


async def test_a_channel_with_two_urls_retries_only_the_one_that_failed(
    sender: Sender, good: WebhookSink, flaky: WebhookSink
) -> None:
    """The outbox keeps which URLs took the message (by key); the retry skips them."""
    store, clock = FakeOutbox(), ManualClock()
    delivery_id = store.add("team", "both")
    flaky.plan(500)
    deliverer = make_deliverer(store, sender, {"team": [good.url(), flaky.url()]}, clock)

    await deliverer.drain()
    clock.now = store.rows[delivery_id].next_attempt_at
    await deliverer.drain()

    first, second = store.attempts_of(delivery_id)
    assert (first.ok, first.delivered_to, first.reason) == (
        False,
        frozenset({url_key(good.url())}),
        "url 1: JSON: HTTP 500 Internal Server Error",
    )
    assert (second.ok, second.delivered_to) == (True, {url_key(good.url()), url_key(flaky.url())})
    assert good.messages == ["both"]
    assert [r.message for r in flaky.requests] == ["both", "both"]


async def test_a_failed_ack_stops_new_sends_and_is_raised(
    sender: Sender, good: WebhookSink
) -> None:
    """Each send is acked as it returns; when the store cannot ack, no further send starts
    (it could not be acked either) and the error reaches the caller."""
    store, clock = FakeOutbox(), ManualClock()
    for i in range(3):
        store.add("team", f"m{i}", START + timedelta(seconds=i))
    clock.advance(5)
    store.fail_ack_after = 1

    with pytest.raises(OSError, match="disk I/O error"):
        await make_deliverer(store, sender, {"team": [good.url()]}, clock).drain()

    assert len(store.attempts) == 1
    assert good.messages == ["m0", "m1"]  # m1 went out; its lost ack is the one duplicate


async def test_a_reload_that_removes_a_channel_dead_letters_its_deliveries(
    sender: Sender, good: WebhookSink
) -> None:
    """update_channels takes effect on the next drain; a channel left without URLs counts as
    removed (its messages are not acked as sent to nobody)."""
    store, clock = FakeOutbox(), ManualClock()
    deliverer = make_deliverer(store, sender, {"team": [good.url()]}, clock)
    deliverer.update_channels({"other": [good.url()], "empty": []})
    removed = store.add("team", "late")
    emptied = store.add("empty", "to nobody")

    with capture_logs() as logs:
        summary = await deliverer.drain()

    assert summary == Tally(sent=0, failed=0, dead=2, skipped=0)
    assert store.rows[removed].reason == "channel 'team' is no longer configured"
    assert store.rows[emptied].reason == "channel 'empty' is no longer configured"
    assert [(e["event"], e["log_level"], e["delivery_id"]) for e in logs] == [
        ("delivery_dead", "warning", removed),
        ("delivery_dead", "warning", emptied),
    ]
    assert good.messages == []


async def test_secrets_stay_out_of_attempts_and_logs(sender: Sender) -> None:
    """A refusing URL with a password and a token: the recorded reason and every log line
    the drain writes are free of both."""
    store, clock = FakeOutbox(), ManualClock()
    store.add("team", "m")
    url = f"json://admin:Pa55w0rdXyz@127.0.0.1:{free_port()}/hook?-apikey=Tok3nTok3n"
    deliverer = make_deliverer(store, sender, {"team": [url]}, clock)

    with capture_logs() as logs:
        await deliverer.drain()

    texts = [str(a) for a in store.attempts] + [str(e) for e in logs]
    assert logs
    assert store.attempts
    assert not [t for t in texts if "Pa55w0rdXyz" in t or "Tok3nTok3n" in t]

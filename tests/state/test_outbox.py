"""The outbox (deliver and ack stages), pruning, and the CLI's status and history views."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import pending_deliveries
from watcher.errors import StateError
from watcher.events import Attempt, Event, EventKind, Notification, Snapshot, Source, TickRecord
from watcher.models import Run
from watcher.state import AttemptEntry, Store, TrackResult

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
DAY = 86_400.0


def at(minutes: float) -> datetime:
    """NOW plus some minutes."""
    return NOW + timedelta(minutes=minutes)


def snap(run_id: str, status: str | None, since: datetime = NOW, **kw: object) -> Snapshot:
    """An observed run."""
    run = Run.model_validate({"id": run_id, "status": status, "spec_name": f"spec-{run_id}", **kw})
    return Snapshot(run_id, Source.DISCOVERED, status, since, NOW, since, run=run)


def finish(
    store: Store, run_id: str, status: str, when: datetime, channels: tuple[str, ...] = ("team",)
) -> list[int]:
    """Record a tick where `run_id` moves from PROCESSING to `status`, alerting `channels`."""
    event = Event(run_id, EventKind.TRANSITION, "PROCESSING", status, when, alert=True)
    notes = tuple(Notification(c, (0,), f"{status}: {run_id}", f"Run {run_id}") for c in channels)
    return store.record(TickRecord(when, (snap(run_id, status, when),), (event,), notes))


def failed(
    delivery_id: int,
    when: datetime,
    retry_at: datetime | None,
    *,
    dead: bool = False,
    reason: str = "HTTP 503",
    done: frozenset[str] = frozenset(),
) -> Attempt:
    """A failed try."""
    return Attempt(delivery_id, when, False, reason, done, retry_at, dead=dead)


def sent(delivery_id: int, when: datetime) -> Attempt:
    """A successful try."""
    return Attempt(delivery_id, when, True, None, frozenset({"key-a", "key-b"}), None)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An open store, closed after the test."""
    with Store.open(tmp_path / "watcher.db") as s:
        yield s


# -- the outbox -----------------------------------------------------------------------------------


def test_retry_then_sent(store: Store) -> None:
    """A failed try waits until next_attempt_at; a success takes it out of the outbox for good."""
    (did,) = finish(store, "run-1", "FAILED", NOW)
    assert pending_deliveries(store) == 1
    store.record_attempt(failed(did, at(1), at(3), done=frozenset({"key-a"})))
    assert store.due_deliveries(at(2)) == []
    (again,) = store.due_deliveries(at(3))
    assert (again.attempts, again.first_attempt_at, again.delivered_to) == (
        1,
        at(1),
        frozenset({"key-a"}),
    )
    store.record_attempt(sent(did, at(3)))
    assert store.due_deliveries(at(1000)) == []
    assert pending_deliveries(store) == 0
    assert store.delivery_counts() == {"team": {"pending": 0, "retrying": 0, "sent": 1, "dead": 0}}
    (entry,) = [h for h in store.history() if h.kind == "delivery"]
    assert (entry.status, entry.attempts, entry.last_error) == ("sent", 2, None)
    assert entry.finished_at == at(3)
    assert entry.attempt_log == (
        AttemptEntry(at(1), False, "HTTP 503"),
        AttemptEntry(at(3), True, None),
    )


def test_dead_then_redelivered_with_a_fresh_horizon(store: Store) -> None:
    """Dead deliveries stay visible; redeliver() queues them again from zero attempts."""
    (team, oncall) = finish(store, "run-1", "FAILED", NOW, ("team", "oncall"))
    store.record_attempt(failed(team, at(1), None, dead=True, reason="gave up after 24h"))
    store.dead_letter(oncall, at(1), "channel oncall was removed from the config")
    assert pending_deliveries(store) == 0
    assert store.delivery_counts()["oncall"]["dead"] == 1
    history = {h.channel: h for h in store.history() if h.kind == "delivery"}
    assert history["oncall"].last_error == "channel oncall was removed from the config"
    assert history["team"].last_error == "gave up after 24h"
    assert history["oncall"].finished_at == history["team"].finished_at == at(1)
    assert store.redeliver(at(5), channels=["oncall"]) == 1
    assert store.redeliver(at(6), channels=["team", "oncall", "elsewhere"]) == 1
    assert store.redeliver(at(7), channels=["team", "oncall"]) == 0
    assert {h.finished_at for h in store.history() if h.kind == "delivery"} == {None}
    due = store.due_deliveries(at(6))
    assert [(d.channel, d.attempts, d.first_attempt_at) for d in due] == [
        ("team", 0, None),
        ("oncall", 0, None),
    ]


def test_late_reports_do_not_reopen_a_finished_delivery(store: Store) -> None:
    """A failure reported after success changes nothing; a success turns dead into sent."""
    (a, b) = finish(store, "run-1", "FAILED", NOW, ("team", "oncall"))
    store.record_attempt(sent(a, at(1)))
    store.record_attempt(failed(a, at(2), at(3)))
    store.dead_letter(a, at(2), "too late")
    store.dead_letter(b, at(2), "channel removed")
    store.record_attempt(sent(b, at(3)))  # it had been handed to apprise before the reload
    assert store.delivery_counts() == {
        "team": {"pending": 0, "retrying": 0, "sent": 1, "dead": 0},
        "oncall": {"pending": 0, "retrying": 0, "sent": 1, "dead": 0},
    }
    with pytest.raises(StateError, match="no delivery 999 in state file"):
        store.record_attempt(sent(999, at(4)))


_ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("fail"), st.integers(0, 120)),
        st.tuples(st.just("ok"), st.just(0)),
        st.tuples(st.just("die"), st.just(0)),
        st.tuples(st.just("dead_letter"), st.just(0)),
        st.tuples(st.just("redeliver"), st.just(0)),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(_ACTIONS)
def test_no_sequence_of_attempts_leaves_a_delivery_sent_and_due(
    actions: list[tuple[str, int]],
) -> None:
    """Whatever deliver reports, in any order: sent is final, due means pending or retrying."""
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "w.db") as store:
        (did,) = finish(store, "run-1", "FAILED", NOW)
        clock, was_sent = NOW, False
        for action, wait in actions:
            clock += timedelta(seconds=1)
            if action == "fail":
                store.record_attempt(failed(did, clock, clock + timedelta(seconds=wait)))
            elif action == "ok":
                store.record_attempt(sent(did, clock))
            elif action == "die":
                store.record_attempt(failed(did, clock, None, dead=True))
            elif action == "dead_letter":
                store.dead_letter(did, clock, "removed")
            else:
                store.redeliver(clock, channels=["team"])
            (entry,) = [h for h in store.history() if h.kind == "delivery"]
            due_ever = store.due_deliveries(clock + timedelta(days=365))
            assert entry.status == "sent" or not was_sent  # sent is final
            was_sent = entry.status == "sent"
            assert bool(due_ever) == (entry.status in ("pending", "retrying"))
            assert pending_deliveries(store) == len(due_ever)
            assert entry.attempts <= len(entry.attempt_log)  # redeliver resets the count only


# -- prune ----------------------------------------------------------------------------------------


def test_prune_forgets_old_finished_runs_but_never_pending_work(store: Store) -> None:
    """Old, finished, fully delivered runs become tombstones; anything still owed stays."""
    old = at(-3 * 24 * 60)
    (done,) = finish(store, "old-sent", "SUCCEEDED", old)
    store.record_attempt(sent(done, old))
    finish(store, "old-pending", "FAILED", old)  # its alert is still in the outbox
    (dead,) = finish(store, "old-dead", "CANCELED", old)
    store.dead_letter(dead, old, "gave up")
    finish(store, "recent", "FAILED", at(-60))
    gone = Snapshot("old-gone", Source.EXPLICIT, None, None, old, old, gone=True)
    kept = (snap("old-active", "PROCESSING", old), snap("old-baseline", "SUCCEEDED", old), gone)
    store.record(TickRecord(old, kept, (), ()))
    assert store.prune(NOW, retention_seconds=DAY) == 4
    assert store.prune(NOW, retention_seconds=DAY) == 0
    snaps = store.snapshots()
    assert sorted(snaps) == sorted(
        ["old-sent", "old-pending", "old-dead", "recent", "old-active", "old-baseline", "old-gone"]
    )  # tombstones keep discovery quiet: every id is still known
    pruned = {"old-sent", "old-dead", "old-baseline", "old-gone"}
    tombstones = store._db.execute("SELECT run_id FROM runs WHERE pruned_at IS NOT NULL")
    assert {row[0] for row in tombstones} == pruned
    assert snaps["old-sent"].status == "SUCCEEDED"  # detect still sees it as finished
    assert {h.run_ids[0] for h in store.history(limit=100)} == {"old-pending", "recent"}
    assert store.delivery_counts() == {"team": {"pending": 2, "retrying": 0, "sent": 0, "dead": 0}}
    assert {r.run_id for r in store.status_rows()} == {"old-pending", "recent", "old-active"}
    assert store.track(["old-sent"], NOW) == {"old-sent": "already tracked"}  # alerted before
    # Never alerted: announced once.
    assert store.track(["old-baseline"], NOW) == {"old-baseline": TrackResult.TO_ANNOUNCE}


def test_prune_keeps_a_shared_message_for_the_run_still_kept(store: Store) -> None:
    """One message covering two runs survives while either run still refers to it."""
    store.record(
        TickRecord(
            at(-5000),
            (snap("a", "FAILED", at(-5000)), snap("b", "FAILED", at(-10))),
            (
                Event("a", EventKind.TRANSITION, "PROCESSING", "FAILED", at(-5000), alert=True),
                Event("b", EventKind.TRANSITION, "PROCESSING", "FAILED", at(-10), alert=True),
            ),
            (Notification("team", (0, 1), "2 failed", "a, b"),),
        )
    )
    (delivery,) = store.due_deliveries(NOW)
    store.record_attempt(sent(delivery.id, NOW))
    assert store.prune(NOW, retention_seconds=DAY) == 1
    (entry,) = [h for h in store.history("b") if h.kind == "delivery"]
    assert entry.run_ids == ("b",)
    assert store.history("a") == []


# -- views ----------------------------------------------------------------------------------------


def test_since_of_a_finished_run_is_when_it_completed(store: Store) -> None:
    """A run first seen long after it finished: SINCE is the API's completed_at, not when the
    watcher first saw it; an active run, or a finished one without (or with a broken)
    completed_at, keeps the time the watcher saw its status."""
    completed = NOW - timedelta(hours=3)
    store.record(
        TickRecord(
            NOW,
            (
                snap("late", "SUCCEEDED", NOW, completed_at=completed.isoformat()),
                snap("naive", "FAILED", NOW, completed_at="2026-11-30T10:00:00"),
                snap("unknown", "CANCELED", NOW),
                snap("active", "PROCESSING", at(1), completed_at=completed.isoformat()),
            ),
            (),
            (),
        )
    )
    since = {row.run_id: row.since for row in store.status_rows()}
    assert since["late"] == completed
    assert since["naive"] == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert since["unknown"] == NOW
    assert since["active"] == at(1)


def test_status_rows_put_active_runs_first_then_newest_change(store: Store) -> None:
    """Awaiting and running runs on top, then finished ones, each newest first; muted hidden."""
    store.record(
        TickRecord(
            NOW,
            (
                snap(
                    "done-old",
                    "SUCCEEDED",
                    at(1),
                    samples_completed=10,
                    samples_failed=1,
                    total_cost=2,
                    created_by_email="ana@example.com",
                ),
                snap("done-new", "FAILED", at(9)),
                snap("run-old", "PENDING", at(2)),
                snap("run-new", "PROCESSING", at(8)),
                snap("odd", "PAUSED", at(3)),  # an unknown status is active, not finished
                Snapshot("gone", Source.DISCOVERED, "PROCESSING", at(7), NOW, at(7), gone=True),
                snap("hidden", "PROCESSING", at(10)),
            ),
            (),
            (),
        )
    )
    store.track(["awaiting"], NOW)
    store.untrack(["hidden"], NOW)
    rows = store.status_rows()
    assert [r.run_id for r in rows] == [
        "awaiting",
        "run-new",
        "odd",
        "run-old",
        "done-new",
        "gone",
        "done-old",
    ]
    first = rows[-1]
    assert (first.spec_name, first.status, first.since, first.last_polled) == (
        "spec-done-old",
        "SUCCEEDED",
        at(1),
        at(1),
    )
    assert (first.samples_completed, first.samples_failed, first.total_cost) == (10, 1, 2.0)
    assert isinstance(first.total_cost, float)
    assert first.created_by == "ana@example.com"
    assert rows[0].status is None
    assert rows[0].spec_name is None
    assert rows[0].source is Source.EXPLICIT


def test_history_merges_events_and_deliveries_newest_first(store: Store) -> None:
    """Newest first; a delivery sorts above the event that caused it; filters and limits apply."""
    store.record(
        TickRecord(
            NOW,
            (snap("r1", "PROCESSING"), snap("r2", "PROCESSING")),
            (
                Event("r1", EventKind.FIRST_SEEN, None, "PROCESSING", NOW, False),
                Event("r2", EventKind.FIRST_SEEN, None, "PROCESSING", NOW, False),
            ),
            (),
        )
    )
    (d1,) = finish(store, "r1", "FAILED", at(1))
    (d2,) = finish(store, "r2", "SUCCEEDED", at(2))
    store.record_attempt(failed(d2, at(3), at(4)))
    got = [(h.kind, h.run_ids, h.to_status or h.status) for h in store.history()]
    assert got == [
        ("delivery", ("r2",), "retrying"),
        ("event", ("r2",), "SUCCEEDED"),
        ("delivery", ("r1",), "pending"),
        ("event", ("r1",), "FAILED"),
        ("event", ("r2",), "PROCESSING"),
        ("event", ("r1",), "PROCESSING"),
    ]
    only_r1 = store.history("r1")
    assert [(h.kind, h.at) for h in only_r1] == [
        ("delivery", at(1)),
        ("event", at(1)),
        ("event", NOW),
    ]
    assert only_r1[0].id == d1
    assert (only_r1[1].from_status, only_r1[1].event_kind, only_r1[1].alert) == (
        "PROCESSING",
        "transition",
        True,
    )
    assert [h.kind for h in store.history(limit=2)] == ["delivery", "event"]
    assert store.history("nobody") == []

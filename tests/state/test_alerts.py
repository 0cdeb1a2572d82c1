"""The state file's held alerts, mutes and digest windows: written with a tick, read back,
released once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from watcher.events import (
    Event,
    EventKind,
    Held,
    HoldReason,
    Intent,
    Notification,
    NotifyType,
    Snapshot,
    Source,
    Suppressed,
    TickRecord,
    Window,
)
from watcher.hold import Mute, MuteScope
from watcher.models import Run
from watcher.state import Store
from watcher.state.alerts import Release, new_mute_id

NOW = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)


def _tick(store: Store, *run_ids: str, held_until: datetime, muted: str | None = None) -> None:
    runs = [Run.model_validate({"id": r, "status": "FAILED", "spec_name": "s"}) for r in run_ids]
    events = tuple(
        Event(run.id, EventKind.TRANSITION, "PROCESSING", "FAILED", NOW, True, run=run)
        for run in runs
    )
    snaps = tuple(Snapshot(r.id, Source.DISCOVERED, "FAILED", NOW, NOW, NOW, run=r) for r in runs)
    held = tuple(
        Held(Intent(i, "team", "short"), held_until, HoldReason.QUIET_HOURS)
        for i, r in enumerate(run_ids)
        if r != muted
    )
    suppressed = tuple(
        Suppressed(Intent(i, "team"), "m-aaaaaa") for i, r in enumerate(run_ids) if r == muted
    )
    windows = {"team": Window(NOW, NOW + timedelta(seconds=30), 2)}
    store.record(
        TickRecord(NOW, snaps, events, (), held=held, suppressed=suppressed, windows=windows)
    )


def test_held_alerts_keep_their_event_and_come_back_once_due(tmp_path: Path) -> None:
    """A held alert keeps what the run was (its event, with the run's data) and its route's
    template; it is due at its time, released into one delivery linked to its event, once."""
    with Store.open(tmp_path / "w.db") as store:
        until = NOW + timedelta(hours=8)
        _tick(store, "r-1", "r-2", "r-3", held_until=until, muted="r-3")
        assert store.held_due(until - timedelta(seconds=1)) == []
        due = store.held_due(until)
        assert [(a.event.run_id, a.channel, a.template, a.why) for a in due] == [
            ("r-1", "team", "short", "quiet_hours"),
            ("r-2", "team", "short", "quiet_hours"),
        ]
        assert due[0].event.run is not None
        assert due[0].event.run.spec_name == "s"
        assert store.digest_windows() == {"team": Window(NOW, NOW + timedelta(seconds=30), 2)}
        note = Notification("team", (0, 1), "Digest", "Run: r-1\nRun: r-2", NotifyType.FAILURE)
        (delivery_id,) = store.release(until, Release([(note, [a.id for a in due])], []))
        assert store.held_due(until + timedelta(days=1)) == []
        (delivery,) = store.due_deliveries(until)
        assert (delivery.id, delivery.run_ids, delivery.notify_type) == (
            delivery_id,
            ("r-1", "r-2"),
            NotifyType.FAILURE,
        )
        kinds = [(e.kind, e.status) for e in store.history("r-3")]
        assert ("alert", "suppressed") in kinds


def test_mutes_round_trip_end_early_and_expire(tmp_path: Path) -> None:
    """A mute is in force until its time or until it is ended; both stay listed with --all."""
    with Store.open(tmp_path / "w.db") as store:
        first = Mute(
            new_mute_id(),
            MuteScope.SPEC,
            "invoice-*",
            NOW + timedelta(hours=1),
            reason="noisy",
            created_at=NOW,
        )
        second = Mute(
            new_mute_id(),
            MuteScope.CHANNEL,
            "team",
            NOW + timedelta(minutes=5),
            created_at=NOW + timedelta(seconds=1),
        )
        store.add_mute(first)
        store.add_mute(second)
        assert [m.id for m in store.mutes(NOW)] == [second.id, first.id]
        ended = store.end_mute(first.id, NOW + timedelta(minutes=1))
        assert ended is not None
        assert ended.pattern == "invoice-*"
        assert [m.id for m in store.mutes(NOW + timedelta(minutes=2))] == [second.id]
        assert store.mutes(NOW + timedelta(minutes=10)) == []
        every = store.mutes(NOW + timedelta(minutes=10), active_only=False)
        assert {m.id for m in every} == {first.id, second.id}
        assert store.end_mute("m-nosuch", NOW) is None

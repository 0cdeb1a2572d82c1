"""The record stage and tracking: round trips, atomic ticks, track/untrack, two processes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.errors import StateError
from watcher.events import Event, EventKind, Notification, Snapshot, Source, TickRecord
from watcher.models import Run
from watcher.state import Store, TrackResult
from watcher.state.timestamps import ts as _ts


def unseen(snap: Snapshot) -> bool:
    """Tracked by id and never observed: its first observation may be an alert."""
    return snap.status is None and not snap.gone and not snap.muted


NOW = datetime(2026, 11, 29, 8, 45, 39, 123456, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """NOW plus some minutes."""
    return NOW + timedelta(minutes=minutes)


def snap(
    run_id: str,
    status: str | None,
    *,
    source: Source = Source.DISCOVERED,
    since: datetime = NOW,
    **fields: object,
) -> Snapshot:
    """A snapshot of an observed run carrying its Run."""
    run = Run.model_validate({"id": run_id, "status": status, "spec_name": "invoices", **fields})
    return Snapshot(run_id, source, status, since, NOW, since, run=run)


def tick(
    *snaps: Snapshot,
    events: tuple[Event, ...] = (),
    notes: tuple[Notification, ...] = (),
    when: datetime = NOW,
    baseline_done: bool = False,
) -> TickRecord:
    """A TickRecord with defaults."""
    return TickRecord(when, snaps, events, notes, baseline_done=baseline_done)


def alert(run_id: str, status: str, when: datetime = NOW) -> Event:
    """A terminal transition that people are told about."""
    return Event(run_id, EventKind.TRANSITION, "PROCESSING", status, when, alert=True)


def dump(path: Path) -> list[str]:
    """Every row of the file as SQL text, read through a separate connection."""
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the state file lives."""
    return tmp_path / "watcher.db"


@pytest.fixture
def store(path: Path) -> Iterator[Store]:
    """An open store, closed after the test."""
    with Store.open(path) as s:
        yield s


# -- record ---------------------------------------------------------------------------------------


def test_snapshots_round_trip_with_the_run_json_and_its_extra_fields(path: Path) -> None:
    """What record() writes is what snapshots() returns, from the cache and from the file."""
    full = snap(
        "run-1",
        "PROCESSING",
        source=Source.EXPLICIT,
        since=at(5),
        samples_completed=100,
        total_cost=1.5,
        created_at="2026-11-29T08:00:00Z",
        generated_files=[{"id": "f1", "path": "out.csv", "size_bytes": 12, "checksum": "abc"}],
        priority="high",
    )
    awaiting = Snapshot("run-2", Source.EXPLICIT, None)
    gone = Snapshot("run-3", Source.DISCOVERED, "PENDING", at(1), NOW, at(2), gone=True, muted=True)
    with Store.open(path) as store:
        store.record(tick(full, awaiting, gone))
        cached = store.snapshots()
    with Store.open(path) as store:
        reread = store.snapshots()
    assert cached == reread == {"run-1": full, "run-2": awaiting, "run-3": gone}
    run = reread["run-1"].run
    assert run is not None
    assert run.model_extra == {"priority": "high"}
    assert run.generated_files is not None
    assert run.generated_files[0].model_extra == {"checksum": "abc"}


def test_stuck_state_round_trips_and_survives_a_reopen(path: Path) -> None:
    """progress_at and the reported stall (open, or ended) are written and read back as is."""
    stalled = replace(
        snap("run-1", "PENDING"), progress_at=at(1), stuck_since=at(1), stuck_notified_at=at(31)
    )
    ended = replace(
        snap("run-2", "PROCESSING", samples_completed=4),
        progress_at=at(50),
        stuck_since=at(2),
        stuck_notified_at=at(40),
        stuck_ended_at=at(45),
    )
    with Store.open(path) as store:
        store.record(tick(stalled, ended))
        cached = store.snapshots()
    with Store.open(path) as store:
        reread = store.snapshots()
    assert cached == reread == {"run-1": stalled, "run-2": ended}
    assert reread["run-1"].stuck
    assert not reread["run-2"].stuck


def test_a_stuck_alert_does_not_count_as_the_runs_final_alert(store: Store) -> None:
    """`track` re-announces a finished run nobody was told of; a STUCK alert told nobody that."""
    pending = snap("run-1", "PENDING")
    stuck = Event("run-1", EventKind.STUCK, "PENDING", "PENDING", NOW, alert=True, stuck_for=60.0)
    store.record(tick(pending, events=(stuck,)))
    row = store._db.execute("SELECT alerted_at FROM runs WHERE run_id = 'run-1'").fetchone()
    assert row[0] is None


def test_finished_runs_keep_their_data_in_the_file_not_in_memory(path: Path) -> None:
    """A finished run's snapshot carries no run data in the cache; the file still holds it."""
    done = snap(
        "run-1", "SUCCEEDED", source=Source.EXPLICIT, since=at(5), spec_name="s", priority="high"
    )
    with Store.open(path) as store:
        store.record(tick(done))
        assert store.snapshots()["run-1"].run is None
        assert store.snapshots()["run-1"].status == "SUCCEEDED"
        assert store.status_rows()[0].spec_name == "s"
    with Store.open(path) as store:
        assert store.snapshots()["run-1"].run is None
        assert store.status_rows()[0].spec_name == "s"


def test_times_are_stored_in_one_sortable_utc_format(store: Store, path: Path) -> None:
    """Any aware datetime is written as UTC with microseconds; it reads back equal."""
    paris = timezone(timedelta(hours=1))
    since = datetime(2026, 11, 29, 10, 0, tzinfo=paris)
    store.record(tick(snap("run-1", "PENDING", since=since)))
    conn = sqlite3.connect(path)
    try:
        stored = conn.execute("SELECT status_since FROM runs").fetchone()[0]
    finally:
        conn.close()
    assert stored == "2026-11-29T09:00:00.000000+00:00"
    assert store.snapshots()["run-1"].status_since == since


_AWARE = st.datetimes(datetime(1970, 1, 1), datetime(2200, 1, 1), timezones=st.timezones())


@given(_AWARE, _AWARE)
def test_stored_time_text_orders_like_the_instants(a: datetime, b: datetime) -> None:
    """SQL compares the TEXT, so text order must be the order of the instants, whatever the zone."""
    # Compared in UTC: Python orders two times of one zone by wall clock, ignoring DST folds.
    assert (_ts(a) < _ts(b)) == (a.astimezone(UTC) < b.astimezone(UTC))
    assert datetime.fromisoformat(_ts(a)) == a.astimezone(UTC)


def test_record_writes_events_and_linked_deliveries(store: Store) -> None:
    """Each notification becomes one pending delivery, due at once, linked to its events' runs."""
    ids = store.record(
        tick(
            snap("run-1", "FAILED"),
            snap("run-2", "CANCELED"),
            snap("run-3", "PROCESSING"),
            events=(
                alert("run-1", "FAILED"),
                alert("run-2", "CANCELED"),
                Event("run-3", EventKind.FIRST_SEEN, None, "PROCESSING", NOW, alert=False),
            ),
            notes=(
                Notification("team", (0, 1), "2 runs ended", "run-1, run-2"),
                Notification("oncall", (1,), "CANCELED", "run-2"),
            ),
        )
    )
    assert len(ids) == 2
    due = store.due_deliveries(NOW)
    assert [(d.id, d.channel, d.run_ids, d.created_at, d.attempts) for d in due] == [
        (ids[0], "team", ("run-1", "run-2"), NOW, 0),
        (ids[1], "oncall", ("run-2",), NOW, 0),
    ]
    assert store.due_deliveries(NOW - timedelta(microseconds=1)) == []
    assert store.due_deliveries(NOW, channels={"oncall"})[0].id == ids[1]
    assert store.due_deliveries(NOW, channels=()) == []
    assert store.due_deliveries(NOW, limit=1)[0].id == ids[0]
    assert store.get_meta("last_tick_at") == _ts(NOW)
    assert not store.baseline_done


def test_baseline_of_10000_snapshots_in_one_record(store: Store) -> None:
    """A first discovery pass over 10,000 runs is one transaction (executemany)."""
    snaps = tuple(snap(f"run-{i:05}", "SUCCEEDED", since=at(-i)) for i in range(10_000))
    events = tuple(
        Event(s.run_id, EventKind.FIRST_SEEN, None, "SUCCEEDED", NOW, alert=False) for s in snaps
    )
    assert store.record(tick(*snaps, events=events, baseline_done=True)) == []
    assert store.baseline_done
    assert len(store.snapshots()) == 10_000
    assert len(store.history(limit=20_000)) == 10_000
    assert len(store.status_rows()) == 10_000


def _fail_midway_by_index(store: Store) -> TickRecord:
    return tick(
        snap("run-9", "FAILED"),
        events=(alert("run-9", "FAILED"),),
        notes=(
            Notification("team", (0,), "ok", "ok"),
            Notification("team", (1,), "bad", "index out of range"),
        ),
    )


def _fail_midway_negative_index(store: Store) -> TickRecord:
    return tick(
        snap("run-9", "FAILED"),
        events=(alert("run-9", "FAILED"),),
        notes=(Notification("team", (-1,), "bad", "negative index"),),
    )


def _fail_midway_by_trigger(store: Store) -> TickRecord:
    conn = sqlite3.connect(store.path)
    conn.execute(
        "CREATE TRIGGER no_oncall BEFORE INSERT ON deliveries WHEN NEW.channel = 'oncall'"
        " BEGIN SELECT RAISE(ABORT, 'disk on fire'); END"
    )
    conn.commit()
    conn.close()
    return tick(
        snap("run-9", "FAILED"),
        events=(alert("run-9", "FAILED"),),
        notes=(
            Notification("team", (0,), "ok", "ok"),
            Notification("oncall", (0,), "boom", "trigger"),
        ),
        baseline_done=True,
    )


def _fail_by_naive_time(store: Store) -> TickRecord:
    return tick(snap("run-9", "FAILED"), events=(alert("run-9", "FAILED", datetime(2026, 1, 1)),))


def _fail_by_event_for_unknown_run(store: Store) -> TickRecord:
    return tick(snap("run-9", "FAILED"), events=(alert("run-nobody-knows", "FAILED"),))


def _fail_on_a_full_disk(store: Store) -> TickRecord:
    # SQLite's own page limit stands in for a full disk: the write fails the same way.
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages + 2}")
    return tick(*(snap(f"run-{i}", "PENDING", padding="x" * 2000) for i in range(50)))


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (_fail_midway_by_index, "names event 1 of 1"),
        (_fail_midway_negative_index, "names event -1 of 1"),
        (_fail_midway_by_trigger, "disk on fire"),
        (_fail_by_naive_time, "naive datetime"),
        (_fail_by_event_for_unknown_run, "FOREIGN KEY constraint failed"),
        (_fail_on_a_full_disk, "database or disk is full"),
    ],
)
def test_record_is_all_or_nothing(
    store: Store, path: Path, make: Callable[[Store], TickRecord], reason: str
) -> None:
    """A tick failing midway leaves no snapshot, event, delivery or meta behind."""
    store.record(tick(snap("run-1", "PROCESSING")))
    cached = store.snapshots()
    bad = make(store)
    before = dump(path)
    with pytest.raises(StateError) as caught:
        store.record(bad)
    assert str(caught.value).startswith("cannot ")
    assert str(path) in str(caught.value)
    assert reason in str(caught.value)
    assert dump(path) == before
    assert store.snapshots() == cached
    store._db.execute("PRAGMA max_page_count = 1073741823")
    store.record(tick(snap("run-1", "SUCCEEDED")))  # the connection is usable afterwards
    assert store.snapshots()["run-1"].status == "SUCCEEDED"


def test_record_waits_for_a_short_write_lock_held_elsewhere(store: Store, path: Path) -> None:
    """busy_timeout: a writer holding the lock briefly delays record() instead of failing it."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
    release = threading.Timer(0.3, lambda: other.execute("COMMIT"))
    release.start()
    try:
        store.record(tick(snap("run-1", "PENDING")))
    finally:
        release.join()
        other.close()
    assert store.get_meta("x") == "y"
    assert "run-1" in store.snapshots()


def test_meta_values_round_trip(store: Store) -> None:
    """The meta table is a small key-value store for the daemon's own flags."""
    assert store.get_meta("k") is None
    assert store.get_meta("discovery_baseline") is None
    store.record(TickRecord(at=NOW, snapshots=(), events=(), notifications=(), baseline_done=True))
    assert store.get_meta("discovery_baseline") == _ts(NOW)
    assert store.baseline_done


def test_check_writable_passes_on_a_writable_file_and_fails_on_one_that_refuses(
    path: Path,
) -> None:
    """check_writable takes a real write: fine on a normal file; on a file that refuses
    writes under an open store (a read-only remount, a full disk), a StateError naming it."""
    with Store.open(path) as store:
        store.check_writable()
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, isolation_level=None)
    with (
        Store(path, conn, readonly=False) as refusing,
        pytest.raises(StateError, match=f"cannot write state file {path}"),
    ):
        refusing.check_writable()


def test_a_closed_store_says_so(path: Path) -> None:
    """Using a store after close() is a StateError, not a sqlite3 ProgrammingError."""
    store = Store.open(path)
    store.close()
    with pytest.raises(StateError, match="is closed"):
        store.snapshots()


# -- track and untrack ----------------------------------------------------------------------------


def _seed(store: Store) -> None:
    """One run in every situation track and untrack distinguish."""
    store.record(
        tick(
            snap("baseline-done", "SUCCEEDED"),
            snap("disc-active", "PROCESSING"),
            snap("disc-alerted", "FAILED"),
            snap("expl-active", "PENDING", source=Source.EXPLICIT),
            snap("muted-active", "PROCESSING"),
            snap("muted-done", "CANCELED"),
            snap("muted-alerted", "FAILED"),
            snap("gone-muted", "PENDING"),
            events=(alert("disc-alerted", "FAILED"), alert("muted-alerted", "FAILED")),
        )
    )
    store.untrack(["muted-active", "muted-done", "muted-alerted", "gone-muted"], NOW)
    s = store.snapshots()["gone-muted"]
    store.record(tick(replace(s, gone=True)))


def test_track_reports_every_case(store: Store) -> None:
    """Each TrackResult (added, already tracked, tracked again, to be announced), and what
    each does to the row."""
    _seed(store)
    result = store.track(
        [
            "new",
            "expl-active",
            "disc-active",
            "disc-alerted",
            "baseline-done",
            "muted-active",
            "muted-done",
            "muted-alerted",
            "gone-muted",
            "new",
        ],
        at(1),
    )
    assert result == {
        "new": "added",
        "expl-active": "already tracked",
        "disc-active": "already tracked",
        "disc-alerted": "already tracked",
        # Finished during the silent baseline: announced once.
        "baseline-done": TrackResult.TO_ANNOUNCE,
        "muted-active": TrackResult.AGAIN,
        # Finished while untracked, never told: announced once.
        "muted-done": TrackResult.TO_ANNOUNCE,
        "muted-alerted": TrackResult.AGAIN,  # already told: do not repeat
        "gone-muted": TrackResult.AGAIN,
    }
    snaps = store.snapshots()
    assert snaps["new"] == Snapshot("new", Source.EXPLICIT, None)
    assert unseen(snaps["new"])
    for run_id in result:
        assert snaps[run_id].source is Source.EXPLICIT
        assert not snaps[run_id].muted
    assert snaps["baseline-done"].status is None
    assert snaps["baseline-done"].run is not None  # the detail stays; only the status is forgotten
    assert unseen(snaps["muted-done"])
    assert snaps["muted-alerted"].status == "FAILED"
    assert snaps["disc-active"].status == "PROCESSING"
    assert snaps["gone-muted"].gone
    assert store.track(["baseline-done", "muted-done"], at(2)) == {
        "baseline-done": "already tracked",
        "muted-done": "already tracked",
    }


def test_untrack_mutes_and_keeps_queued_alerts(store: Store) -> None:
    """untracked rows stay (muted) so discovery keeps quiet; their pending alert still goes."""
    store.record(
        tick(
            snap("run-1", "FAILED"),
            snap("run-2", "PROCESSING"),
            events=(alert("run-1", "FAILED"),),
            notes=(Notification("team", (0,), "FAILED", "run-1"),),
        )
    )
    assert store.untrack(["run-1", "run-2", "run-x", "run-1"], at(1)) == {
        "run-1": "untracked",
        "run-2": "untracked",
        "run-x": "not tracked",
    }
    assert store.untrack(["run-2"], at(2)) == {"run-2": "not tracked"}
    snaps = store.snapshots()
    assert snaps["run-1"].muted
    assert snaps["run-2"].muted
    assert "run-x" not in snaps
    assert [d.run_ids for d in store.due_deliveries(at(1))] == [("run-1",)]
    assert [r.run_id for r in store.status_rows()] == []


# -- two processes on one file --------------------------------------------------------------------


def test_cli_track_reaches_the_daemons_cached_snapshots(path: Path) -> None:
    """The daemon re-reads only when another connection wrote (PRAGMA data_version)."""
    with Store.open(path) as daemon, Store.open(path) as cli:
        daemon.record(tick(snap("run-1", "PROCESSING")))
        first = daemon.snapshots()
        assert daemon.snapshots()["run-1"] is first["run-1"]  # nothing changed: no re-read
        daemon.record(tick(snap("run-1", "SUCCEEDED")))
        assert daemon.snapshots()["run-1"].status == "SUCCEEDED"  # own write, kept current
        assert cli.track(["run-2"], NOW) == {"run-2": "added"}
        seen = daemon.snapshots()
        assert unseen(seen["run-2"])
        assert cli.untrack(["run-1"], NOW) == {"run-1": "untracked"}
        assert daemon.snapshots()["run-1"].muted


def test_an_untrack_during_a_tick_is_not_overwritten_by_it(path: Path) -> None:
    """The daemon's tick was computed before the CLI's untrack: the untrack wins."""
    with Store.open(path) as daemon, Store.open(path) as cli:
        daemon.record(tick(snap("run-1", "PENDING"), snap("run-2", "PENDING")))
        before = daemon.snapshots()
        cli.untrack(["run-1"], at(1))  # lands while the daemon is fetching
        daemon.record(
            tick(
                replace(before["run-1"], status="PROCESSING", status_since=at(2)),
                replace(before["run-2"], status="PROCESSING", status_since=at(2)),
                when=at(2),
            )
        )
        after = daemon.snapshots()
        assert after["run-1"].muted
        assert after["run-1"].status == "PENDING"  # the next tick observes it again
        assert after["run-2"].status == "PROCESSING"


def test_a_track_on_the_daemons_own_store_during_a_tick_is_kept(store: Store) -> None:
    """A config reload re-arms a run while a tick is in flight: the tick does not undo it."""
    store.record(tick(snap("run-1", "SUCCEEDED"), snap("run-2", "PENDING")))  # a silent baseline
    before = store.snapshots()
    assert store.track(["run-1"], at(1)) == {"run-1": TrackResult.TO_ANNOUNCE}  # SIGHUP, mid-tick
    store.record(tick(*before.values(), when=at(2)))
    assert unseen(store.snapshots()["run-1"])


def test_a_track_racing_first_discovery_of_the_same_run_keeps_one_announcement(path: Path) -> None:
    """CLI tracks a run the daemon is discovering in the same tick: one row, explicit, observed."""
    with Store.open(path) as daemon, Store.open(path) as cli:
        daemon.snapshots()
        cli.track(["run-new"], NOW)
        daemon.record(
            tick(
                snap("run-new", "FAILED"),
                events=(alert("run-new", "FAILED"),),
                notes=(Notification("team", (0,), "FAILED", "run-new"),),
            )
        )
        row = daemon.snapshots()["run-new"]
        assert (row.source, row.status) == (Source.EXPLICIT, "FAILED")
        assert not unseen(row)  # so the next tick does not announce it again
        assert cli.track(["run-new"], at(1)) == {"run-new": "already tracked"}

"""Progress history in a real state file: points when samples move, bounded, pruned with the
run; paces of finished runs per spec; the migration that adds them."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from watcher.eta import Point, SpecPace
from watcher.events import Snapshot, Source, TickRecord
from watcher.models import Run
from watcher.state import Store
from watcher.state.progress import MAX_POINTS, first_points, points, spec_paces
from watcher.state.schema import CURRENT_VERSION, MIGRATIONS, migrate

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def observed(
    run_id: str, at: datetime, samples: int, status: str = "PROCESSING", *, moved: bool = True
) -> Snapshot:
    """A snapshot as detect leaves it: progress_at is this tick when the run moved."""
    run = Run(id=run_id, status=status, spec_id="spec-1", samples_completed=samples)
    return Snapshot(
        run_id=run_id,
        source=Source.EXPLICIT,
        status=status,
        status_since=at,
        first_seen=T0,
        last_polled=at,
        run=run,
        progress_at=at if moved else T0,
    )


def tick(store: Store, at: datetime, *snaps: Snapshot) -> None:
    store.record(TickRecord(at=at, snapshots=snaps, events=(), notifications=()))


def test_a_point_per_move_and_none_when_samples_stand_still(tmp_path: Path) -> None:
    """Samples 0, 5, 5 (a status change only), 9: three points, oldest first."""
    with Store.open(tmp_path / "w.db") as store:
        times = [T0 + timedelta(minutes=i) for i in range(4)]
        tick(store, times[0], observed("A", times[0], 0))
        tick(store, times[1], observed("A", times[1], 5))
        tick(store, times[2], observed("A", times[2], 5))
        tick(store, times[3], observed("A", times[3], 9))
        with store._reading() as conn:
            assert points(conn, "A") == [
                Point(times[0], 0),
                Point(times[1], 5),
                Point(times[3], 9),
            ]
            assert first_points(conn, ["A", "B"]) == {"A": Point(times[0], 0)}


def test_a_long_run_keeps_a_bounded_curve_with_its_ends(tmp_path: Path) -> None:
    """Many more moves than MAX_POINTS: never more than MAX_POINTS points, the first and the
    latest kept."""
    with Store.open(tmp_path / "w.db") as store:
        last = T0
        for i in range(MAX_POINTS * 3):
            last = T0 + timedelta(seconds=30 * i)
            tick(store, last, observed("A", last, i))
        with store._reading() as conn:
            curve = points(conn, "A")
    assert len(curve) <= MAX_POINTS
    assert curve[0] == Point(T0, 0)
    assert curve[-1] == Point(last, MAX_POINTS * 3 - 1)
    assert [p.at for p in curve] == sorted(p.at for p in curve)


def test_a_success_keeps_its_pace_and_pruning_drops_only_the_points(tmp_path: Path) -> None:
    """A run from 0 to 100 samples in 2 minutes then SUCCEEDED: pace 50/min under its spec;
    pruned after the retention, its curve goes, its pace stays for later ETAs."""
    with Store.open(tmp_path / "w.db") as store:
        tick(store, T0, observed("A", T0, 0))
        done = T0 + timedelta(minutes=2)
        tick(store, done, observed("A", done, 100, "SUCCEEDED"))
        with store._reading() as conn:
            assert spec_paces(conn) == {"spec-1": SpecPace(median=50.0, runs=1)}
            assert spec_paces(conn, exclude=["A"]) == {}
        assert store.prune(done + timedelta(days=40), 30 * 86_400) == 1
        with store._reading() as conn:
            assert points(conn, "A") == []
            assert spec_paces(conn) == {"spec-1": SpecPace(median=50.0, runs=1)}


def test_a_run_seen_only_finished_takes_its_pace_from_the_api_times(tmp_path: Path) -> None:
    """It ran between two polls (or before a discovery baseline): created_at to completed_at
    is all there is, and no curve is kept for it."""
    run = Run(
        id="B",
        status="SUCCEEDED",
        spec_name="only-a-name",
        samples_completed=30,
        created_at=T0,
        completed_at=T0 + timedelta(minutes=3),
    )
    snap = Snapshot(
        run_id="B",
        source=Source.EXPLICIT,
        status="SUCCEEDED",
        run=run,
        progress_at=T0,
        first_seen=T0,
    )
    with Store.open(tmp_path / "w.db") as store:
        tick(store, T0, snap)
        with store._reading() as conn:
            assert spec_paces(conn) == {"only-a-name": SpecPace(median=10.0, runs=1)}
            assert points(conn, "B") == []  # no curve for a run never seen running


def test_the_migration_adds_the_tables_to_an_older_file(tmp_path: Path) -> None:
    """A file at the version before this feature's gains both tables, and nothing is lost."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    before = MIGRATIONS.index(next(m for m in MIGRATIONS if "progress_points" in " ".join(m)))
    assert migrate(conn, target=before) == before
    conn.execute("INSERT INTO runs (run_id, source) VALUES ('X', 'explicit')")
    conn.close()
    with Store.open(path) as store:
        assert "X" in store.snapshots()
        version = store._db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master")}
    assert version == CURRENT_VERSION
    assert {"progress_points", "run_paces"} <= tables

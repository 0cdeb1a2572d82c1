"""Progress history: samples completed over time per run, and the pace of finished runs.

`record_progress` runs inside the record stage's transaction (one call from `write_tick`): a
point for each job whose samples moved this tick (of any kind: an anonymization run's documents
too), and, when a run of a kind that reports progress succeeds, its pace (samples per minute)
under its spec (`watcher.eta.spec_key`: None for other kinds). A run keeps at most `MAX_POINTS`
points: past that every other older point goes (the first and the latest stay), so a long run's
curve keeps its shape. Its points go when the run is pruned; paces outlive pruning (the last
`PACES_PER_SPEC` per spec), since they are the history that ETAs and the `slow` flag compare
against.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable
from contextlib import AbstractContextManager
from pathlib import Path

from watcher.eta import Point, SpecPace, pace, spec_key, spec_pace
from watcher.events import EventKind, Snapshot, TickRecord
from watcher.models import RunStatus, is_terminal
from watcher.state.timestamps import dt, ts

__all__ = [
    "MAX_POINTS",
    "PACES_PER_SPEC",
    "ProgressBook",
    "first_points",
    "forget_points",
    "open_reader",
    "points",
    "record_progress",
    "slow_alerted",
    "spec_paces",
]

MAX_POINTS = 240
PACES_PER_SPEC = 50

_LAST = "SELECT samples FROM progress_points WHERE run_id = ? ORDER BY at DESC LIMIT 1"


def record_progress(conn: sqlite3.Connection, tick: TickRecord) -> None:
    """Write the tick's progress points and the pace of each run that succeeded in it."""
    at = ts(tick.at)
    for snap in tick.snapshots:
        # progress_at == tick.at: first seen, or its status or samples moved in this tick.
        if snap.run is None or snap.progress_at != tick.at or snap.gone:
            continue
        samples = snap.run.samples_completed
        if samples is None:
            continue
        # A run first seen finished (a discovery baseline holds thousands) has no curve to
        # draw: only its pace is kept, from the API's own times.
        seen_running = not (is_terminal(snap.status) and snap.first_seen == tick.at)
        if seen_running:
            last = conn.execute(_LAST, (snap.run_id,)).fetchone()
            if last is None or last[0] != samples:
                conn.execute(
                    "INSERT OR REPLACE INTO progress_points (run_id, at, samples) VALUES (?, ?, ?)",
                    (snap.run_id, at, samples),
                )
                _thin(conn, snap.run_id)
        if snap.status == RunStatus.SUCCEEDED:
            _record_pace(conn, snap, at, from_points=seen_running)


def _thin(conn: sqlite3.Connection, run_id: str) -> None:
    """Halve a run's older points once it has more than MAX_POINTS (first and last kept)."""
    (count,) = conn.execute(
        "SELECT COUNT(*) FROM progress_points WHERE run_id = ?", (run_id,)
    ).fetchone()
    if count <= MAX_POINTS:
        return
    conn.execute(
        "DELETE FROM progress_points WHERE run_id = :run AND at IN ("
        " SELECT at FROM (SELECT at, ROW_NUMBER() OVER (ORDER BY at) AS n"
        "  FROM progress_points WHERE run_id = :run)"
        " WHERE n % 2 = 0 AND n < :count)",
        {"run": run_id, "count": count},
    )


def _record_pace(conn: sqlite3.Connection, snap: Snapshot, at: str, *, from_points: bool) -> None:
    assert snap.run is not None
    key = spec_key(snap.run)
    if key is None:
        return
    rate = None
    if from_points:
        curve = points(conn, snap.run_id)
        if len(curve) >= 2:
            rate = pace(curve[0], curve[-1])
    run = snap.run
    if rate is None and run.created_at and run.completed_at and run.samples_completed:
        # Seen only once (it ran between two polls): the API's own start and end times.
        rate = pace(Point(run.created_at, 0), Point(run.completed_at, run.samples_completed))
    if rate is None or rate <= 0:
        return
    conn.execute(
        "INSERT OR REPLACE INTO run_paces (run_id, spec, rate, finished_at) VALUES (?, ?, ?, ?)",
        (snap.run_id, key, rate, at),
    )
    conn.execute(
        "DELETE FROM run_paces WHERE spec = ? AND run_id NOT IN (SELECT run_id FROM run_paces"
        " WHERE spec = ? ORDER BY finished_at DESC LIMIT ?)",
        (key, key, PACES_PER_SPEC),
    )


def forget_points(conn: sqlite3.Connection, run_ids_json: str) -> None:
    """Drop the points of pruned runs (a JSON array of ids), in the prune's transaction."""
    conn.execute(
        "DELETE FROM progress_points WHERE run_id IN (SELECT value FROM json_each(?))",
        (run_ids_json,),
    )


def points(conn: sqlite3.Connection, run_id: str) -> list[Point]:
    """A run's progress points, oldest first."""
    return [
        Point(dt(at), samples)
        for at, samples in conn.execute(
            "SELECT at, samples FROM progress_points WHERE run_id = ? ORDER BY at", (run_id,)
        )
    ]


def first_points(conn: sqlite3.Connection, run_ids: Collection[str]) -> dict[str, Point]:
    """Each run's first progress point (where its pace is measured from)."""
    rows = conn.execute(
        "SELECT run_id, MIN(at), samples FROM progress_points"
        " WHERE run_id IN (SELECT value FROM json_each(?)) GROUP BY run_id",
        (json.dumps(sorted(run_ids)),),
    )
    return {run_id: Point(dt(at), samples) for run_id, at, samples in rows}


def spec_paces(conn: sqlite3.Connection, exclude: Iterable[str] = ()) -> dict[str, SpecPace]:
    """Each spec's median pace over its recorded finished runs."""
    skip = set(exclude)
    rates: dict[str, list[float]] = {}
    for run_id, spec, rate in conn.execute("SELECT run_id, spec, rate FROM run_paces"):
        if run_id not in skip:
            rates.setdefault(spec, []).append(float(rate))
    found = {spec: spec_pace(values) for spec, values in rates.items()}
    return {spec: value for spec, value in found.items() if value is not None}


def slow_alerted(conn: sqlite3.Connection, run_ids: Collection[str]) -> set[str]:
    """Which of these runs already had their SLOW alert (once per run)."""
    rows = conn.execute(
        "SELECT DISTINCT run_id FROM events WHERE kind = ?"
        " AND run_id IN (SELECT value FROM json_each(?))",
        (str(EventKind.SLOW), json.dumps(sorted(run_ids))),
    )
    return {row[0] for row in rows}


class ProgressBook:
    """What the slow rule reads from a `Store` (mixed into it), in one read."""

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Store's

    def slow_inputs(
        self, run_ids: Collection[str]
    ) -> tuple[dict[str, Point], dict[str, SpecPace], set[str]]:
        """For these runs: their first points, every spec's pace, those already told slow."""
        with self._reading() as conn:
            return first_points(conn, run_ids), spec_paces(conn), slow_alerted(conn, run_ids)


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection of its own (the status page's thread never shares the daemon's)."""
    conn = sqlite3.connect(
        f"{path.absolute().as_uri()}?mode=ro", uri=True, check_same_thread=False, timeout=5.0
    )
    conn.row_factory = sqlite3.Row
    return conn

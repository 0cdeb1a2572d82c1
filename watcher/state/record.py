"""The record stage's SQL: a tick's snapshots, events and queued deliveries written together,
the snapshots read back for the next tick, and finished runs forgotten after the retention.

Functions over an open connection; `Store` runs each inside its lock and one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from watcher.errors import StateConflict, StateError
from watcher.events import EventKind, Snapshot, Source, TickRecord
from watcher.kinds import load_job
from watcher.models import TERMINAL_STATUSES, Job, is_terminal
from watcher.state.actions import write_actions
from watcher.state.alerts import write_held, write_windows
from watcher.state.outbox import queue_message
from watcher.state.progress import forget_points, record_progress
from watcher.state.timestamps import dt_or_none, ts, ts_or_none

__all__ = ["load_run", "load_snapshots", "prune", "set_meta", "write_tick"]

_TERMINAL_JSON = json.dumps(sorted(TERMINAL_STATUSES))
_NOT_FINAL = (EventKind.STUCK, EventKind.SLOW)  # alerts about a run still going
_NEW_TO_CALLER = -1  # revision of a run the caller's snapshots did not hold

_UPSERT_RUN = """
INSERT INTO runs (run_id, source, status, status_since, first_seen, last_polled, gone, muted,
                  run_json, progress_at, stuck_since, stuck_notified_at, stuck_ended_at)
VALUES (:run_id, :source, :status, :status_since, :first_seen, :last_polled, :gone, :muted,
        :run_json, :progress_at, :stuck_since, :stuck_notified_at, :stuck_ended_at)
ON CONFLICT (run_id) DO UPDATE SET
    source = CASE WHEN :rev = -1 THEN runs.source ELSE excluded.source END,
    status = excluded.status,
    status_since = excluded.status_since,
    first_seen = excluded.first_seen,
    last_polled = excluded.last_polled,
    gone = excluded.gone,
    muted = excluded.muted,
    run_json = excluded.run_json,
    progress_at = excluded.progress_at,
    stuck_since = excluded.stuck_since,
    stuck_notified_at = excluded.stuck_notified_at,
    stuck_ended_at = excluded.stuck_ended_at,
    pruned_at = CASE WHEN excluded.run_json IS NULL THEN runs.pruned_at END
-- Lost-update guard: overwrite only a row the caller read at its current revision (track and
-- untrack bump it), or one that `track` created meanwhile and nobody has observed yet.
WHERE :rev IS NULL OR runs.user_rev = :rev
   OR (:rev = -1 AND runs.status IS NULL AND runs.muted = 0)
"""


def write_tick(
    conn: sqlite3.Connection, tick: TickRecord, revs: Mapping[str, int] | None, *, path: Path
) -> list[int]:
    """Write ``tick``; the new deliveries' ids, in the order of tick.notifications.

    ``revs`` are the revisions at which the caller read the rows its snapshots came from
    (None: it did not read through a store, so no lost-update guard).
    """
    at = ts(tick.at)
    changed = _changed_under_us(conn, tick, revs)
    if changed:
        # The guard below would keep the user's row, but this tick's events about that run
        # were decided from the old one: recording them could alert twice. Redo the tick.
        raise StateConflict(
            f"run {changed[0]} was tracked or untracked during the tick; the tick is redone"
        )
    conn.executemany(_UPSERT_RUN, (_run_params(snap, revs) for snap in tick.snapshots))
    # Ids assigned here rather than read back one insert at a time: a baseline inserts
    # thousands of events, and we hold the write lock so MAX(id) cannot move.
    base = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])
    event_ids = [base + 1 + i for i in range(len(tick.events))]
    conn.executemany(
        "INSERT INTO events (id, run_id, kind, from_status, to_status, at, alert,"
        " previous_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (
                eid,
                e.run_id,
                str(e.kind),
                e.from_status,
                e.to_status,
                ts(e.at),
                int(e.alert),
                ts_or_none(e.previous_since),
            )
            for eid, e in zip(event_ids, tick.events, strict=True)
        ),
    )
    # alerted_at means "its final alert was decided" (`track` reads it): STUCK or SLOW is not.
    conn.executemany(
        "UPDATE runs SET alerted_at = COALESCE(alerted_at, ?) WHERE run_id = ?",
        ((ts(e.at), e.run_id) for e in tick.events if e.alert and e.kind not in _NOT_FINAL),
    )
    delivery_ids: list[int] = []
    for note in tick.notifications:
        indexes = list(dict.fromkeys(note.event_indexes))
        bad = [i for i in indexes if not 0 <= i < len(event_ids)]
        if bad:
            raise StateError(
                f"cannot record tick in state file {path}: the notification for"
                f" channel {note.channel!r} names event {bad[0]} of {len(event_ids)}"
            )
        delivery_id = queue_message(conn, note, at)
        delivery_ids.append(delivery_id)
        conn.executemany(
            "INSERT INTO delivery_events (delivery_id, event_id) VALUES (?, ?)",
            ((delivery_id, event_ids[i]) for i in indexes),
        )
    if tick.actions:
        write_actions(conn, tick.events, event_ids, tick.actions, tick.at)
    if tick.held or tick.suppressed:
        write_held(conn, tick.events, event_ids, tick.held, tick.suppressed, tick.at)
    if tick.windows:
        write_windows(conn, tick.windows)
    record_progress(conn, tick)
    if tick.baseline_done:
        set_meta(conn, "discovery_baseline", at)
    for kind in sorted(tick.baseline_kinds):
        set_meta(conn, baseline_key(kind), at)
    set_meta(conn, "last_tick_at", at)
    return delivery_ids


def _changed_under_us(
    conn: sqlite3.Connection, tick: TickRecord, revs: Mapping[str, int] | None
) -> list[str]:
    """Runs this tick has events about whose row the lost-update guard would not overwrite."""
    if revs is None or not tick.events:
        return []
    ids = json.dumps(sorted({event.run_id for event in tick.events}))
    rows = conn.execute(
        "SELECT run_id, user_rev, status, muted FROM runs"
        " WHERE run_id IN (SELECT value FROM json_each(?))",
        (ids,),
    )
    changed = []
    for run_id, user_rev, status, muted in rows:
        rev = revs.get(run_id, _NEW_TO_CALLER)
        taken_over = rev == _NEW_TO_CALLER and status is None and not muted
        if user_rev != rev and not taken_over:
            changed.append(run_id)
    return changed


def _run_params(snap: Snapshot, revs: Mapping[str, int] | None) -> dict[str, Any]:
    if revs is None:
        rev: int | None = None  # the caller did not read through us: no guard
    else:
        rev = revs.get(snap.run_id, _NEW_TO_CALLER)
    run_json = None if snap.run is None else snap.run.model_dump_json()
    return {
        "run_id": snap.run_id,
        "source": str(snap.source),
        "status": snap.status,
        "status_since": ts_or_none(snap.status_since),
        "first_seen": ts_or_none(snap.first_seen),
        "last_polled": ts_or_none(snap.last_polled),
        "gone": int(snap.gone),
        "muted": int(snap.muted),
        "run_json": run_json,
        "progress_at": ts_or_none(snap.progress_at),
        "stuck_since": ts_or_none(snap.stuck_since),
        "stuck_notified_at": ts_or_none(snap.stuck_notified_at),
        "stuck_ended_at": ts_or_none(snap.stuck_ended_at),
        "rev": rev,
    }


def prune(conn: sqlite3.Connection, now: datetime, retention_seconds: float) -> int:
    """Forget finished runs older than the retention; returns how many runs were pruned.

    Their events, deliveries, actions and attempts go; the run row stays as a tombstone
    without its JSON, so discovery never announces it again. A run with unfinished
    deliveries or actions is left alone.
    """
    cutoff = ts(now - timedelta(seconds=retention_seconds))
    run_ids = [
        row[0]
        for row in conn.execute(
            "SELECT run_id FROM runs r WHERE pruned_at IS NULL"
            " AND (gone = 1 OR status IN (SELECT value FROM json_each(?)))"
            " AND COALESCE(status_since, last_polled, first_seen) < ?"
            " AND NOT EXISTS (SELECT 1 FROM events e"
            "   JOIN delivery_events de ON de.event_id = e.id"
            "   JOIN deliveries d ON d.id = de.delivery_id"
            "   WHERE e.run_id = r.run_id AND d.status IN ('pending', 'retrying'))"
            " AND NOT EXISTS (SELECT 1 FROM actions a"
            "   WHERE a.run_id = r.run_id AND a.status IN ('pending', 'retrying'))",
            (_TERMINAL_JSON, cutoff),
        )
    ]
    if not run_ids:
        return 0
    ids = json.dumps(run_ids)
    # A message may cover other runs too: drop a delivery only once no event links it.
    linked = [
        row[0]
        for row in conn.execute(
            "SELECT DISTINCT de.delivery_id FROM delivery_events de"
            " JOIN events e ON e.id = de.event_id"
            " WHERE e.run_id IN (SELECT value FROM json_each(?))",
            (ids,),
        )
    ]
    conn.execute("DELETE FROM events WHERE run_id IN (SELECT value FROM json_each(?))", (ids,))
    forget_points(conn, ids)
    conn.execute(
        "DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?)) AND NOT EXISTS"
        " (SELECT 1 FROM delivery_events WHERE delivery_id = deliveries.id)",
        (json.dumps(linked),),
    )
    conn.execute(
        "UPDATE runs SET run_json = NULL, pruned_at = ?"
        " WHERE run_id IN (SELECT value FROM json_each(?))",
        (ts(now), ids),
    )
    return len(run_ids)


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Store a value in the meta table."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def baseline_key(kind: str) -> str:
    """The meta key marking a kind's silent first discovery pass as taken (generation runs
    keep the key they had before job kinds)."""
    return "discovery_baseline" if kind == "run" else f"discovery_baseline.{kind}"


def load_snapshots(conn: sqlite3.Connection) -> tuple[dict[str, Snapshot], dict[str, int]]:
    """Every run row as a Snapshot, and each row's user_rev."""
    snaps: dict[str, Snapshot] = {}
    revs: dict[str, int] = {}
    for row in conn.execute("SELECT * FROM runs"):
        run = None
        # A finished run is final: detect never reads its data again, so the cache (10,000
        # runs in discovery mode) keeps only its status; the views read the file.
        if row["run_json"] is not None and not is_terminal(row["status"]):
            # A row an older model wrote and this one rejects loses its detail, not the watch.
            with suppress(ValidationError):
                run = load_job(row["run_id"], row["run_json"])
        snaps[row["run_id"]] = Snapshot(
            run_id=row["run_id"],
            source=Source(row["source"]),
            status=row["status"],
            status_since=dt_or_none(row["status_since"]),
            first_seen=dt_or_none(row["first_seen"]),
            last_polled=dt_or_none(row["last_polled"]),
            gone=bool(row["gone"]),
            muted=bool(row["muted"]),
            run=run,
            progress_at=dt_or_none(row["progress_at"]),
            stuck_since=dt_or_none(row["stuck_since"]),
            stuck_notified_at=dt_or_none(row["stuck_notified_at"]),
            stuck_ended_at=dt_or_none(row["stuck_ended_at"]),
        )
        revs[row["run_id"]] = row["user_rev"]
    return snaps, revs


def load_run(conn: sqlite3.Connection, run_id: str) -> Job | None:
    """One run's stored data (its JSON, finished runs too); None when absent or unreadable."""
    row = conn.execute("SELECT run_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None or row[0] is None:
        return None
    try:
        return load_job(run_id, row[0])
    except ValidationError:
        return None

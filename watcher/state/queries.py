"""What the CLI's `status` and `history` read from the state file: plain rows, newest first.

Read-only queries over an open connection; `Store.status_rows`, `Store.delivery_counts` and
`Store.history` run them under the store's lock. `watcher.cli.views` turns them into text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from watcher.events import Source
from watcher.models import TERMINAL_STATUSES
from watcher.run_refs import kind_of
from watcher.state.outbox import run_ids_of
from watcher.state.timestamps import dt, dt_or_none

__all__ = [
    "AttemptEntry",
    "HistoryEntry",
    "StatusRow",
    "delivery_counts",
    "history",
    "status_rows",
]

_TERMINAL_JSON = json.dumps(sorted(TERMINAL_STATUSES))
_DELIVERY_STATES = ("pending", "retrying", "sent", "dead")


@dataclass(frozen=True, slots=True)
class StatusRow:
    """One line of `status`: a watched (not muted) run as the state file knows it."""

    run_id: str
    source: Source
    status: str | None  # None: awaiting its first poll
    spec_name: str | None
    since: datetime | None
    samples_completed: int | None
    samples_failed: int | None
    total_cost: float | None
    last_polled: datetime | None
    gone: bool
    created_by: str | None

    @property
    def kind(self) -> str:
        """The run's kind (`watcher.run_refs.kind_of` of its key)."""
        return kind_of(self.run_id)


@dataclass(frozen=True, slots=True)
class AttemptEntry:
    """One try at sending a delivery."""

    at: datetime
    ok: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of `history`: a status change (kind "event"), a message (kind "delivery"), an
    alert that did not go out as one (kind "alert": held, or suppressed by a mute), or a
    route's action on a finished run (kind "action")."""

    kind: Literal["event", "delivery", "alert", "action"]
    id: int  # the event's, the delivery's, the alert's or the action's id
    at: datetime  # when the event happened, or when the delivery was queued
    run_ids: tuple[str, ...]
    event_kind: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    alert: bool = False
    channel: str | None = None
    status: str | None = None  # pending, retrying, sent or dead
    title: str | None = None
    attempts: int = 0
    last_error: str | None = None
    finished_at: datetime | None = None  # when it was sent or given up
    attempt_log: tuple[AttemptEntry, ...] = ()
    why: str | None = None  # an alert's: quiet_hours, digest, or the mute's id
    held_until: datetime | None = None  # a held alert's release time
    action: str | None = None  # an action's label: "exec PROGRAM" or "download to DIR"


_STATUS_ROWS = """
SELECT run_id, source, status, status_since, gone,
       -- A tick writes only the runs that changed, and its time once (meta last_tick_at):
       -- an active run seen unchanged was last polled then.
       CASE WHEN gone = 0 AND last_polled IS NOT NULL
                 AND COALESCE(status NOT IN (SELECT value FROM json_each(:terminal)), 1)
            THEN MAX(last_polled, COALESCE(
                 (SELECT value FROM meta WHERE key = 'last_tick_at'), last_polled))
            ELSE last_polled END AS last_polled,
       json_extract(run_json, '$.spec_name') AS spec_name,
       json_extract(run_json, '$.samples_completed') AS samples_completed,
       json_extract(run_json, '$.samples_failed') AS samples_failed,
       json_extract(run_json, '$.total_cost') AS total_cost,
       json_extract(run_json, '$.created_by_email') AS created_by,
       json_extract(run_json, '$.completed_at') AS completed_at,
       (gone = 1 OR status IN (SELECT value FROM json_each(:terminal))) AS finished
FROM runs
WHERE muted = 0 AND pruned_at IS NULL
  AND (:run_id IS NULL OR run_id = :run_id)
  AND (:labels IS NULL OR (CASE WHEN gone = 1 THEN 'GONE' ELSE COALESCE(status, 'UNSEEN') END)
       IN (SELECT value FROM json_each(:labels)))
  AND (:finished IS NULL OR (gone = 1 OR status IN (SELECT value FROM json_each(:terminal)))
       = :finished)
ORDER BY finished, status_since IS NOT NULL, status_since DESC, run_id
LIMIT :limit
"""


def status_rows(
    conn: sqlite3.Connection,
    *,
    labels: Collection[str] | None = None,
    finished: bool | None = None,
    limit: int | None = None,
    run_id: str | None = None,
) -> list[StatusRow]:
    """Watched runs (not muted, not pruned): active first, then newest change first.

    `labels` keeps only runs whose status (or "GONE", "UNSEEN") is one of them; `finished`
    True keeps finished (and gone) runs, False the active ones; `limit` caps the rows;
    `run_id` keeps that one run (a key lookup).
    """
    rows = conn.execute(
        _STATUS_ROWS,
        {
            "terminal": _TERMINAL_JSON,
            "labels": None if labels is None else json.dumps(sorted(labels)),
            "finished": None if finished is None else int(finished),
            "limit": -1 if limit is None else limit,
            "run_id": run_id,
        },
    ).fetchall()
    # The JSON came from the API: take its values only when they have the expected type.
    return [
        StatusRow(
            run_id=row["run_id"],
            source=Source(row["source"]),
            status=row["status"],
            since=_since(row["status"], row["status_since"], row["completed_at"]),
            last_polled=dt_or_none(row["last_polled"]),
            gone=bool(row["gone"]),
            spec_name=_str(row["spec_name"]),
            samples_completed=_int(row["samples_completed"]),
            samples_failed=_int(row["samples_failed"]),
            total_cost=_float(row["total_cost"]),
            created_by=_str(row["created_by"]),
        )
        for row in rows
    ]


def status_counts(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
    """Watched runs (as in status_rows) per (kind, status); "GONE" for vanished ones,
    "UNSEEN" for runs tracked but not observed yet. One grouped query (the kind is the key's
    prefix, `watcher.run_refs`): metrics ask after every tick."""
    rows = conn.execute(
        "SELECT CASE WHEN instr(run_id, ':') > 0 THEN substr(run_id, 1, instr(run_id, ':'))"
        " ELSE '' END,"
        " CASE WHEN gone = 1 THEN 'GONE' ELSE COALESCE(status, 'UNSEEN') END, COUNT(*)"
        " FROM runs WHERE muted = 0 AND pruned_at IS NULL GROUP BY 1, 2"
    ).fetchall()
    counts: dict[tuple[str, str], int] = {}
    for prefix, status, n in rows:
        key = (kind_of(f"{prefix}x"), str(status))
        counts[key] = counts.get(key, 0) + int(n)
    return counts


def delivery_counts(conn: sqlite3.Connection) -> dict[str, dict[str, int]]:
    """Per channel, how many deliveries are pending, retrying, sent and dead, and how many
    alerts are held (`held`, present only when some are)."""
    counts: dict[str, dict[str, int]] = {}
    for channel, status, n in conn.execute(
        "SELECT channel, status, COUNT(*) FROM deliveries GROUP BY channel, status"
    ):
        per = counts.setdefault(channel, dict.fromkeys(_DELIVERY_STATES, 0))
        per[status] = n
    # Alerts that wait (quiet hours, a digest burst) are queued for their channel too.
    for channel, n in conn.execute(
        "SELECT channel, COUNT(*) FROM alerts WHERE status = 'held' GROUP BY channel"
    ):
        counts.setdefault(channel, dict.fromkeys(_DELIVERY_STATES, 0))["held"] = n
    return counts


def history(
    conn: sqlite3.Connection, run_id: str | None = None, *, limit: int = 50
) -> list[HistoryEntry]:
    """Transitions and deliveries, newest first; with run_id, only those about that run."""
    events = conn.execute(
        "SELECT * FROM events WHERE ? IS NULL OR run_id = ? ORDER BY at DESC, id DESC LIMIT ?",
        (run_id, run_id, limit),
    ).fetchall()
    deliveries = conn.execute(
        "SELECT * FROM deliveries"
        " WHERE ? IS NULL OR id IN (SELECT de.delivery_id FROM delivery_events de"
        "   JOIN events e ON e.id = de.event_id WHERE e.run_id = ?)"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (run_id, run_id, limit),
    ).fetchall()
    ids = [row["id"] for row in deliveries]
    run_ids = run_ids_of(conn, ids)
    attempts = _attempt_logs(conn, "delivery", ids)
    entries = [
        HistoryEntry(
            kind="event",
            id=row["id"],
            at=dt(row["at"]),
            run_ids=(row["run_id"],),
            event_kind=row["kind"],
            from_status=row["from_status"],
            to_status=row["to_status"],
            alert=bool(row["alert"]),
        )
        for row in events
    ]
    entries += [
        HistoryEntry(
            kind="delivery",
            id=row["id"],
            at=dt(row["created_at"]),
            run_ids=run_ids.get(row["id"], ()),
            channel=row["channel"],
            title=row["title"],
            status=row["status"],
            attempts=row["attempts"],
            last_error=row["last_error"],
            finished_at=dt_or_none(row["finished_at"]),
            attempt_log=tuple(attempts.get(row["id"], ())),
        )
        for row in deliveries
    ]
    # Held and suppressed alerts (a released one is its delivery's): why they did not go out.
    entries += [
        HistoryEntry(
            kind="alert",
            id=row["id"],
            at=dt(row["created_at"]),
            run_ids=(row["run_id"],) if row["run_id"] else (),
            channel=row["channel"],
            status=row["status"],
            why=row["why"],
            held_until=dt_or_none(row["held_until"]),
        )
        for row in conn.execute(
            "SELECT * FROM alerts WHERE status IN ('held', 'suppressed')"
            " AND (? IS NULL OR run_id = ?) ORDER BY created_at DESC, id DESC LIMIT ?",
            (run_id, run_id, limit),
        )
    ]
    entries += _actions(conn, run_id, limit)
    # Newest first; at the same instant a delivery sorts above the event that caused it.
    rank = {"event": 0, "alert": 1, "delivery": 2, "action": 3}
    entries.sort(key=lambda e: (e.at, rank[e.kind], e.id), reverse=True)
    return entries[:limit]


# A delivery's or an action's attempts, oldest first: the same log, in two tables.
_ATTEMPTS = {
    "delivery": "SELECT delivery_id AS owner, at, ok, reason FROM delivery_attempts"
    " WHERE delivery_id IN (SELECT value FROM json_each(?)) ORDER BY at, id",
    "action": "SELECT action_id AS owner, at, ok, reason FROM action_attempts"
    " WHERE action_id IN (SELECT value FROM json_each(?)) ORDER BY at, id",
}


def _attempt_logs(
    conn: sqlite3.Connection, kind: Literal["delivery", "action"], ids: list[int]
) -> dict[int, list[AttemptEntry]]:
    """Per delivery (or action) of `ids`, its attempts, oldest first."""
    attempts: dict[int, list[AttemptEntry]] = {}
    for row in conn.execute(_ATTEMPTS[kind], (json.dumps(ids),)):
        attempts.setdefault(row["owner"], []).append(
            AttemptEntry(dt(row["at"]), bool(row["ok"]), row["reason"])
        )
    return attempts


def _actions(conn: sqlite3.Connection, run_id: str | None, limit: int) -> list[HistoryEntry]:
    """The actions (about `run_id`, if given), newest first, each with its attempts."""
    rows = conn.execute(
        "SELECT * FROM actions WHERE ? IS NULL OR run_id = ?"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        (run_id, run_id, limit),
    ).fetchall()
    attempts = _attempt_logs(conn, "action", [row["id"] for row in rows])
    return [
        HistoryEntry(
            kind="action",
            id=row["id"],
            at=dt(row["created_at"]),
            run_ids=(row["run_id"],),
            status=row["status"],
            action=row["label"],
            attempts=row["attempts"],
            last_error=row["last_error"],
            finished_at=dt_or_none(row["finished_at"]),
            attempt_log=tuple(attempts.get(row["id"], ())),
            why=row["why"],
        )
        for row in rows
    ]


def _since(status: str | None, status_since: str | None, completed_at: object) -> datetime | None:
    """Since when a run has its status: for a finished run, when the API says it completed
    (a run tracked long after it finished did not finish when the watcher first saw it)."""
    if status in TERMINAL_STATUSES and isinstance(completed_at, str):
        try:
            moment = datetime.fromisoformat(completed_at)
        except ValueError:
            pass  # the JSON came from the API: a bad value falls back to what we saw
        else:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return dt_or_none(status_since)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None

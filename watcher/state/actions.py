"""The actions' outbox: actions queued with a tick, their attempts, and what they finished.

An action row is written by the record stage in the tick's transaction (`write_actions`),
taken out when due (`due_actions`), marked as started before it runs (`start_action`: after a
crash, a row still marked is known as interrupted), and moved to done, retrying or dead by
one attempt at a time (`record_action`), as deliveries are. `done` is final: a late report
never runs or reopens it, so an action that succeeded is recorded done once.
Functions over an open connection; `Store` runs each under its lock (`ActionBook`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from watcher.events import Event, PlannedAction
from watcher.state.timestamps import dt_or_none, ts

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["ACTION_STATES", "ActionAttempt", "ActionBook", "QueuedAction", "write_actions"]

ACTION_STATES = ("pending", "retrying", "done", "dead", "suppressed")


@dataclass(frozen=True, slots=True)
class QueuedAction:
    """A due action as the outbox keeps it; `interrupted` when an attempt was under way
    when the watcher last stopped (it crashed, or was killed, mid-action)."""

    id: int
    run_id: str
    run_kind: str
    to_status: str | None
    kind: str
    spec: dict[str, Any]
    label: str
    run_json: str | None
    attempts: int = 0
    first_attempt_at: datetime | None = None
    interrupted: bool = False
    done_files: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class ActionAttempt:
    """The outcome of one attempt at an action: done (ok), retry at `next_attempt_at`, or
    dead (given up once the first attempt is `delivery.horizon` old)."""

    action_id: int
    at: datetime
    ok: bool
    reason: str | None
    next_attempt_at: datetime | None
    dead: bool = False


def write_actions(
    conn: sqlite3.Connection,
    events: Sequence[Event],
    event_ids: Sequence[int],
    planned: Sequence[PlannedAction],
    at: datetime,
) -> list[int]:
    """Queue a tick's actions (`event_ids` are the ids of `events`); their ids. A muted
    one is kept as suppressed, with the mute's id, so `history` shows why it never ran."""
    ids: list[int] = []
    for action in planned:
        event = events[action.event_index]
        cur = conn.execute(
            "INSERT INTO actions (event_id, run_id, run_kind, to_status, kind, spec, label,"
            " run_json, status, why, created_at, next_attempt_at, finished_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event_ids[action.event_index],
                event.run_id,
                action.run_kind,
                event.to_status,
                action.kind,
                json.dumps(dict(action.spec)),
                action.label,
                None if event.run is None else event.run.model_dump_json(),
                "pending" if action.muted_by is None else "suppressed",
                action.muted_by,
                ts(at),
                ts(at) if action.muted_by is None else None,
                None if action.muted_by is None else ts(at),
            ),
        )
        assert cur.lastrowid is not None
        ids.append(cur.lastrowid)
    return ids


def _queued(row: sqlite3.Row) -> QueuedAction:
    done = json.loads(row["done_files"] or "[]")
    return QueuedAction(
        id=row["id"],
        run_id=row["run_id"],
        run_kind=row["run_kind"],
        to_status=row["to_status"],
        kind=row["kind"],
        spec=json.loads(row["spec"]),
        label=row["label"],
        run_json=row["run_json"],
        attempts=row["attempts"],
        first_attempt_at=dt_or_none(row["first_attempt_at"]),
        interrupted=row["started_at"] is not None,
        done_files=frozenset(str(item) for item in done if isinstance(item, str)),
    )


def due_actions(
    conn: sqlite3.Connection, now: datetime, *, limit: int, skip: Collection[int] = ()
) -> list[QueuedAction]:
    """Pending or retrying actions due at `now`, oldest first, but those in `skip` (the ones
    this process is running)."""
    rows = conn.execute(
        "SELECT * FROM actions WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ?"
        " AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?",
        (ts(now), json.dumps(sorted(skip)), limit),
    ).fetchall()
    return [_queued(row) for row in rows]


def start_action(conn: sqlite3.Connection, action_id: int, at: datetime) -> None:
    """Mark an attempt as under way, before the action runs (committed first)."""
    conn.execute("UPDATE actions SET started_at = ? WHERE id = ?", (ts(at), action_id))


def save_files(conn: sqlite3.Connection, action_id: int, done: Collection[str]) -> None:
    """Record the files a download has saved so far (a retry does not fetch them again)."""
    conn.execute(
        "UPDATE actions SET done_files = ? WHERE id = ?", (json.dumps(sorted(done)), action_id)
    )


def record_action(conn: sqlite3.Connection, attempt: ActionAttempt) -> bool:
    """Log one attempt and move the action to done, retrying or dead; False when the action
    was already finished (nothing changes: done is final)."""
    if attempt.ok:
        status, next_at = "done", None
    elif attempt.dead:
        status, next_at = "dead", None
    else:
        status, next_at = "retrying", ts(attempt.next_attempt_at or attempt.at)
    at = ts(attempt.at)
    cur = conn.execute(
        "UPDATE actions SET attempts = attempts + 1, status = ?, next_attempt_at = ?,"
        " first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?,"
        " started_at = NULL, finished_at = ?, last_error = ?"
        " WHERE id = ? AND status IN ('pending', 'retrying')",
        (status, next_at, at, at, None if next_at else at, attempt.reason, attempt.action_id),
    )
    if cur.rowcount == 0:
        return False
    conn.execute(
        "INSERT INTO action_attempts (action_id, at, ok, reason) VALUES (?, ?, ?, ?)",
        (attempt.action_id, at, int(attempt.ok), attempt.reason),
    )
    return True


def requeue_dead(conn: sqlite3.Connection, now: datetime) -> int:
    """Queue the dead actions again, with a fresh retry horizon; how many."""
    cur = conn.execute(
        "UPDATE actions SET status = 'pending', next_attempt_at = ?, attempts = 0,"
        " first_attempt_at = NULL, finished_at = NULL WHERE status = 'dead'",
        (ts(now),),
    )
    return cur.rowcount


def action_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """How many actions are in each state (every state named, zeros included)."""
    counts = dict.fromkeys(ACTION_STATES, 0)
    for status, n in conn.execute("SELECT status, COUNT(*) FROM actions GROUP BY status"):
        counts[str(status)] = int(n)
    return counts


class ActionBook:
    """The actions' side of `Store` (a mixin: the store supplies the transactions)."""

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Store's

    def _writing(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Store's

    def due_actions(
        self, now: datetime, *, limit: int = 100, skip: Collection[int] = ()
    ) -> list[QueuedAction]:
        """Actions due at `now`, oldest first, but those in `skip`."""
        with self._reading() as conn:
            return due_actions(conn, now, limit=limit, skip=skip)

    def start_action(self, action_id: int, at: datetime) -> None:
        """Mark an attempt as under way (before the action runs)."""
        with self._writing() as conn:
            start_action(conn, action_id, at)

    def save_files(self, action_id: int, done: Collection[str]) -> None:
        """Record the files a download has saved so far."""
        with self._writing() as conn:
            save_files(conn, action_id, done)

    def record_action(self, attempt: ActionAttempt) -> bool:
        """Log one attempt; False when the action was already finished."""
        with self._writing() as conn:
            return record_action(conn, attempt)

    def requeue_dead_actions(self, now: datetime) -> int:
        """Queue the dead actions again, with a fresh retry horizon; how many."""
        with self._writing() as conn:
            return requeue_dead(conn, now)

    def action_counts(self) -> dict[str, int]:
        """How many actions are pending, retrying, done, dead and suppressed."""
        with self._reading() as conn:
            return action_counts(conn)

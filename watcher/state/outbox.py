"""The outbox: deliveries waiting to be sent, and what their tries did (the deliver and ack stages).

Queries over an open connection; `Store` runs each inside its lock and transaction. The record
stage queues deliveries (`watcher.state.record`); these take them out, log each try and move a
delivery to sent, retrying or dead.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from watcher.errors import StateError
from watcher.events import Attempt, Delivery, Notification, NotifyType
from watcher.state.timestamps import dt, dt_or_none, ts

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = [
    "OutboxBook",
    "bodies_json",
    "dead_letter",
    "due_deliveries",
    "queue_message",
    "record_attempt",
    "redeliver",
    "run_ids_of",
]

_RUN_IDS_OF = """
SELECT DISTINCT de.delivery_id, e.run_id FROM delivery_events de JOIN events e ON e.id = de.event_id
WHERE de.delivery_id IN (SELECT value FROM json_each(?)) ORDER BY de.delivery_id, e.id
"""


def due_deliveries(
    conn: sqlite3.Connection,
    now: datetime,
    *,
    limit: int = 100,
    channels: Collection[str] | None = None,
) -> list[Delivery]:
    """Pending or retrying deliveries whose next attempt is due: the `limit` oldest of each
    channel, oldest first.

    The limit is per channel so that a channel with a long backlog (a broken one, whose
    deliveries keep falling due) cannot fill the batch and starve the others.
    """
    wanted = None if channels is None else json.dumps(sorted(channels))
    rows = conn.execute(
        "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY channel ORDER BY id) AS nth"
        " FROM deliveries WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ?"
        " AND (? IS NULL OR channel IN (SELECT value FROM json_each(?))))"
        " WHERE nth <= ? ORDER BY id",
        (ts(now), wanted, wanted, limit),
    ).fetchall()
    run_ids = run_ids_of(conn, [row["id"] for row in rows])
    return [
        Delivery(
            id=row["id"],
            channel=row["channel"],
            title=row["title"],
            body=row["body"],
            created_at=dt(row["created_at"]),
            attempts=row["attempts"],
            first_attempt_at=dt_or_none(row["first_attempt_at"]),
            delivered_to=_delivered_to(row["done_urls"]),
            run_ids=run_ids.get(row["id"], ()),
            notify_type=_notify_type(row["notify_type"]),
            bodies=_bodies(row["bodies"]),
        )
        for row in rows
    ]


def queue_message(conn: sqlite3.Connection, note: Notification, at: str) -> int:
    """Put one message in the outbox as a pending delivery, due at ``at``; its id."""
    cur = conn.execute(
        "INSERT INTO deliveries (channel, title, body, notify_type, status, created_at,"
        " next_attempt_at, bodies) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
        (note.channel, note.title, note.body, str(note.notify_type), at, at, bodies_json(note)),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def bodies_json(note: Notification) -> str | None:
    """What the deliveries.bodies column keeps of a message: its body per format (JSON)."""
    return json.dumps(dict(note.bodies), ensure_ascii=False) if note.bodies else None


def _bodies(text: str | None) -> dict[str, str]:
    """A delivery's bodies per format; none (an older row, or one unreadable) leaves the
    plain-text body, which every service takes."""
    if not text:
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


def _notify_type(text: str) -> NotifyType:
    try:
        return NotifyType(text)
    except ValueError:  # written by a newer watcher: send it as plain information
        return NotifyType.INFO


def _delivered_to(text: str) -> frozenset[str]:
    """The keys of the URLs that took a delivery, from its done_urls column (a JSON list).

    Earlier builds stored URL positions (integers) there, which a reload could make point at
    another URL. Those match no URL's key and are dropped: every URL of the channel is tried
    again (at worst a duplicate to one that had the message, never a loss).
    """
    return frozenset(key for key in json.loads(text) if isinstance(key, str))


def record_attempt(conn: sqlite3.Connection, attempt: Attempt, *, path: Path) -> None:
    """Log one try and move the delivery to sent, dead or retrying.

    A report about a delivery already finished changes nothing, except that a success
    turns a dead delivery into a sent one (the message did go out).
    """
    if attempt.ok:
        status, next_at = "sent", None
    elif attempt.dead:
        status, next_at = "dead", None
    else:
        status, next_at = "retrying", ts(attempt.next_attempt_at or attempt.at)
    at = ts(attempt.at)
    cur = conn.execute(
        "UPDATE deliveries SET attempts = attempts + 1, status = ?, next_attempt_at = ?,"
        " first_attempt_at = COALESCE(first_attempt_at, ?), last_attempt_at = ?,"
        " finished_at = ?, done_urls = ?, last_error = ?"
        " WHERE id = ? AND (status IN ('pending', 'retrying') OR (status = 'dead' AND ?))",
        (
            status,
            next_at,
            at,
            at,
            None if next_at else at,
            json.dumps(sorted(attempt.delivered_to)),
            None if attempt.ok else attempt.reason,
            attempt.delivery_id,
            attempt.ok,
        ),
    )
    if cur.rowcount == 0:
        if conn.execute("SELECT 1 FROM deliveries WHERE id = ?", (attempt.delivery_id,)).fetchone():
            return
        raise StateError(f"no delivery {attempt.delivery_id} in state file {path}")
    conn.execute(
        "INSERT INTO delivery_attempts (delivery_id, at, ok, reason) VALUES (?, ?, ?, ?)",
        (attempt.delivery_id, at, int(attempt.ok), attempt.reason),
    )


def dead_letter(conn: sqlite3.Connection, delivery_id: int, at: datetime, reason: str) -> None:
    """Give up on an unfinished delivery without trying it (e.g. its channel was removed)."""
    conn.execute(
        "UPDATE deliveries SET status = 'dead', next_attempt_at = NULL, last_error = ?,"
        " finished_at = ? WHERE id = ? AND status IN ('pending', 'retrying')",
        (reason, ts(at), delivery_id),
    )


def redeliver(conn: sqlite3.Connection, now: datetime, *, channels: Collection[str]) -> int:
    """Queue the dead deliveries of `channels` again, with a fresh retry horizon; how many."""
    cur = conn.execute(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, attempts = 0,"
        " first_attempt_at = NULL, finished_at = NULL"
        " WHERE status = 'dead' AND channel IN (SELECT value FROM json_each(?))",
        (ts(now), json.dumps(sorted(channels))),
    )
    return cur.rowcount


def run_ids_of(conn: sqlite3.Connection, delivery_ids: list[int]) -> dict[int, tuple[str, ...]]:
    """Per delivery, the runs its events are about, in the order of the events."""
    found: dict[int, list[str]] = {}
    for delivery_id, run_id in conn.execute(_RUN_IDS_OF, (json.dumps(delivery_ids),)):
        ids = found.setdefault(delivery_id, [])
        if run_id not in ids:
            ids.append(run_id)
    return {k: tuple(v) for k, v in found.items()}


class OutboxBook:
    """The deliver and ack stages of `Store` (a mixin: the store supplies the transactions)."""

    path: Path

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Store's

    def _writing(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Store's

    def due_deliveries(
        self, now: datetime, *, limit: int = 100, channels: Collection[str] | None = None
    ) -> list[Delivery]:
        """Pending or retrying deliveries whose next attempt is due: the `limit` oldest of
        each channel (so no channel's backlog crowds out another's), oldest first."""
        with self._reading() as conn:
            return due_deliveries(conn, now, limit=limit, channels=channels)

    def record_attempt(self, attempt: Attempt) -> None:
        """Log one try and move the delivery to sent, dead or retrying.

        A report about a delivery already finished changes nothing, except that a success
        turns a dead delivery into a sent one (the message did go out).
        """
        with self._writing() as conn:
            record_attempt(conn, attempt, path=self.path)

    def dead_letter(self, delivery_id: int, at: datetime, reason: str) -> None:
        """Give up on an unfinished delivery without trying it (e.g. its channel was removed)."""
        with self._writing() as conn:
            dead_letter(conn, delivery_id, at, reason)

    def redeliver(self, now: datetime, *, channels: Collection[str]) -> int:
        """Queue the dead deliveries of `channels` again, with a fresh retry horizon; how many."""
        with self._writing() as conn:
            return redeliver(conn, now, channels=channels)

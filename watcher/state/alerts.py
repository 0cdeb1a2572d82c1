"""Alerts that do not go out at once, and the silences: held alerts, suppressed ones, mutes,
and each channel's digest window (schema v5).

A held alert keeps what its message will say (the event as it was decided, as JSON), so a
crash while it waits loses nothing and its digest says what the run was then. `release`
turns the due ones into deliveries in one transaction: after it, the outbox has them.
Functions over an open connection; `Store` runs each under its lock (`AlertBook`).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import TypeAdapter, ValidationError

from watcher.events import Event, Notification
from watcher.hold import Held, Mute, MuteScope, Suppressed, Window
from watcher.state.outbox import queue_message
from watcher.state.timestamps import dt, dt_or_none, ts

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["AlertBook", "HeldAlert", "Release"]

_EVENT = TypeAdapter(Event)


@dataclass(frozen=True, slots=True)
class HeldAlert:
    """A held alert as the state file keeps it: its channel, template and event."""

    id: int
    channel: str
    template: str | None
    event: Event
    event_id: int | None
    held_until: datetime
    why: str


@dataclass(frozen=True, slots=True)
class Release:
    """What releasing due held alerts writes: the messages (each with the held alerts it
    covers) and the alerts a mute silenced meanwhile."""

    messages: Sequence[tuple[Notification, Sequence[int]]]
    suppressed: Sequence[tuple[int, str]]  # (alert id, mute id)


def payload(event: Event) -> str:
    """The JSON a held alert keeps of its event."""
    return _EVENT.dump_json(event).decode()


def write_held(
    conn: sqlite3.Connection,
    events: Sequence[Event],
    event_ids: Sequence[int],
    held: Sequence[Held],
    suppressed: Sequence[Suppressed],
    at: datetime,
) -> None:
    """Keep a tick's held and suppressed alerts (`event_ids` are the ids of `events`)."""
    rows: list[tuple[object, ...]] = [
        (
            event_ids[h.intent.event_index],
            events[h.intent.event_index].run_id,
            h.intent.channel,
            h.intent.template,
            payload(events[h.intent.event_index]),
            "held",
            ts(h.until),
            str(h.why),
            ts(at),
        )
        for h in held
    ]
    rows += [
        (
            event_ids[s.intent.event_index],
            events[s.intent.event_index].run_id,
            s.intent.channel,
            s.intent.template,
            payload(events[s.intent.event_index]),
            "suppressed",
            None,
            s.mute_id,
            ts(at),
        )
        for s in suppressed
    ]
    conn.executemany(
        "INSERT INTO alerts (event_id, run_id, channel, template, payload, status, held_until,"
        " why, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def write_windows(conn: sqlite3.Connection, windows: Mapping[str, Window]) -> None:
    """Store each channel's digest window as the tick left it."""
    conn.executemany(
        "INSERT INTO digest_windows (channel, started_at, ends_at, sent) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (channel) DO UPDATE SET started_at = excluded.started_at,"
        " ends_at = excluded.ends_at, sent = excluded.sent",
        [(name, ts(w.started_at), ts(w.ends_at), w.sent) for name, w in windows.items()],
    )


def load_windows(conn: sqlite3.Connection) -> dict[str, Window]:
    """Every channel's digest window."""
    return {
        row[0]: Window(dt(row[1]), dt(row[2]), int(row[3]))
        for row in conn.execute("SELECT channel, started_at, ends_at, sent FROM digest_windows")
    }


def _mute(row: sqlite3.Row) -> Mute:
    return Mute(
        id=row["id"],
        scope=MuteScope(row["scope"]),
        pattern=row["pattern"],
        until=dt(row["until"]),
        reason=row["reason"],
        created_at=dt_or_none(row["created_at"]),
        ended_at=dt_or_none(row["ended_at"]),
    )


def new_mute_id() -> str:
    """A short id people can type back to `unmute`: "m-" and 6 hex digits."""
    return f"m-{secrets.token_hex(3)}"


def add_mute(conn: sqlite3.Connection, mute: Mute) -> None:
    """Store a new mute."""
    conn.execute(
        "INSERT INTO mutes (id, scope, pattern, reason, created_at, until)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            mute.id,
            str(mute.scope),
            mute.pattern,
            mute.reason,
            ts(mute.created_at or mute.until),
            ts(mute.until),
        ),
    )


def end_mute(conn: sqlite3.Connection, mute_id: str, now: datetime) -> Mute | None:
    """End a mute now; the mute as it was, or None when there is no such (active) mute."""
    row = conn.execute("SELECT * FROM mutes WHERE id = ?", (mute_id,)).fetchone()
    if row is None:
        return None
    mute = _mute(row)
    if not mute.active(now):
        return mute
    conn.execute("UPDATE mutes SET ended_at = ? WHERE id = ?", (ts(now), mute_id))
    return mute


def mutes(conn: sqlite3.Connection, now: datetime, *, active_only: bool) -> list[Mute]:
    """The mutes, newest first: only those in force at `now`, or all."""
    rows = conn.execute("SELECT * FROM mutes ORDER BY created_at DESC, id").fetchall()
    found = [_mute(row) for row in rows]
    return [m for m in found if m.active(now)] if active_only else found


def held_due(conn: sqlite3.Connection, now: datetime) -> list[HeldAlert]:
    """Held alerts whose wait is over, oldest first. One whose event no longer parses (written
    by a newer watcher, then downgraded) is left out and stays held, for that watcher."""
    rows = conn.execute(
        "SELECT * FROM alerts WHERE status = 'held' AND held_until <= ? ORDER BY id", (ts(now),)
    ).fetchall()
    found: list[HeldAlert] = []
    for row in rows:
        with contextlib.suppress(ValidationError):
            found.append(
                HeldAlert(
                    id=row["id"],
                    channel=row["channel"],
                    template=row["template"],
                    event=_EVENT.validate_json(row["payload"]),
                    event_id=row["event_id"],
                    held_until=dt(row["held_until"]),
                    why=row["why"],
                )
            )
    return found


def any_held_due(conn: sqlite3.Connection, now: datetime) -> bool:
    """Whether some held alert's wait is over (one indexed lookup)."""
    row = conn.execute(
        "SELECT 1 FROM alerts WHERE status = 'held' AND held_until <= ? LIMIT 1", (ts(now),)
    ).fetchone()
    return row is not None


def release(conn: sqlite3.Connection, now: datetime, plan: Release) -> list[int]:
    """Queue a release's messages as deliveries and mark their alerts released (or
    suppressed); the new deliveries' ids."""
    at = ts(now)
    delivery_ids: list[int] = []
    by_id = {
        row[0]: row[1]
        for row in conn.execute(
            "SELECT id, event_id FROM alerts WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps([i for _, ids in plan.messages for i in ids]),),
        )
    }
    for note, alert_ids in plan.messages:
        delivery_id = queue_message(conn, note, at)
        delivery_ids.append(delivery_id)
        conn.executemany(
            "INSERT OR IGNORE INTO delivery_events (delivery_id, event_id) VALUES (?, ?)",
            [(delivery_id, by_id[i]) for i in alert_ids if by_id.get(i) is not None],
        )
        conn.executemany(
            "UPDATE alerts SET status = 'released', delivery_id = ? WHERE id = ?",
            [(delivery_id, i) for i in alert_ids],
        )
    conn.executemany(
        "UPDATE alerts SET status = 'suppressed', why = ? WHERE id = ? AND status = 'held'",
        [(mute_id, alert_id) for alert_id, mute_id in plan.suppressed],
    )
    return delivery_ids


_OPS_PREFIX = "ops:"


def ops_told(conn: sqlite3.Connection) -> dict[str, datetime]:
    """Subjects already alerted as down (the API, channels), and since when they failed."""
    rows = conn.execute("SELECT key, value FROM meta WHERE key LIKE 'ops:%'").fetchall()
    return {str(key).removeprefix(_OPS_PREFIX): dt(value) for key, value in rows}


_FAILING = """
SELECT d.channel, MIN(a.at), MAX(a.at) FROM delivery_attempts a
JOIN deliveries d ON d.id = a.delivery_id
WHERE a.ok = 0 AND a.at > COALESCE(
    (SELECT MAX(a2.at) FROM delivery_attempts a2 JOIN deliveries d2 ON d2.id = a2.delivery_id
     WHERE d2.channel = d.channel AND a2.ok = 1), '')
GROUP BY d.channel
"""


def failing_channels(conn: sqlite3.Connection) -> dict[str, tuple[datetime, str | None]]:
    """Per channel whose tries have failed since its last success: since when (its first
    failure since) and the last failure's reason. From the attempts in the file, so it
    survives restarts; a channel recovers only by taking a message."""
    found: dict[str, tuple[datetime, str | None]] = {}
    for channel, first, last in conn.execute(_FAILING).fetchall():
        row = conn.execute(
            "SELECT a.reason FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id"
            " WHERE d.channel = ? AND a.at = ? AND a.ok = 0 ORDER BY a.id DESC LIMIT 1",
            (channel, last),
        ).fetchone()
        found[channel] = (dt(first), None if row is None else row[0])
    return found


def queue_ops(
    conn: sqlite3.Connection,
    now: datetime,
    messages: Sequence[Notification],
    told: Mapping[str, datetime | None],
) -> None:
    """Queue ops messages and note what was told (None: a recovery, forget it), together."""
    at = ts(now)
    for message in messages:
        queue_message(conn, message, at)
    for subject, since in told.items():
        key = _OPS_PREFIX + subject
        if since is None:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, ts(since)),
            )


class AlertBook:
    """The held alerts, mutes and digest windows of a `Store` (mixed into it)."""

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Store's

    def _writing(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # the Store's

    def digest_windows(self) -> dict[str, Window]:
        """Every channel's digest window."""
        with self._reading() as conn:
            return load_windows(conn)

    def add_mute(self, mute: Mute) -> None:
        """Store a new mute (`new_mute_id` makes its id)."""
        with self._writing() as conn:
            add_mute(conn, mute)

    def end_mute(self, mute_id: str, now: datetime) -> Mute | None:
        """End a mute now; the mute, or None when there is no such mute."""
        with self._writing() as conn:
            return end_mute(conn, mute_id, now)

    def mutes(self, now: datetime, *, active_only: bool = True) -> list[Mute]:
        """The mutes in force at `now` (or every mute), newest first."""
        with self._reading() as conn:
            return mutes(conn, now, active_only=active_only)

    def held_due(self, now: datetime) -> list[HeldAlert]:
        """Held alerts whose wait is over, oldest first."""
        with self._reading() as conn:
            return held_due(conn, now) if any_held_due(conn, now) else []

    def release(self, now: datetime, plan: Release) -> list[int]:
        """Turn released alerts into deliveries in one transaction; the deliveries' ids."""
        with self._writing() as conn:
            return release(conn, now, plan)

    def ops_told(self) -> dict[str, datetime]:
        """Subjects already alerted as down, and since when they failed."""
        with self._reading() as conn:
            return ops_told(conn)

    def failing_channels(self) -> dict[str, tuple[datetime, str | None]]:
        """Per failing channel: since when, and its last error."""
        with self._reading() as conn:
            return failing_channels(conn)

    def queue_ops(
        self,
        now: datetime,
        messages: Sequence[Notification],
        told: Mapping[str, datetime | None],
    ) -> None:
        """Queue ops messages and note what was told, in one transaction."""
        with self._writing() as conn:
            queue_ops(conn, now, messages, told)

"""The state file: runs, events and the delivery outbox in one SQLite file (record and ack stages).

One daemon writes it, holding an flock on `<db>.lock`; the CLI reads and tracks through its own
connection meanwhile, which WAL allows. Every sqlite3 error is translated into a one-line
StateError naming the file. Times are passed in (`now`, `at`): the store never reads a clock.

Durability: WAL with synchronous=NORMAL keeps every committed transaction across a process
crash (kill -9), which is what the outbox promises. A power loss may drop the last few
commits (they are synced at checkpoint, not at commit); that is out of scope.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from pydantic import ValidationError

from watcher.errors import StateError, StateLocked
from watcher.events import Attempt, Delivery, Snapshot, Source, TickRecord
from watcher.migrations import open_connection, reason
from watcher.models import TERMINAL_STATUSES, Run

__all__ = ["AttemptEntry", "HistoryEntry", "StatusRow", "Store"]

_TERMINAL_JSON = json.dumps(sorted(TERMINAL_STATUSES))
_NEW_TO_CALLER = -1  # revision of a run the caller's snapshots did not hold
_STALE = -1  # a data_version SQLite never reports


def _ts(value: datetime) -> str:
    """One fixed UTC format with microseconds, so TEXT comparison in SQL orders by time."""
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the state file stores aware UTC times")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _ts_or_none(value: datetime | None) -> str | None:
    return None if value is None else _ts(value)


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _dt_or_none(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


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


@dataclass(frozen=True, slots=True)
class AttemptEntry:
    """One try at sending a delivery."""

    at: datetime
    ok: bool
    reason: str | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of `history`: a status change (kind "event") or an alert (kind "delivery")."""

    kind: Literal["event", "delivery"]
    id: int  # the event's or the delivery's id
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


_UPSERT_RUN = """
INSERT INTO runs (run_id, source, status, status_since, first_seen, last_polled, gone, muted,
                  run_json)
VALUES (:run_id, :source, :status, :status_since, :first_seen, :last_polled, :gone, :muted,
        :run_json)
ON CONFLICT (run_id) DO UPDATE SET
    source = CASE WHEN :rev = -1 THEN runs.source ELSE excluded.source END,
    status = excluded.status,
    status_since = excluded.status_since,
    first_seen = excluded.first_seen,
    last_polled = excluded.last_polled,
    gone = excluded.gone,
    muted = excluded.muted,
    run_json = excluded.run_json,
    pruned_at = CASE WHEN excluded.run_json IS NULL THEN runs.pruned_at END
-- Lost-update guard: overwrite only a row the caller read at its current revision (track and
-- untrack bump it), or one that `track` created meanwhile and nobody has observed yet.
WHERE :rev IS NULL OR runs.user_rev = :rev
   OR (:rev = -1 AND runs.status IS NULL AND runs.muted = 0)
"""

_RUN_IDS_OF = """
SELECT DISTINCT de.delivery_id, e.run_id FROM delivery_events de JOIN events e ON e.id = de.event_id
WHERE de.delivery_id IN (SELECT value FROM json_each(?)) ORDER BY de.delivery_id, e.id
"""


class Store:
    """The watcher's state file; open it with `Store.open(path)` and close it when done."""

    path: Path

    def __init__(self, path: Path, conn: sqlite3.Connection, *, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        conn.row_factory = sqlite3.Row
        self._conn: sqlite3.Connection | None = conn
        self._mutex = threading.RLock()  # the connection is shared with worker threads
        self._lock_fd: int | None = None
        # Snapshot cache, with each row's user_rev and the data_version it was read at.
        self._snaps: dict[str, Snapshot] | None = None
        self._revs: dict[str, int] = {}
        self._data_version = _STALE

    # -- opening and closing ------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> Store:
        """Open (creating, validating and migrating as needed) the state file at `path`."""
        path = Path(path)
        conn, readonly = open_connection(path, create=create)
        return cls(path, conn, readonly=readonly)

    def close(self) -> None:
        """Close the connection and release the daemon lock; safe to call twice."""
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._lock_fd is not None:
                with suppress(OSError):
                    os.ftruncate(self._lock_fd, 0)
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def acquire_daemon_lock(self) -> None:
        """Take the one-daemon-per-file lock (flock on `<db>.lock`) until close()."""
        with self._mutex:
            if self._lock_fd is not None:
                return
            lock_path = self.path.with_name(self.path.name + ".lock")
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StateError(f"cannot lock state file {self.path}: {exc.strerror}") from exc
            try:
                # flock, not fcntl locks: it belongs to this open file, so the kernel drops it
                # when the process dies however it dies, and a later close() of an unrelated
                # descriptor on the same file does not release it.
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise StateLocked(
                    f"another dataframer-watcher (pid {holder}) is already using"
                    f" state file {self.path}"
                ) from None
            # The lock file is never deleted: unlinking it would let a newcomer lock a fresh
            # inode while a waiter still holds the old one.
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._lock_fd = fd

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError(f"state file {self.path} is closed")
        return self._conn

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._mutex:
            try:
                yield self._db
            except sqlite3.Error as exc:
                raise StateError(f"cannot read state file {self.path}: {reason(exc)}") from exc

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; BEGIN IMMEDIATE so any wait for the lock happens up-front."""
        with self._mutex:
            conn = self._db
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        with suppress(sqlite3.Error):
                            conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StateError(f"cannot write state file {self.path}: {reason(exc)}") from exc

    # -- tracking -----------------------------------------------------------------------------

    def track(self, run_ids: Iterable[str], now: datetime) -> dict[str, str]:
        """Watch runs by id; per id "added", "already tracked", "re-armed" or "unmuted".

        A run is re-armed (its status forgotten, so its next observation announces it once)
        when it is muted or discovered, finished, and was never alerted; a muted run that
        was alerted or is still active is just unmuted. Either way it becomes explicit.
        """
        at = _ts(now)
        results: dict[str, str] = {}
        with self._writing() as conn:
            for run_id in dict.fromkeys(run_ids):
                row = conn.execute(
                    "SELECT source, status, gone, muted, alerted_at FROM runs WHERE run_id = ?",
                    (run_id,),
                ).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO runs (run_id, source, user_rev, user_changed_at)"
                        " VALUES (?, 'explicit', 1, ?)",
                        (run_id, at),
                    )
                    results[run_id] = "added"
                    continue
                source, status, gone, muted, alerted_at = row
                if muted:
                    results[run_id] = "unmuted"
                elif source == Source.EXPLICIT:
                    results[run_id] = "already tracked"
                    continue
                else:
                    results[run_id] = "already tracked"  # discovered: now explicit too
                if status in TERMINAL_STATUSES and alerted_at is None and not gone:
                    results[run_id] = "re-armed"
                    conn.execute(
                        "UPDATE runs SET status = NULL, status_since = NULL, pruned_at = NULL"
                        " WHERE run_id = ?",
                        (run_id,),
                    )
                conn.execute(
                    "UPDATE runs SET source = 'explicit', muted = 0, user_rev = user_rev + 1,"
                    " user_changed_at = ? WHERE run_id = ?",
                    (at, run_id),
                )
            self._reload_snapshots()
        return results

    def untrack(self, run_ids: Iterable[str], now: datetime) -> dict[str, str]:
        """Stop watching runs; per id "untracked" (kept, muted) or "not tracked".

        The row stays so discovery does not announce the run again; deliveries already
        queued for it still go out.
        """
        at = _ts(now)
        results: dict[str, str] = {}
        with self._writing() as conn:
            for run_id in dict.fromkeys(run_ids):
                cur = conn.execute(
                    "UPDATE runs SET muted = 1, user_rev = user_rev + 1, user_changed_at = ?"
                    " WHERE run_id = ? AND muted = 0",
                    (at, run_id),
                )
                results[run_id] = "untracked" if cur.rowcount else "not tracked"
            self._reload_snapshots()
        return results

    def _reload_snapshots(self) -> None:
        # Our own writes do not move data_version, so force the next snapshots() to re-read.
        # The cached revisions stay: a tick computed from them before this write must still
        # be stopped from overwriting it.
        self._data_version = _STALE

    def snapshots(self) -> dict[str, Snapshot]:
        """Every run row (muted and gone included); re-read only after another process wrote."""
        with self._reading() as conn:
            version = int(conn.execute("PRAGMA data_version").fetchone()[0])
            if self._snaps is None or version != self._data_version:
                # data_version is read first: a write landing during the load only causes
                # one more reload next time, never a stale cache.
                self._snaps, self._revs = _load_snapshots(conn)
                self._data_version = version
            return dict(self._snaps)

    def get_meta(self, key: str) -> str | None:
        """A value from the meta table, or None."""
        with self._reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a value in the meta table."""
        with self._writing() as conn:
            _set_meta(conn, key, value)

    @property
    def baseline_done(self) -> bool:
        """Whether the silent first discovery pass has been recorded."""
        return self.get_meta("discovery_baseline") is not None

    # -- the record stage ---------------------------------------------------------------------

    def record(self, tick: TickRecord) -> list[int]:
        """Write a tick's snapshots, events and pending deliveries in ONE transaction.

        All or nothing: any failure rolls everything back and raises StateError.
        Returns the new deliveries' ids, in the order of tick.notifications.
        """
        try:
            with self._writing() as conn:
                delivery_ids = self._record(conn, tick)
        except StateError:
            raise
        except Exception as exc:
            raise StateError(
                f"cannot record tick in state file {self.path}: {reason(exc)}"
            ) from exc
        if self._snaps is not None:
            for snap in tick.snapshots:
                self._snaps[snap.run_id] = snap
                self._revs.setdefault(snap.run_id, 0)
        return delivery_ids

    def _record(self, conn: sqlite3.Connection, tick: TickRecord) -> list[int]:
        at = _ts(tick.at)
        conn.executemany(_UPSERT_RUN, (self._run_params(snap) for snap in tick.snapshots))
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
                    _ts(e.at),
                    int(e.alert),
                    _ts_or_none(e.previous_since),
                )
                for eid, e in zip(event_ids, tick.events, strict=True)
            ),
        )
        conn.executemany(
            "UPDATE runs SET alerted_at = COALESCE(alerted_at, ?) WHERE run_id = ?",
            ((_ts(e.at), e.run_id) for e in tick.events if e.alert),
        )
        delivery_ids: list[int] = []
        for note in tick.notifications:
            indexes = list(dict.fromkeys(note.event_indexes))
            bad = [i for i in indexes if not 0 <= i < len(event_ids)]
            if bad:
                raise StateError(
                    f"cannot record tick in state file {self.path}: the notification for"
                    f" channel {note.channel!r} names event {bad[0]} of {len(event_ids)}"
                )
            cur = conn.execute(
                "INSERT INTO deliveries (channel, title, body, status, created_at, next_attempt_at)"
                " VALUES (?, ?, ?, 'pending', ?, ?)",
                (note.channel, note.title, note.body, at, at),
            )
            assert cur.lastrowid is not None
            delivery_ids.append(cur.lastrowid)
            conn.executemany(
                "INSERT INTO delivery_events (delivery_id, event_id) VALUES (?, ?)",
                ((cur.lastrowid, event_ids[i]) for i in indexes),
            )
        if tick.baseline_done:
            _set_meta(conn, "discovery_baseline", at)
        _set_meta(conn, "last_tick_at", at)
        return delivery_ids

    def _run_params(self, snap: Snapshot) -> dict[str, Any]:
        if self._snaps is None:
            rev: int | None = None  # the caller did not read through us: no guard
        else:
            rev = self._revs.get(snap.run_id, _NEW_TO_CALLER)
        run_json = None if snap.run is None else json.dumps(snap.run.to_json_dict())
        return {
            "run_id": snap.run_id,
            "source": str(snap.source),
            "status": snap.status,
            "status_since": _ts_or_none(snap.status_since),
            "first_seen": _ts_or_none(snap.first_seen),
            "last_polled": _ts_or_none(snap.last_polled),
            "gone": int(snap.gone),
            "muted": int(snap.muted),
            "run_json": run_json,
            "rev": rev,
        }

    # -- the deliver and ack stages -----------------------------------------------------------

    def due_deliveries(
        self, now: datetime, *, limit: int = 100, channels: Collection[str] | None = None
    ) -> list[Delivery]:
        """Pending or retrying deliveries whose next attempt is due, oldest first."""
        wanted = None if channels is None else json.dumps(sorted(channels))
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT * FROM deliveries WHERE status IN ('pending', 'retrying')"
                " AND next_attempt_at <= ?"
                " AND (? IS NULL OR channel IN (SELECT value FROM json_each(?)))"
                " ORDER BY id LIMIT ?",
                (_ts(now), wanted, wanted, limit),
            ).fetchall()
            run_ids = _run_ids_of(conn, [row["id"] for row in rows])
        return [
            Delivery(
                id=row["id"],
                channel=row["channel"],
                title=row["title"],
                body=row["body"],
                created_at=_dt(row["created_at"]),
                attempts=row["attempts"],
                first_attempt_at=_dt_or_none(row["first_attempt_at"]),
                done_urls=frozenset(json.loads(row["done_urls"])),
                run_ids=run_ids.get(row["id"], ()),
            )
            for row in rows
        ]

    def record_attempt(self, attempt: Attempt) -> None:
        """Log one try and move the delivery to sent, dead or retrying.

        A report about a delivery already finished changes nothing, except that a success
        turns a dead delivery into a sent one (the message did go out).
        """
        if attempt.ok:
            status, next_at = "sent", None
        elif attempt.dead:
            status, next_at = "dead", None
        else:
            status, next_at = "retrying", _ts(attempt.next_attempt_at or attempt.at)
        at = _ts(attempt.at)
        with self._writing() as conn:
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
                    json.dumps(sorted(attempt.done_urls)),
                    None if attempt.ok else attempt.reason,
                    attempt.delivery_id,
                    attempt.ok,
                ),
            )
            if cur.rowcount == 0:
                if conn.execute(
                    "SELECT 1 FROM deliveries WHERE id = ?", (attempt.delivery_id,)
                ).fetchone():
                    return
                raise StateError(f"no delivery {attempt.delivery_id} in state file {self.path}")
            conn.execute(
                "INSERT INTO delivery_attempts (delivery_id, at, ok, reason) VALUES (?, ?, ?, ?)",
                (attempt.delivery_id, at, int(attempt.ok), attempt.reason),
            )

    def dead_letter(self, delivery_id: int, at: datetime, reason: str) -> None:
        """Give up on an unfinished delivery without trying it (e.g. its channel was removed)."""
        with self._writing() as conn:
            conn.execute(
                "UPDATE deliveries SET status = 'dead', next_attempt_at = NULL, last_error = ?,"
                " finished_at = ? WHERE id = ? AND status IN ('pending', 'retrying')",
                (reason, _ts(at), delivery_id),
            )

    def redeliver(self, now: datetime, *, channel: str | None = None) -> int:
        """Queue dead deliveries again, with a fresh retry horizon; returns how many."""
        with self._writing() as conn:
            cur = conn.execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, attempts = 0,"
                " first_attempt_at = NULL, finished_at = NULL"
                " WHERE status = 'dead' AND (? IS NULL OR channel = ?)",
                (_ts(now), channel, channel),
            )
            return cur.rowcount

    def pending_count(self) -> int:
        """Deliveries not yet sent nor dead."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'retrying')"
            ).fetchone()
        return int(row[0])

    def prune(self, now: datetime, retention_seconds: float) -> int:
        """Forget finished runs older than the retention; returns how many runs were pruned.

        Their events, deliveries and attempts go; the run row stays as a tombstone without
        its JSON, so discovery never announces it again. A run with unfinished deliveries
        is left alone.
        """
        cutoff = _ts(now - timedelta(seconds=retention_seconds))
        with self._writing() as conn:
            run_ids = [
                row[0]
                for row in conn.execute(
                    "SELECT run_id FROM runs r WHERE pruned_at IS NULL"
                    " AND (gone = 1 OR status IN (SELECT value FROM json_each(?)))"
                    " AND COALESCE(status_since, last_polled, first_seen) < ?"
                    " AND NOT EXISTS (SELECT 1 FROM events e"
                    "   JOIN delivery_events de ON de.event_id = e.id"
                    "   JOIN deliveries d ON d.id = de.delivery_id"
                    "   WHERE e.run_id = r.run_id AND d.status IN ('pending', 'retrying'))",
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
            conn.execute(
                "DELETE FROM events WHERE run_id IN (SELECT value FROM json_each(?))", (ids,)
            )
            conn.execute(
                "DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?)) AND NOT EXISTS"
                " (SELECT 1 FROM delivery_events WHERE delivery_id = deliveries.id)",
                (json.dumps(linked),),
            )
            conn.execute(
                "UPDATE runs SET run_json = NULL, pruned_at = ?"
                " WHERE run_id IN (SELECT value FROM json_each(?))",
                (_ts(now), ids),
            )
            self._reload_snapshots()
        return len(run_ids)

    # -- views for the CLI --------------------------------------------------------------------

    def status_rows(self) -> list[StatusRow]:
        """Every watched run (not muted, not pruned): active first, then newest change first."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT run_id, source, status, status_since, last_polled, gone,"
                " json_extract(run_json, '$.spec_name') AS spec_name,"
                " json_extract(run_json, '$.samples_completed') AS samples_completed,"
                " json_extract(run_json, '$.samples_failed') AS samples_failed,"
                " json_extract(run_json, '$.total_cost') AS total_cost,"
                " json_extract(run_json, '$.created_by_email') AS created_by"
                " FROM runs WHERE muted = 0 AND pruned_at IS NULL"
                " ORDER BY (gone = 1 OR status IN (SELECT value FROM json_each(?))),"
                " status_since IS NOT NULL, status_since DESC, run_id",
                (_TERMINAL_JSON,),
            ).fetchall()
        # The JSON came from the API: take its values only when they have the expected type.
        return [
            StatusRow(
                run_id=row["run_id"],
                source=Source(row["source"]),
                status=row["status"],
                since=_dt_or_none(row["status_since"]),
                last_polled=_dt_or_none(row["last_polled"]),
                gone=bool(row["gone"]),
                spec_name=_str(row["spec_name"]),
                samples_completed=_int(row["samples_completed"]),
                samples_failed=_int(row["samples_failed"]),
                total_cost=_float(row["total_cost"]),
                created_by=_str(row["created_by"]),
            )
            for row in rows
        ]

    def delivery_counts(self) -> dict[str, dict[str, int]]:
        """Per channel, how many deliveries are pending, retrying, sent and dead."""
        counts: dict[str, dict[str, int]] = {}
        with self._reading() as conn:
            for channel, status, n in conn.execute(
                "SELECT channel, status, COUNT(*) FROM deliveries GROUP BY channel, status"
            ):
                per = counts.setdefault(channel, dict.fromkeys(_DELIVERY_STATES, 0))
                per[status] = n
        return counts

    def history(self, run_id: str | None = None, *, limit: int = 50) -> list[HistoryEntry]:
        """Transitions and deliveries, newest first; with run_id, only those about that run."""
        with self._reading() as conn:
            events = conn.execute(
                "SELECT * FROM events"
                " WHERE ? IS NULL OR run_id = ? ORDER BY at DESC, id DESC LIMIT ?",
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
            run_ids = _run_ids_of(conn, ids)
            attempts: dict[int, list[AttemptEntry]] = {}
            for row in conn.execute(
                "SELECT * FROM delivery_attempts"
                " WHERE delivery_id IN (SELECT value FROM json_each(?)) ORDER BY at, id",
                (json.dumps(ids),),
            ):
                attempts.setdefault(row["delivery_id"], []).append(
                    AttemptEntry(_dt(row["at"]), bool(row["ok"]), row["reason"])
                )
        entries = [
            HistoryEntry(
                kind="event",
                id=row["id"],
                at=_dt(row["at"]),
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
                at=_dt(row["created_at"]),
                run_ids=run_ids.get(row["id"], ()),
                channel=row["channel"],
                title=row["title"],
                status=row["status"],
                attempts=row["attempts"],
                last_error=row["last_error"],
                finished_at=_dt_or_none(row["finished_at"]),
                attempt_log=tuple(attempts.get(row["id"], ())),
            )
            for row in deliveries
        ]
        # Newest first; at the same instant a delivery sorts above the event that caused it.
        entries.sort(key=lambda e: (e.at, e.kind == "delivery", e.id), reverse=True)
        return entries[:limit]


_DELIVERY_STATES = ("pending", "retrying", "sent", "dead")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def _run_ids_of(conn: sqlite3.Connection, delivery_ids: list[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for delivery_id, run_id in conn.execute(_RUN_IDS_OF, (json.dumps(delivery_ids),)):
        ids = found.setdefault(delivery_id, [])
        if run_id not in ids:
            ids.append(run_id)
    return {k: tuple(v) for k, v in found.items()}


def _load_snapshots(conn: sqlite3.Connection) -> tuple[dict[str, Snapshot], dict[str, int]]:
    snaps: dict[str, Snapshot] = {}
    revs: dict[str, int] = {}
    for row in conn.execute("SELECT * FROM runs"):
        run = None
        if row["run_json"] is not None:
            # A row an older model wrote and this one rejects loses its detail, not the watch.
            with suppress(ValidationError):
                run = Run.model_validate_json(row["run_json"])
        snaps[row["run_id"]] = Snapshot(
            run_id=row["run_id"],
            source=Source(row["source"]),
            status=row["status"],
            status_since=_dt_or_none(row["status_since"]),
            first_seen=_dt_or_none(row["first_seen"]),
            last_polled=_dt_or_none(row["last_polled"]),
            gone=bool(row["gone"]),
            muted=bool(row["muted"]),
            run=run,
        )
        revs[row["run_id"]] = row["user_rev"]
    return snaps, revs

"""The state file: runs, events and the delivery outbox in one SQLite file (record and ack stages).

One daemon writes it, holding an flock on `<db>.lock`; the CLI reads and tracks through its own
connection meanwhile, which WAL allows. Every sqlite3 error is translated into a one-line
StateError naming the file. Times are passed in (`now`, `at`): the store never reads a clock.

Durability: WAL with synchronous=NORMAL keeps every committed transaction across a process
crash (kill -9), which is what the outbox promises. A power loss may drop the last few
commits (they are synced at checkpoint, not at commit); that is out of scope.

`Store` owns the connection, the lock, the transactions and the snapshot cache; the SQL of each
stage sits beside it: `watcher.state.record` (record, prune), `watcher.state.outbox` (deliver
and ack: mixed in, `OutboxBook`), `watcher.state.actions` and `watcher.state.alerts` (mixed
in too) and `watcher.state.queries` (the CLI's status and history). The file's format is in
`watcher.state.schema` (its migrations in `watcher.state.migrations`); its time format in
`watcher.state.timestamps`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType

import watcher.state.queries as state_views
import watcher.state.record as state_record
from watcher.errors import StateConflict, StateError, StateReplaced
from watcher.events import Snapshot, Source, TickRecord
from watcher.models import TERMINAL_STATUSES, Job, is_terminal
from watcher.state.actions import ActionBook
from watcher.state.alerts import AlertBook
from watcher.state.lock import DaemonLock
from watcher.state.outbox import OutboxBook
from watcher.state.progress import ProgressBook
from watcher.state.queries import AttemptEntry, HistoryEntry, StatusRow
from watcher.state.schema import open_connection, reason
from watcher.state.timestamps import ts

__all__ = ["AttemptEntry", "HistoryEntry", "StatusRow", "Store", "TrackResult"]

_STALE = -1  # a data_version SQLite never reports


class TrackResult(StrEnum):
    """What `track` did to one run id, in the words the command prints (README: Commands)."""

    ADDED = "added"
    ALREADY = "already tracked"
    AGAIN = "tracked again"  # it had been untracked
    TO_ANNOUNCE = "tracked again; it finished without an alert and will be announced once"


class Store(AlertBook, ActionBook, OutboxBook, ProgressBook):
    """The watcher's state file; open it with `Store.open(path)` and close it when done."""

    path: Path

    def __init__(self, path: Path, conn: sqlite3.Connection, *, readonly: bool) -> None:
        self.path = path
        self.readonly = readonly
        self._identity = _identity(path)  # the file this connection opened, by device and inode
        conn.row_factory = sqlite3.Row
        self._conn: sqlite3.Connection | None = conn
        self._mutex = threading.RLock()  # the connection is shared with worker threads
        self._lock: DaemonLock | None = None
        # Snapshot cache, with each row's user_rev and the data_version it was read at.
        self._snaps: dict[str, Snapshot] | None = None
        self._live: set[str] = set()  # the cached runs not finished: a tick looks at these only
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
            if self._lock is not None:
                self._lock.release()
                self._lock = None

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
        """Take the one-daemon-per-file lock (`watcher.state.lock`) until close()."""
        with self._mutex:
            if self._lock is None:
                self._lock = DaemonLock.acquire(self.path)

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
            self._regain_write_access()
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

    def _regain_write_access(self) -> None:
        """Reopen read-write a file opened read-only that has become writable since (a disk
        remounted, a permission fixed), so a long-running daemon carries on by itself."""
        if not self.readonly or self._conn is None:
            return
        if not (os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)):
            return
        try:
            conn, readonly = open_connection(self.path, create=False)
        except StateError:
            return  # the write that follows fails on the old connection, with one clear line
        if readonly:
            conn.close()
            return
        conn.row_factory = sqlite3.Row
        self._conn.close()
        self._conn, self.readonly = conn, False
        self._identity = _identity(self.path)
        self._data_version = _STALE

    def check_in_place(self) -> None:
        """Raise StateReplaced unless the path still names the file this store opened.

        A state file deleted, or replaced by another (a restore, an editor's save), under an
        open connection keeps taking writes into the old inode: alerts recorded there are seen
        by nobody, and `track` writes into the new file that this store never reads.
        """
        current = _identity(self.path)
        if current is None or current != self._identity:
            what = "deleted" if current is None else "replaced by another file"
            raise StateReplaced(
                f"state file {self.path} was {what} while the daemon had it open; restart"
                " the daemon so that it opens the file that is there now"
            )

    # -- tracking -----------------------------------------------------------------------------

    def track(self, run_ids: Iterable[str], now: datetime) -> dict[str, str]:
        """Watch runs by id; per id one of the `TrackResult` words.

        A run that finished without an alert (while untracked, or during the silent discovery
        baseline) has its status forgotten, so its next observation announces it once; an
        untracked run that was alerted or is still active is just tracked again. Either way
        it becomes explicit.
        """
        at = ts(now)
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
                    results[run_id] = TrackResult.ADDED
                    continue
                source, status, gone, muted, alerted_at = row
                if muted:
                    results[run_id] = TrackResult.AGAIN
                elif source == Source.EXPLICIT:
                    results[run_id] = TrackResult.ALREADY
                    continue
                else:
                    results[run_id] = TrackResult.ALREADY  # discovered: now explicit too
                if status in TERMINAL_STATUSES and alerted_at is None and not gone:
                    results[run_id] = TrackResult.TO_ANNOUNCE
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
        at = ts(now)
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
        # Our own writes do not move data_version: force a re-read. The cached revisions stay,
        # so a tick computed from them before this write is still stopped from overwriting it.
        self._data_version = _STALE

    def snapshots(self) -> dict[str, Snapshot]:
        """Every run row (muted and gone included); re-read only after another process wrote."""
        with self._reading() as conn:
            version = int(conn.execute("PRAGMA data_version").fetchone()[0])
            if self._snaps is None or version != self._data_version:
                # data_version is read first: a write landing during the load only causes
                # one more reload next time, never a stale cache.
                self._snaps, self._revs = state_record.load_snapshots(conn)
                self._live = {r for r, snap in self._snaps.items() if not is_terminal(snap.status)}
                self._data_version = version
            return dict(self._snaps)

    def live_ids(self) -> frozenset[str]:
        """The runs of the last `snapshots()` not finished (100,000 runs: a few hundred)."""
        return frozenset(self._live)

    def stored_run(self, run_id: str) -> Job | None:
        """A run's data as last recorded, finished or not (`render --run`); None if none."""
        with self._reading() as conn:
            return state_record.load_run(conn, run_id)

    def get_meta(self, key: str) -> str | None:
        """A value from the meta table, or None."""
        with self._reading() as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def check_writable(self) -> None:
        """Raise StateError unless the file takes a write now (read-only, full, deleted...).

        A counter is bumped: a transaction that changed nothing would never touch the file.
        """
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('write_checks', '1') ON CONFLICT (key)"
                " DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
            )

    @property
    def baseline_done(self) -> bool:
        """Whether the silent first discovery pass of generation runs has been recorded."""
        return self.get_meta(state_record.baseline_key("run")) is not None

    # -- the record stage ---------------------------------------------------------------------

    def record(self, tick: TickRecord) -> list[int]:
        """Write a tick's snapshots, events and pending deliveries in ONE transaction.

        All or nothing: any failure rolls everything back and raises StateError.
        Returns the new deliveries' ids, in the order of tick.notifications.
        """
        try:
            with self._writing() as conn:
                revs = None if self._snaps is None else self._revs
                delivery_ids = state_record.write_tick(conn, tick, revs, path=self.path)
        except (StateError, StateConflict):  # already one clear line
            raise
        except Exception as exc:
            raise StateError(
                f"cannot record tick in state file {self.path}: {reason(exc)}"
            ) from exc
        if self._snaps is not None:
            for snap in tick.snapshots:
                # As load_snapshots does: a finished run's data stays in the file only.
                final = is_terminal(snap.status)
                self._snaps[snap.run_id] = replace(snap, run=None) if final else snap
                (self._live.discard if final else self._live.add)(snap.run_id)
                self._revs.setdefault(snap.run_id, 0)
        return delivery_ids

    def prune(self, now: datetime, retention_seconds: float) -> int:
        """Forget finished runs older than the retention (`state.record.prune`); how many."""
        with self._writing() as conn:
            pruned = state_record.prune(conn, now, retention_seconds)
            if pruned:
                self._reload_snapshots()
        return pruned

    # -- views for the CLI --------------------------------------------------------------------

    def status_rows(
        self,
        *,
        labels: Collection[str] | None = None,
        finished: bool | None = None,
        limit: int | None = None,
    ) -> list[StatusRow]:
        """Watched runs (not muted, not pruned), active first, then newest change first;
        filtered as `watcher.state.queries.status_rows` says."""
        with self._reading() as conn:
            return state_views.status_rows(conn, labels=labels, finished=finished, limit=limit)

    def status_counts(self) -> dict[tuple[str, str], int]:
        """Watched runs per (kind, status) ("GONE", "UNSEEN" included), for metrics."""
        with self._reading() as conn:
            return state_views.status_counts(conn)

    def delivery_counts(self) -> dict[str, dict[str, int]]:
        """Per channel, how many deliveries are pending, retrying, sent and dead."""
        with self._reading() as conn:
            return state_views.delivery_counts(conn)

    def history(self, run_id: str | None = None, *, limit: int = 50) -> list[HistoryEntry]:
        """Transitions and deliveries, newest first; with run_id, only those about that run."""
        with self._reading() as conn:
            return state_views.history(conn, run_id, limit=limit)


def _identity(path: Path) -> tuple[int, int] | None:
    """The device and inode `path` names now, or None when nothing is there."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino

"""The state file's format: its migrations applied in order, and the checks that recognise a
state file before anything writes to it.

`MIGRATIONS[n]` (the SQL, in `watcher.state.migrations`) takes a file from schema version n
to n + 1; the version lives in `PRAGMA user_version`. Each migration runs in its own
transaction together with the version bump, so a crash mid-upgrade leaves the file at the
previous version, intact. Never edit a released migration: append a new one.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import suppress
from pathlib import Path

from watcher.errors import StateError
from watcher.state.migrations import CURRENT_VERSION, MIGRATIONS, TABLES

__all__ = ["CURRENT_VERSION", "MIGRATIONS", "TABLES", "migrate", "open_connection", "reason"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
_BUSY_TIMEOUT_S = 5.0


def migrate(conn: sqlite3.Connection, *, target: int = CURRENT_VERSION) -> int:
    """Apply every migration the file lacks, one transaction each; returns the final version.

    The version is re-read inside each write transaction, so two processes opening a fresh
    file at once do not both apply a migration. The connection must be in autocommit mode
    (`isolation_level=None`): executescript() would commit behind our back, so statements
    run one by one.
    """
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version >= target:
                conn.execute("ROLLBACK")
                return version
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def reason(exc: BaseException) -> str:
    """An exception's message on one line, for errors that must fit one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


# -- recognising a state file before anything writes to it ------------------------------------


def open_connection(path: Path, *, create: bool) -> tuple[sqlite3.Connection, bool]:
    """Create, recognise and migrate the state file; its connection and whether it is read-only.

    A file that is not ours, damaged, or from a newer watcher is refused with a one-line
    StateError before anything can write to it.
    """
    if path.is_dir():
        raise StateError(f"state file {path} is a directory; point state.path at a file")
    if not path.exists():
        if not create:
            raise StateError(f"no state file at {path} (has the watcher run yet?)")
        _create_empty(path)
    elif not path.is_file():
        raise StateError(f"state file {path} is not a regular file")
    _check_header(path)
    version = _inspect(path)
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    if not writable and version < CURRENT_VERSION:
        raise StateError(
            f"state file {path} needs upgrading from schema v{version} to"
            f" v{CURRENT_VERSION} but is read-only; run the watcher once with write access"
        )
    try:
        conn = _connect(path, readonly=not writable)
    except sqlite3.Error as exc:
        raise StateError(f"cannot open state file {path}: {reason(exc)}") from exc
    try:
        if writable:
            # Outside any transaction: both pragmas are no-ops inside one.
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise StateError(f"cannot prepare state file {path}: {reason(exc)}") from exc
    return conn, not writable


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    # mode=rw never creates a file: a path that vanished fails instead of starting afresh.
    uri = f"{path.absolute().as_uri()}?mode={'ro' if readonly else 'rw'}"
    shm = path.with_name(path.name + "-shm")
    if readonly and not shm.exists() and not os.access(path.parent, os.W_OK):
        # SQLite cannot read a WAL file without a -shm beside it, nor create one here. No
        # -shm means no live writer, so reading it as unchanging is safe (and never writes).
        uri += "&immutable=1"
    conn = sqlite3.connect(
        uri, uri=True, isolation_level=None, timeout=_BUSY_TIMEOUT_S, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
    return conn


def _create_empty(path: Path) -> None:
    try:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StateError(
                f"cannot create state file {path}: {path.parent} is not a directory"
            ) from None
        # Another process may create it first: fine, it is validated next.
        with suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise StateError(f"cannot create state file {path}: {exc.strerror}") from exc


def _not_ours(path: Path, why: str) -> StateError:
    return StateError(
        f"state file {path} is not a watcher state file ({why});"
        " move it aside or point state.path elsewhere"
    )


def _check_header(path: Path) -> None:
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise StateError(f"cannot read state file {path}: {exc.strerror}") from exc
    if head and head != _SQLITE_MAGIC:  # an empty file is a new database
        raise _not_ours(path, "file is not a database")


def _inspect(path: Path) -> int:
    """Validate the file through a read-only connection (which cannot damage it); its version."""
    sidecars = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    existed = [p.exists() for p in sidecars]
    try:
        conn = _connect(path, readonly=True)
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            check = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        _remove_new_sidecars(sidecars, existed)
        raise _not_ours(path, reason(exc)) from exc
    error = None
    if check != [("ok",)]:
        detail = " ".join(str(check[0][0]).replace("*** in database main ***", "").split())
        error = _not_ours(path, f"corrupt: {detail[:200]}")
    elif version > CURRENT_VERSION:
        error = StateError(
            f"state file {path} has schema version {version}, newer than this watcher knows"
            f" ({CURRENT_VERSION}); upgrade dataframer-watcher or point state.path elsewhere"
        )
    elif version == 0 and tables:
        error = _not_ours(path, "it holds another application's tables")
    elif version > 0 and not TABLES[version] <= tables:
        error = _not_ours(path, f"tables missing: {', '.join(sorted(TABLES[version] - tables))}")
    if error is not None:
        _remove_new_sidecars(sidecars, existed)
        raise error
    return version


def _remove_new_sidecars(sidecars: list[Path], existed: list[bool]) -> None:
    """Remove the empty -wal/-shm files our failed look at a bad file left beside it."""
    wal = sidecars[0]
    if existed[0] or (wal.exists() and wal.stat().st_size > 0):
        return
    for sidecar, was_there in zip(sidecars, existed, strict=True):
        if not was_there:
            with suppress(OSError):
                sidecar.unlink()

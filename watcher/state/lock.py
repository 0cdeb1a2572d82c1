"""One daemon per state file: an exclusive flock on `<db>.lock`, released when the daemon ends.

flock, not fcntl locks: it belongs to this open file, so the kernel drops it when the process
dies however it dies, and a later close() of an unrelated descriptor on the same file does not
release it. The lock file holds the holder's pid, for the message a second daemon gets.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import suppress
from pathlib import Path

from watcher.errors import StateError, StateLocked

__all__ = ["DaemonLock"]


class DaemonLock:
    """The held lock of one state file; `release` it (once) when done."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_path: Path) -> DaemonLock:
        """Lock `state_path` for this process; StateLocked if another daemon holds it."""
        lock_path = state_path.with_name(state_path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StateError(_refused(lock_path, exc)) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StateLocked(
                f"another dataframer-watcher (pid {holder}) is already using"
                f" state file {state_path}"
            ) from None
        # The lock file is never deleted: unlinking it would let a newcomer lock a fresh inode
        # while a waiter still holds the old one.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(lock_path, fd)

    def release(self) -> None:
        """Give the lock up (closing its file drops the flock); safe to call twice."""
        if self._fd is None:
            return
        with suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None


def _refused(lock_path: Path, exc: OSError) -> str:
    """Why the daemon lock could not be taken, naming the lock file and who refused it."""
    why = exc.strerror or type(exc).__name__
    if lock_path.exists():
        return f"cannot open the daemon lock file {lock_path}: {why}"
    return (
        f"cannot create the daemon lock file {lock_path}: the directory {lock_path.parent}"
        f" refused it ({why}); the daemon needs write access to the state file's directory"
    )

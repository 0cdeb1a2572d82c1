"""Files for the tests: write one, or make some immutable (even root cannot write them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write(path: Path, text: str) -> Path:
    """Write `text` to `path`; returns the path."""
    path.write_text(text)
    return path


def _chattr(flag: str, *paths: Path) -> None:
    chattr = shutil.which("chattr") or "chattr"
    subprocess.run([chattr, flag, *map(str, paths)], check=True, capture_output=True)


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """Make files immutable (as root: even root cannot write them) for the block's length."""
    _chattr("+i", *paths)
    try:
        yield
    finally:
        _chattr("-i", *paths)


def can_make_immutable(tmp_path: Path) -> bool:
    """Whether `immutable` works here: root, chattr, and a file system that honours +i."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        return False
    probe = tmp_path / "immutable-probe"
    probe.write_text("x")
    try:
        with immutable(probe):
            try:
                probe.write_text("y")
            except PermissionError:
                return True
            return False
    except (subprocess.CalledProcessError, OSError):
        return False
    finally:
        probe.unlink(missing_ok=True)

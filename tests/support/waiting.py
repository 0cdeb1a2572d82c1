"""Bounded waits: poll a condition until it holds, never a timing assertion."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    predicate: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll until predicate() is true; a bounded wait, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")

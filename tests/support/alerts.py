"""Reading alert texts: which runs an alert names, and the status line of each."""

from __future__ import annotations

from collections.abc import Iterable

# One parser of `Run: <id>` lines for the demo, the sink and the tests.
from watcher.simulator.sink import RUN_LINE_PREFIX, run_ids_in

__all__ = ["run_ids_in", "statuses_in"]


def statuses_in(texts: Iterable[str]) -> dict[str, list[str]]:
    """run id -> the `Status:` line of each alert block that names it."""
    found: dict[str, list[str]] = {}
    for text in texts:
        current = None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(RUN_LINE_PREFIX):
                current = line.removeprefix(RUN_LINE_PREFIX).strip()
            elif line.startswith("Status: ") and current is not None:
                found.setdefault(current, []).append(line.removeprefix("Status: "))
    return found

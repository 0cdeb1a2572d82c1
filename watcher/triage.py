"""triage: which list items a tick must parse fully, and which it can pass by.

A list read of 10,000 runs is mostly runs already known final, and active runs that did not
change since the last tick. Each item is first looked at cheaply (`listread.head_of`: id,
status, creation time, in C); then
- a run known final is passed by (detect would ignore it anyway);
- an active run whose bytes equal last tick's is passed by (nothing to detect or write);
- an active run whose only change is progress (samples, cost) is passed by too while it
  was handed to detect less than `PROGRESS_EVERY` ago: progress is written every 30 s per
  run, not every tick. Never while the run is due for a stuck check (`hold` says so), so a
  run that progresses is never called stuck on a stale snapshot;
- everything else (new, changed) is parsed fully and goes to detect.

`ListMemory` keeps, per active run, the bytes last handed to detect; it changes only by `commit`,
after the tick recorded what it decided, so a tick that failed is seen again in full.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from watcher.events import Snapshot
from watcher.listread import head_of
from watcher.models import Job as ApiJob
from watcher.models import is_terminal

__all__ = [
    "BATCH",
    "PROGRESS_EVERY",
    "Job",
    "ListMemory",
    "Scan",
    "Seen",
    "progress_waits",
    "scan",
]

PROGRESS_EVERY = 30.0  # seconds between progress-only writes of one run
BATCH = 2_000  # new runs handed over at a time during the baseline (bounded memory)
# The fields that move while a run makes progress; masked out, the rest must be unchanged.
_PROGRESS_FIELDS = frozenset({"samples_completed", "samples_failed", "total_cost"})
_PROGRESS = re.compile(rb'"(?:samples_completed|samples_failed|total_cost)"\s*:\s*[^,}\]]*')


class Job(Protocol):
    """What triage needs of a list's item model (a run, an evaluation, ...): its id and status."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str | None: ...


J = TypeVar("J", bound=Job)


@dataclass(frozen=True, slots=True)
class Seen:
    """An active run's item as last handed to detect: its bytes, those bytes without the
    progress fields, and when that was."""

    raw: bytes
    masked: bytes
    passed_at: datetime


@dataclass
class Scan(Generic[J]):
    """What one list read showed and what of it needs detect (items of any `Job` model)."""

    runs: list[J] = field(default_factory=list)  # new or changed: for detect
    seen: set[str] = field(default_factory=set)  # every id the read showed
    complete: bool = False  # read to the end of the list
    items: int = 0  # items read
    parsed: int = 0  # of which parsed fully
    held: int = 0  # progress-only changes left for a later write
    malformed: int = 0  # items skipped as malformed
    newest: datetime | None = None  # the first item's creation time
    updates: dict[str, Seen] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)  # active runs: index in the list


class ListMemory:
    """What the list looked like at the last recorded tick, kept across ticks (in memory)."""

    def __init__(self) -> None:
        self.seen: dict[str, Seen] = {}
        self.positions: dict[str, int] = {}
        self.watermark: datetime | None = None  # the newest run's creation time

    def commit(self, scan: Scan[J], active: Callable[[str], bool]) -> None:
        """Take a recorded tick's scan; forget runs no longer active (`active` says)."""
        self.seen.update(scan.updates)
        self.positions.update(scan.positions)
        if scan.newest is not None and (self.watermark is None or scan.newest > self.watermark):
            self.watermark = scan.newest
        for run_id in [r for r in self.seen if not active(r)]:
            del self.seen[run_id]
        for run_id in [r for r in self.positions if not active(r)]:
            del self.positions[run_id]

    def reset(self) -> None:
        """Forget everything (the next read is read in full)."""
        self.seen.clear()
        self.positions.clear()
        self.watermark = None


async def scan(
    items: AsyncIterator[bytes],
    snapshots: Mapping[str, Snapshot],
    memory: ListMemory,
    *,
    now: datetime,
    before: datetime | None,
    parse: Callable[[bytes], J | None],
    hold: Callable[[Snapshot], bool],
    on_new: Callable[[list[J]], None] | None = None,
    known_only: bool = False,
    key: Callable[[str], str] = str,
    admit: Callable[[J], bool] | None = None,
    progress_every: float = PROGRESS_EVERY,
) -> Scan[J]:
    """Read `items` (newest first) until the first one created before `before`.

    `parse` parses one item fully (None: malformed and skipped); with `on_new` (the baseline)
    new runs are handed over `BATCH` at a time instead of being kept in the scan; with
    `known_only` (explicit runs) runs the snapshots do not hold are passed by unparsed.
    `key` turns an item's API id into the reference snapshots are kept by (`red-team:ID`);
    `admit` (`track.filter`) says which new runs are tracked at all.
    """
    result: Scan[J] = Scan()
    batch: list[J] = []
    index = -1
    async for raw in items:
        index += 1
        head = head_of(raw)
        created = None if head is None else head.created_at
        if index == 0:
            result.newest = created
        if before is not None and created is not None and created < before:
            break  # past everything wanted: the caller closes the connection
        result.items += 1
        run_id = None if head is None else key(head.id)
        prev = None if run_id is None else snapshots.get(run_id)
        if run_id is not None and (
            run_id in result.seen or _final(prev) or (known_only and prev is None)
        ):
            result.seen.add(run_id)
            continue
        old = None if run_id is None else memory.seen.get(run_id)
        masked = b""
        if old is not None and prev is not None:
            if old.raw == raw:
                result.seen.add(prev.run_id)
                result.positions[prev.run_id] = index
                continue
            masked = _PROGRESS.sub(b"", raw)
            fresh = (now - old.passed_at).total_seconds() < progress_every
            if masked == old.masked and fresh and hold(prev):
                result.seen.add(prev.run_id)
                # Seen stays what was last handed over: the progress owed is written later,
                # even if the run then stands still (its bytes would equal these).
                result.positions[prev.run_id] = index
                result.held += 1
                continue
        run = parse(raw)
        result.parsed += 1
        if run is None:
            result.malformed += 1
            continue
        ref = key(run.id)
        if ref in result.seen:
            continue
        result.seen.add(ref)
        prev = snapshots.get(ref)
        if (known_only and prev is None) or _final(prev):
            continue
        if prev is None and admit is not None and not admit(run):
            continue  # filtered out: not tracked (it is read again only while it is new)
        if not is_terminal(run.status):
            result.positions[ref] = index
            result.updates[ref] = Seen(raw, masked or _PROGRESS.sub(b"", raw), now)
        if prev is None and on_new is not None:
            batch.append(run)
            if len(batch) >= BATCH:
                on_new(batch)
                batch = []
            continue
        result.runs.append(run)
    else:
        result.complete = True
    if batch and on_new is not None:
        on_new(batch)
    return result


def progress_waits(
    prev: Snapshot,
    run: ApiJob,
    now: datetime,
    hold: Callable[[Snapshot], bool],
    progress_every: float = PROGRESS_EVERY,
) -> bool:
    """For a run read by id: whether its change is progress alone, written less than
    `PROGRESS_EVERY` ago, and `hold` allows the wait (the same rule as for list items)."""
    if prev.run is None or prev.last_polled is None or prev.status != run.status:
        return False
    if (now - prev.last_polled).total_seconds() >= progress_every or not hold(prev):
        return False
    before = prev.run.model_dump(exclude=set(_PROGRESS_FIELDS))
    return before == run.model_dump(exclude=set(_PROGRESS_FIELDS))


def _final(prev: Snapshot | None) -> bool:
    return prev is not None and is_terminal(prev.status)

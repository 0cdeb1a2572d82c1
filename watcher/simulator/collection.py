"""One kind's jobs in list order (newest first), and its list body cached block by block.

The benchmarks read lists of 100,000 jobs (about 43 MB for runs) every second while
measuring the watcher, so the simulator must answer them for next to nothing:

- The jobs sit in order in blocks of about ``BLOCK`` jobs. Each block keeps its part of the
  body as bytes, and until when that part holds (the earliest ``until`` of its jobs).
- The body is the tuple of the blocks' bytes, sent part by part without ever being joined.
  It is kept as long as nothing was added, removed or pinned and the clock has not reached
  its ``until`` (the earliest of the blocks'): one comparison per request.
- When it is stale, only the blocks that changed or expired are rendered again, and in them
  only the jobs whose own fragment expired (``Job.list_fragment``); the rest is reused.

Callers hold the simulator's lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .lifecycle import NEVER, Job

J = TypeVar("J", bound=Job)

BLOCK = 256
"""Jobs per block: small enough that one change re-renders little, large enough that a
100,000-job body is a few hundred parts."""


def _key(job: Job) -> tuple[float, int]:
    return job.key


class _Block:
    """Consecutive jobs of the list and their rendered part of the body."""

    __slots__ = ("data", "edges", "jobs", "until")

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs = jobs
        self.data: bytes | None = None
        self.until = -NEVER
        # (first, last) at rendering: the first block opens the array, the last closes it,
        # every other starts with the comma that separates it from the one before.
        self.edges = (False, False)

    def render(self, now: float, first: bool, last: bool) -> None:
        parts = []
        until = NEVER
        for job in self.jobs:
            parts.append(job.list_fragment(now))
            until = min(until, job.until)
        if first:
            parts[0] = b"[" + parts[0]
        else:
            parts.insert(0, b"")  # joined, the part then starts with its separating comma
        if last:
            parts[-1] = parts[-1] + b"]"
        self.data = b",".join(parts)
        self.until = until
        self.edges = (first, last)


class Collection(Generic[J]):
    """The jobs of one kind, by id and in list order, in blocks of about ``block`` jobs."""

    def __init__(self, block: int = BLOCK) -> None:
        self._block = block
        self._jobs: dict[str, J] = {}
        self._blocks: list[_Block] = []
        # Added but not yet put in order: placing is deferred to the next read, so creating
        # 100,000 jobs sorts once instead of inserting 100,000 times.
        self._loose: list[J] = []
        self._body: tuple[bytes, ...] | None = None
        self._until = -NEVER

    def __len__(self) -> int:
        return len(self._jobs)

    def get(self, job_id: str) -> J | None:
        """The job with this id, or None."""
        return self._jobs.get(job_id)

    def add(self, job: J) -> None:
        """Take a new job in."""
        self._jobs[job.id] = job
        self._loose.append(job)
        self._body = None

    def remove(self, job_id: str) -> J | None:
        """Take a job out; returns it, or None if there is none with this id."""
        job = self._jobs.pop(job_id, None)
        if job is None:
            return None
        block: _Block | None = job.block
        if block is None:
            self._loose.remove(job)
        else:
            block.jobs.remove(job)
            block.data = None
            job.block = None
            if not block.jobs:
                self._blocks.remove(block)
        self._body = None
        return job

    def changed(self, job: J) -> None:
        """A job's list item changed out of its plan's course (pinned): drop what held it."""
        if job.block is not None:
            job.block.data = None
        self._body = None

    def clear(self) -> None:
        """Forget every job."""
        self._jobs.clear()
        self._blocks.clear()
        self._loose.clear()
        self._body = None

    def ordered(self) -> list[J]:
        """Every job, newest first."""
        return list(self._iter())

    def _iter(self) -> Iterator[J]:
        self._place()
        for block in self._blocks:
            yield from block.jobs  # type: ignore[misc]  # blocks hold this collection's jobs

    def body(self, now: float) -> tuple[bytes, ...]:
        """The list endpoint's body at ``now``, as parts to send one after the other."""
        self._place()
        if self._body is not None and now < self._until:
            return self._body
        blocks = self._blocks
        if not blocks:
            self._body, self._until = (b"[]",), NEVER
            return self._body
        last = len(blocks) - 1
        until = NEVER
        for index, block in enumerate(blocks):
            edges = (index == 0, index == last)
            if block.data is None or block.until <= now or block.edges != edges:
                block.render(now, *edges)
            until = min(until, block.until)
        self._body = tuple(block.data for block in blocks if block.data is not None)
        self._until = until
        return self._body

    def filtered_body(self, now: float, keep: Callable[[J], bool]) -> bytes:
        """A list body of the jobs ``keep`` accepts (a filtered list: rare, not cached)."""
        fragments = [job.list_fragment(now) for job in self._iter() if keep(job)]
        return b"[" + b",".join(fragments) + b"]"

    def _place(self) -> None:
        loose = self._loose
        if not loose:
            return
        if len(loose) > max(64, len(self._jobs) // 8):
            ordered = sorted(self._jobs.values(), key=_key)
            self._blocks = []
            for start in range(0, len(ordered), self._block):
                block = _Block(list(ordered[start : start + self._block]))
                for job in block.jobs:
                    job.block = block
                self._blocks.append(block)
        else:
            for job in loose:
                self._insert(job)
        loose.clear()

    def _insert(self, job: J) -> None:
        blocks = self._blocks
        if not blocks:
            block = _Block([job])
            blocks.append(block)
            job.block = block
            return
        # The first block whose last job sorts at or after the new one takes it.
        index = bisect.bisect_left([b.jobs[-1].key for b in blocks], job.key)
        index = min(index, len(blocks) - 1)
        block = blocks[index]
        placed: Job = job  # the blocks hold Jobs; this collection's are one kind of them
        bisect.insort(block.jobs, placed, key=_key)
        block.data = None
        job.block = block
        if len(block.jobs) > 2 * self._block:
            half = len(block.jobs) // 2
            tail = _Block(block.jobs[half:])
            del block.jobs[half:]
            for moved in tail.jobs:
                moved.block = tail
            blocks.insert(index + 1, tail)

"""Repeated timing with warm-up, and the result rows the report is made of."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Extra = dict[str, Any]


@dataclass(frozen=True)
class Result:
    """One benchmark: its name, its size, and the seconds each timed repetition took."""

    name: str
    n: int
    samples: tuple[float, ...]
    extra: Extra = field(default_factory=dict)
    note: str = ""  # one short human remark for the table's last column

    @property
    def median_ms(self) -> float:
        """The median repetition, in milliseconds."""
        return statistics.median(self.samples) * 1000

    @property
    def p95_ms(self) -> float:
        """Nearest-rank 95th percentile: with under 20 repetitions it is the slowest one."""
        ordered = sorted(self.samples)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] * 1000

    @property
    def min_ms(self) -> float:
        """The fastest repetition, in milliseconds: the least disturbed by other processes."""
        return min(self.samples) * 1000

    def as_json(self) -> dict[str, Any]:
        """The JSON form of this row."""
        return {
            "n": self.n,
            "reps": len(self.samples),
            "median_ms": round(self.median_ms, 3),
            "p95_ms": round(self.p95_ms, 3),
            "min_ms": round(self.min_ms, 3),
            "samples_ms": [round(s * 1000, 3) for s in self.samples],
            **self.extra,
        }


def measure(fn: Callable[[], object], *, warmup: int, reps: int) -> tuple[float, ...]:
    """Seconds per call of `fn` over `reps` timed calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    for _ in range(reps):
        # Collect first, so one repetition does not pay for the garbage of the previous one.
        gc.collect()
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return tuple(samples)


async def measure_async(
    fn: Callable[[], Awaitable[object]], *, warmup: int, reps: int
) -> tuple[float, ...]:
    """`measure` for a coroutine function, awaited on the running loop."""
    for _ in range(warmup):
        await fn()
    samples: list[float] = []
    for _ in range(reps):
        gc.collect()
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return tuple(samples)


class Stopwatch:
    """Times only the part of a repetition that matters, when set-up must happen in between."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._started = 0.0

    def __enter__(self) -> Stopwatch:
        gc.collect()
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.samples.append(time.perf_counter() - self._started)

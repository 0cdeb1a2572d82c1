"""When to try again: one exponential backoff for polls and sends, and the delivery retry policy.

A failing poll waits one interval, doubling, up to ten intervals and never more than
`MAX_POLL_DELAY` (a `Retry-After` is honoured up to that ceiling too); a failing send waits
`RetryPolicy.initial`, doubling up to `RetryPolicy.cap`, with "equal jitter" so that channels
failing together do not retry together, and is dead-lettered once it has kept failing for
`RetryPolicy.horizon`. Pure functions: the clock and the random source are passed in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "MAX_POLL_DELAY",
    "RetryPolicy",
    "exponential",
    "jittered",
    "poll_delay",
]

MAX_POLL_DELAY = 300.0  # seconds: never wait longer than this between polls
_MAX_DOUBLINGS = 1023  # past this any cap is reached, and 2.0**1024 would overflow a float


def exponential(failures: int, *, initial: float, cap: float) -> float:
    """`initial` doubled for each failure after the first, capped: 1, 2, 4, ... `cap`."""
    if failures < 1:
        raise ValueError(f"failures counts failures so far and must be >= 1, not {failures}")
    if not 0 < initial <= cap:
        raise ValueError(f"need 0 < initial <= cap, got initial={initial}, cap={cap}")
    if failures > _MAX_DOUBLINGS:
        return cap
    return min(cap, initial * 2.0 ** (failures - 1))


def jittered(delay: float, rng: random.Random) -> float:
    """ "Equal jitter": a draw from [delay/2, delay], so retries that failed together spread."""
    return min(delay, rng.uniform(delay / 2, delay))


def poll_delay(interval: float, failures: int, retry_after: float | None = None) -> float:
    """Seconds until the next poll after `failures` failed ticks in a row (0: one interval).

    The backoff doubles from one interval up to ten, never past `MAX_POLL_DELAY` (but never
    below one interval either); a `Retry-After` the API sent wins when longer, up to the same
    ceiling.
    """
    if failures < 1:
        return interval
    cap = max(interval, min(10 * interval, MAX_POLL_DELAY))
    delay = exponential(failures, initial=interval, cap=cap)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_POLL_DELAY))
    return delay


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failed delivery is retried: from `initial` seconds, doubling up to `cap`, until
    it has failed for `horizon` seconds; then it is dead-lettered."""

    initial: float
    cap: float
    horizon: float

    def __post_init__(self) -> None:
        if not self.initial > 0:
            raise ValueError(f"retry_initial must be greater than 0s (got {self.initial:g}s)")
        if self.cap < self.initial:
            raise ValueError(
                f"retry_max ({_seconds(self.cap)}) must be at least"
                f" retry_initial ({_seconds(self.initial)})"
            )
        if self.horizon < 0:
            raise ValueError(f"horizon must not be negative (got {self.horizon:g}s)")

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after `failures` failed tries (jittered)."""
        return jittered(exponential(failures, initial=self.initial, cap=self.cap), rng)

    def retry_at(
        self, first_attempt_at: datetime | None, failures: int, now: datetime, rng: random.Random
    ) -> datetime | None:
        """When to try again after `failures` failed tries (this one at `now` included), or
        None once the first try is `horizon` old: give up (dead-letter). Deliveries and
        actions both retry by this one rule."""
        first = first_attempt_at or now
        if (now - first).total_seconds() >= self.horizon:
            return None
        return now + timedelta(seconds=self.delay(failures, rng))


def _seconds(value: float) -> str:
    # Local import: the config package imports this module to check its delivery section.
    from watcher.config.durations import format_duration

    return format_duration(value)

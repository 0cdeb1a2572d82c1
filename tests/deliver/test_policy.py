"""One backoff for polls and sends, and the delivery retry policy: pure, property-tested."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.deliver.drain import plan_after_failure
from watcher.deliver.policy import (
    MAX_POLL_DELAY,
    RetryPolicy,
    exponential,
    jittered,
    poll_delay,
)
from watcher.events import Delivery

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)

attempts = st.integers(min_value=1, max_value=5000)
seeds = st.integers(min_value=0, max_value=2**32)
initials = st.floats(min_value=0.001, max_value=1000)
factors = st.floats(min_value=1, max_value=10_000)


@given(attempts, initials, factors, seeds)
def test_backoff_stays_between_half_its_base_and_its_base(
    n: int, initial: float, factor: float, seed: int
) -> None:
    """Equal jitter: within [base/2, base], base = min(cap, initial * 2**(n-1)); never past cap."""
    cap = initial * factor
    delay = RetryPolicy(initial, cap, 0).delay(n, random.Random(seed))

    base = float(min(Fraction(cap), Fraction(initial) * 2 ** (n - 1)))
    assert base / 2 <= delay <= base <= cap
    assert delay >= initial / 2


@given(attempts, initials, factors, seeds)
def test_backoff_never_shrinks_for_the_same_draw(
    n: int, initial: float, factor: float, seed: int
) -> None:
    """With the same random draw, one more failure never means a shorter wait (so neither does
    the expected wait)."""
    cap = initial * factor
    before = RetryPolicy(initial, cap, 0).delay(n, random.Random(seed))
    after = RetryPolicy(initial, cap, 0).delay(n + 1, random.Random(seed))

    assert after >= before


def test_backoff_doubles_until_the_cap() -> None:
    """The bases are 1, 2, 4, 8, then 8 (capped); each delay lands in its base's upper half."""
    rng = random.Random(7)
    delays = [RetryPolicy(1, 8, 0).delay(n, rng) for n in range(1, 7)]

    bases = [1, 2, 4, 8, 8, 8]
    assert all(b / 2 <= d <= b for d, b in zip(delays, bases, strict=True))


@pytest.mark.parametrize(
    ("n", "initial", "cap"), [(0, 1.0, 8.0), (1, 0.0, 8.0), (1, 9.0, 8.0), (-3, 1.0, 1.0)]
)
def test_backoff_rejects_nonsense(n: int, initial: float, cap: float) -> None:
    """No failures yet, a zero start or a cap below the start is a programming error."""
    with pytest.raises(ValueError, match=r"must be|need"):
        exponential(n, initial=initial, cap=cap)


@pytest.mark.parametrize(
    ("initial", "cap", "horizon", "message"),
    [
        (0.0, 8.0, 60.0, "retry_initial must be greater than 0s"),
        (3600.0, 60.0, 60.0, "retry_max (1m) must be at least retry_initial (1h)"),
        (1.0, 8.0, -1.0, "horizon must not be negative"),
    ],
)
def test_a_retry_policy_refuses_what_cannot_work(
    initial: float, cap: float, horizon: float, message: str
) -> None:
    """The one check of a retry policy, whose message the config shows as it is."""
    with pytest.raises(ValueError, match=re.escape(message)):
        RetryPolicy(initial, cap, horizon)


@given(st.floats(min_value=0.001, max_value=1e6), seeds)
def test_jitter_stays_in_the_upper_half(delay: float, seed: int) -> None:
    """Equal jitter: a draw from [delay/2, delay]."""
    assert delay / 2 <= jittered(delay, random.Random(seed)) <= delay


def _delivery(attempts: int, first_attempt_ago: float | None) -> Delivery:
    first = None if first_attempt_ago is None else NOW - timedelta(seconds=first_attempt_ago)
    return Delivery(
        id=7,
        channel="team",
        title="t",
        body="b",
        created_at=NOW - timedelta(days=30),
        attempts=attempts,
        first_attempt_at=first,
        delivered_to=frozenset({"key-a"}),
    )


@given(
    attempts=st.integers(min_value=0, max_value=60),
    ago=st.one_of(st.none(), st.floats(min_value=0, max_value=10 * 86400)),
    horizon=st.floats(min_value=0, max_value=5 * 86400),
    seed=seeds,
)
def test_plan_after_failure(attempts: int, ago: float | None, horizon: float, seed: int) -> None:
    """Dead once the first attempt is `horizon` old; else retried after the backoff for one
    more failure. Reason and the URLs that took it are kept."""
    done = frozenset({"key-a", "key-c"})
    delivery = _delivery(attempts, ago)

    attempt = plan_after_failure(
        delivery,
        NOW,
        "JSON: HTTP 503",
        policy=RetryPolicy(1, 300, horizon),
        rng=random.Random(seed),
        delivered_to=done,
    )

    assert (attempt.delivery_id, attempt.at, attempt.ok) == (7, NOW, False)
    assert (attempt.reason, attempt.delivered_to) == ("JSON: HTTP 503", done)
    first = delivery.first_attempt_at
    elapsed = 0.0 if first is None else (NOW - first).total_seconds()
    assert attempt.dead == (elapsed >= horizon)
    if attempt.dead:
        assert attempt.next_attempt_at is None
    else:
        assert attempt.next_attempt_at is not None
        wait = (attempt.next_attempt_at - NOW).total_seconds()
        backoff = RetryPolicy(1, 300, 0).delay(attempts + 1, random.Random(seed))
        assert wait == pytest.approx(backoff, abs=1e-5)


def test_a_first_failure_is_never_dead_with_a_positive_horizon() -> None:
    """Without a first attempt on record, the clock for the horizon starts now."""
    attempt = plan_after_failure(
        _delivery(0, None),
        NOW,
        "x",
        policy=RetryPolicy(2, 60, 1),
        rng=random.Random(1),
        delivered_to=frozenset(),
    )

    assert not attempt.dead
    assert attempt.next_attempt_at is not None
    assert NOW + timedelta(seconds=1) <= attempt.next_attempt_at <= NOW + timedelta(seconds=2)


# -- polls ------------------------------------------------------------------------------------


def test_poll_backoff_doubles_from_one_interval_up_to_ten() -> None:
    """30 s polls: 30, 60, 120, 240, then the 5-minute ceiling (10 x 30 s is 300 s too)."""
    assert [poll_delay(30, n) for n in range(1, 7)] == [30, 60, 120, 240, 300, 300]
    assert [poll_delay(0.2, n) for n in range(1, 7)] == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


def test_poll_backoff_never_exceeds_five_minutes_even_for_long_intervals() -> None:
    """Ten 1-minute intervals would be 10 minutes: the 5-minute ceiling wins."""
    assert poll_delay(60, 10) == MAX_POLL_DELAY == 300
    # A poll interval longer than the ceiling is never shortened by a failure, either.
    assert poll_delay(600, 1) == poll_delay(600, 50) == 600


def test_poll_backoff_honours_retry_after_up_to_the_ceiling() -> None:
    """A Retry-After longer than the backoff wins; an absurd one is capped at five minutes."""
    assert poll_delay(0.2, 1, retry_after=3) == 3
    assert poll_delay(30, 4, retry_after=5) == 240  # the backoff is longer already
    assert poll_delay(30, 1, retry_after=86_400) == 300


@given(
    interval=st.floats(min_value=0.1, max_value=3600),
    failures=st.integers(min_value=1, max_value=10_000),
    retry_after=st.none() | st.floats(min_value=0, max_value=1e9),
)
def test_poll_backoff_is_bounded_and_never_shorter_than_an_interval(
    interval: float, failures: int, retry_after: float | None
) -> None:
    """Between one interval and max(interval, min(10 intervals, 5 min)), Retry-After aside."""
    delay = poll_delay(interval, failures, retry_after)
    assert delay >= interval
    assert delay <= max(interval, min(10 * interval, MAX_POLL_DELAY), min(retry_after or 0, 300))
    if retry_after is not None:
        assert delay >= min(retry_after, MAX_POLL_DELAY)
    assert poll_delay(interval, failures + 1, retry_after) >= delay  # never shrinks

"""The retry policy: backoff_delay and plan_after_failure, pure functions, property-tested."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.deliver import backoff_delay, plan_after_failure
from watcher.deliver.sender import SendOutcome
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
    delay = backoff_delay(n, initial=initial, cap=cap, rng=random.Random(seed))

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
    before = backoff_delay(n, initial=initial, cap=cap, rng=random.Random(seed))
    after = backoff_delay(n + 1, initial=initial, cap=cap, rng=random.Random(seed))

    assert after >= before


def test_backoff_doubles_until_the_cap() -> None:
    """The bases are 1, 2, 4, 8, then 8 (capped); each delay lands in its base's upper half."""
    rng = random.Random(7)
    delays = [backoff_delay(n, initial=1, cap=8, rng=rng) for n in range(1, 7)]

    bases = [1, 2, 4, 8, 8, 8]
    assert all(b / 2 <= d <= b for d, b in zip(delays, bases, strict=True))


@pytest.mark.parametrize(
    ("n", "initial", "cap"), [(0, 1.0, 8.0), (1, 0.0, 8.0), (1, 9.0, 8.0), (-3, 1.0, 1.0)]
)
def test_backoff_rejects_nonsense(n: int, initial: float, cap: float) -> None:
    """No failures yet, a zero start or a cap below the start is a programming error."""
    with pytest.raises(ValueError, match=r"must be|need"):
        backoff_delay(n, initial=initial, cap=cap, rng=random.Random(0))


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
        done_urls=frozenset({"key-a"}),
    )


@given(
    attempts=st.integers(min_value=0, max_value=60),
    ago=st.one_of(st.none(), st.floats(min_value=0, max_value=10 * 86400)),
    horizon=st.floats(min_value=0, max_value=5 * 86400),
    retry_after=st.one_of(st.none(), st.floats(min_value=0, max_value=7200)),
    seed=seeds,
)
def test_plan_after_failure(
    attempts: int, ago: float | None, horizon: float, retry_after: float | None, seed: int
) -> None:
    """Dead once the first attempt is `horizon` old; else retried after the backoff for one
    more failure, or the server's Retry-After when longer. Reason and done URLs are kept."""
    done = frozenset({"key-a", "key-c"})
    outcome = SendOutcome(
        ok=False, done_urls=frozenset({0, 2}), reason="JSON: HTTP 503", retry_after=retry_after
    )
    delivery = _delivery(attempts, ago)

    attempt = plan_after_failure(
        delivery,
        NOW,
        outcome,
        initial=1,
        cap=300,
        horizon=horizon,
        rng=random.Random(seed),
        done_urls=done,
    )

    assert (attempt.delivery_id, attempt.at, attempt.ok) == (7, NOW, False)
    assert (attempt.reason, attempt.done_urls) == ("JSON: HTTP 503", done)
    first = delivery.first_attempt_at
    elapsed = 0.0 if first is None else (NOW - first).total_seconds()
    assert attempt.dead == (elapsed >= horizon)
    if attempt.dead:
        assert attempt.next_attempt_at is None
    else:
        assert attempt.next_attempt_at is not None
        wait = (attempt.next_attempt_at - NOW).total_seconds()
        backoff = backoff_delay(attempts + 1, initial=1, cap=300, rng=random.Random(seed))
        assert wait == pytest.approx(max(backoff, retry_after or 0), abs=1e-5)


def test_a_first_failure_is_never_dead_with_a_positive_horizon() -> None:
    """Without a first attempt on record, the clock for the horizon starts now."""
    outcome = SendOutcome(ok=False, done_urls=frozenset(), reason="x", retry_after=None)

    attempt = plan_after_failure(
        _delivery(0, None),
        NOW,
        outcome,
        initial=2,
        cap=60,
        horizon=1,
        rng=random.Random(1),
        done_urls=frozenset(),
    )

    assert not attempt.dead
    assert attempt.next_attempt_at is not None
    assert NOW + timedelta(seconds=1) <= attempt.next_attempt_at <= NOW + timedelta(seconds=2)

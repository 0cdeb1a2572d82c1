"""assess: the quality and cost flags, and the words that say why."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.assess import COST, QUALITY, Thresholds, assess, assess_all
from watcher.events import Event, EventKind
from watcher.models import Run

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
BOTH = Thresholds(failure_rate_above=0.05, cost_above=100)


def finished(status: str = "SUCCEEDED", *, is_alert: bool = True, **fields: Any) -> Event:
    """The alert of run r1 reaching `status`, with `fields` on the run."""
    return Event(
        run_id="r1",
        kind=EventKind.TRANSITION,
        from_status="PROCESSING",
        to_status=status,
        at=NOW,
        alert=is_alert,
        run=Run(id="r1", status=status, **fields),
    )


def test_the_briefs_examples() -> None:
    """A third of the samples failed, and a cost over the limit: both flags, both reasons."""
    event = assess(finished(samples_completed=4, samples_failed=2, total_cost=412), BOTH)
    assert event.flags == (QUALITY, COST)
    assert event.reasons == ("33% of samples failed (2 of 6), above 5%", "$412.00 > $100.00")


@pytest.mark.parametrize(
    ("completed", "failed", "flagged"),
    [
        (95, 5, False),  # exactly 5%: not above
        (94, 6, True),
        (0, 3, True),  # every sample failed
        (10, 0, False),
        (0, 0, False),  # no samples: no share to judge
        (None, 3, False),  # an unknown count: no share either
        (3, None, False),
        (None, None, False),
        (-1, 3, False),  # nonsense from the API is not judged
    ],
)
def test_quality_edges(completed: int | None, failed: int | None, flagged: bool) -> None:
    """The share is failed / (completed + failed), strictly above the threshold."""
    event = assess(finished(samples_completed=completed, samples_failed=failed), BOTH)
    assert (QUALITY in event.flags) is flagged


def test_quality_is_for_succeeded_runs_only() -> None:
    """A FAILED or CANCELED run's failed samples are no news: only a success is flagged."""
    for status in ("FAILED", "CANCELED"):
        event = assess(finished(status, samples_completed=1, samples_failed=9), BOTH)
        assert event.flags == ()


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "CANCELED"])
def test_cost_is_for_every_finished_run(status: str) -> None:
    """Any finished run past the cost limit is flagged, whatever its outcome."""
    assert assess(finished(status, total_cost=100.5), BOTH).flags == (COST,)


@pytest.mark.parametrize(
    ("cost", "flagged"),
    [(100, False), (100.001, True), (0, False), (None, False), (float("nan"), False)],
)
def test_cost_edges(cost: float | None, flagged: bool) -> None:
    """Strictly above; no cost (or not a number) is never flagged."""
    assert (COST in assess(finished(total_cost=cost), BOTH).flags) is flagged


def test_a_zero_threshold_flags_any_failure_and_any_cost() -> None:
    """0 means "any at all": one failed sample, one cent."""
    zero = Thresholds(failure_rate_above=0, cost_above=0)
    event = assess(finished(samples_completed=999, samples_failed=1, total_cost=0.01), zero)
    assert event.flags == (QUALITY, COST)
    assert event.reasons == ("0.1% of samples failed (1 of 1000), above 0%", "$0.01 > $0.00")
    assert assess(finished(samples_completed=5, samples_failed=0, total_cost=0), zero).flags == ()


def test_reasons_keep_the_decimals_that_show_the_threshold_is_passed() -> None:
    """Rounding never makes a flag read as "5% above 5%" or "$100.00 > $100.00"."""
    thresholds = Thresholds(failure_rate_above=0.05, cost_above=100)
    event = finished(samples_completed=9496, samples_failed=504, total_cost=100.004)
    assert assess(event, thresholds).reasons == (
        "5.04% of samples failed (504 of 10000), above 5%",
        "$100.004 > $100.000",
    )
    assert assess(finished(total_cost=12345.678), thresholds).reasons == ("$12,345.68 > $100.00",)
    fine = Thresholds(failure_rate_above=0.0125, cost_above=0.001)
    event = finished(samples_completed=97, samples_failed=3, total_cost=0.5)
    assert assess(event, fine).reasons == (
        "3% of samples failed (3 of 100), above 1.25%",
        "$0.500 > $0.001",
    )


def test_without_thresholds_nothing_is_flagged() -> None:
    """The default (no alerts.* key): events pass unchanged."""
    events = (finished(samples_completed=0, samples_failed=10, total_cost=1e9),)
    assert assess_all(events, Thresholds()) == events
    assert assess(events[0], Thresholds()) is events[0]


def test_other_events_are_left_alone() -> None:
    """Non-alerts, stuck alerts and alerts without run data get no flag."""
    stuck = Event(
        "r1",
        EventKind.STUCK,
        "PROCESSING",
        "PROCESSING",
        NOW,
        alert=True,
        run=Run(id="r1", total_cost=1e6, samples_failed=10, samples_completed=0),
    )
    quiet = finished(is_alert=False, total_cost=1e6)
    bare = Event("r1", EventKind.TRANSITION, "PROCESSING", "SUCCEEDED", NOW, alert=True)
    for event in (stuck, quiet, bare):
        assert assess(event, BOTH) is event


def test_assessing_twice_adds_nothing() -> None:
    """An event already flagged keeps one flag and one reason per flag."""
    once = assess(finished(samples_completed=1, samples_failed=1, total_cost=500), BOTH)
    assert assess(once, BOTH) == once


# --- properties -------------------------------------------------------------------------------

# As the API and a config give them: counts, costs to 4 decimals (the API's), limits in
# hundredths of a percent and in cents.
counts = st.none() | st.integers(0, 10_000)
costs = st.none() | st.integers(0, 10**10).map(lambda n: n / 10_000)
rate_limits = st.none() | st.integers(0, 9_999).map(lambda n: n / 10_000)
cost_limits = st.none() | st.integers(0, 10**8).map(lambda n: n / 100)
NUMBER = r"[\d,]+(?:\.\d+)?"


@settings(max_examples=400, deadline=None, database=None)
@given(
    completed=counts,
    failed=counts,
    cost=costs,
    rate_above=rate_limits,
    cost_above=cost_limits,
    status=st.sampled_from(["SUCCEEDED", "FAILED", "CANCELED"]),
)
def test_a_flag_is_set_iff_its_threshold_is_passed(
    completed: int | None,
    failed: int | None,
    cost: float | None,
    rate_above: float | None,
    cost_above: float | None,
    status: str,
) -> None:
    """quality iff SUCCEEDED and failed / (completed + failed) > the rate; cost iff the cost
    is above its limit; each reason names the numbers it was judged on."""
    thresholds = Thresholds(failure_rate_above=rate_above, cost_above=cost_above)
    event = finished(status, samples_completed=completed, samples_failed=failed, total_cost=cost)
    out = assess(event, thresholds)
    total = (completed or 0) + (failed or 0)
    quality = (
        status == "SUCCEEDED"
        and rate_above is not None
        and completed is not None
        and failed is not None
        and total > 0
        and failed / total > rate_above
    )
    over = cost is not None and cost_above is not None and cost > cost_above
    assert out.flags == tuple(f for f, on in ((QUALITY, quality), (COST, over)) if on)
    assert len(out.reasons) == len(out.flags)
    reasons = dict(zip(out.flags, out.reasons, strict=True))
    if quality:
        assert f"({failed} of {total})" in reasons[QUALITY]
        shown = re.match(rf"({NUMBER})% of samples failed", reasons[QUALITY])
        assert shown is not None
        limit = re.search(rf"above ({NUMBER})%$", reasons[QUALITY])
        assert limit is not None
        assert float(shown[1]) > float(limit[1])
        assert float(limit[1]) == pytest.approx(rate_above * 100)
    if over:
        shown_cost = re.fullmatch(rf"\$({NUMBER}) > \$({NUMBER})", reasons[COST])
        assert shown_cost is not None
        shown, limit = (float(number.replace(",", "")) for number in shown_cost.groups())
        assert shown > limit
        assert limit == pytest.approx(cost_above)

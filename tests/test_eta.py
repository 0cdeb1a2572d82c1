"""The ETA and slow-run arithmetic (`watcher.eta`), by example and by property."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.eta import (
    Point,
    SpecPace,
    eta,
    measured,
    pace,
    requested,
    slow_reason,
    spec_key,
    spec_pace,
)
from watcher.events import Snapshot, Source
from watcher.models import AnonymizationRun, Evaluation, RedTeamRun, Run
from watcher.slow import judged

T0 = datetime(2026, 11, 1, tzinfo=UTC)
minutes = st.floats(min_value=0.01, max_value=10_000, allow_nan=False)
counts = st.integers(min_value=0, max_value=10**7)


def run(done: int | None, total: int | None) -> Run:
    params = None if total is None else {"number_of_samples": total}
    return Run(id="r", status="PROCESSING", samples_completed=done, runtime_params=params)


def test_the_comparison_reads_as_the_brief_says() -> None:
    """12/min against a median of 36 over 8 runs, below half: "a third"."""
    reason = slow_reason(12, 10, SpecPace(median=36, runs=8), 0.5)
    assert reason == "12 samples/min, a third of this spec's median 36/min over 8 runs"


@pytest.mark.parametrize(
    ("rate", "history", "minutes_", "expected"),
    [
        (18, SpecPace(36, 8), 10, None),  # exactly half: not below half
        (10, SpecPace(36, 2), 10, None),  # two earlier runs say too little
        (10, None, 10, None),  # no history at all
        (10, SpecPace(36, 8), 0.5, None),  # half a minute of its own is noise
        (0.5, SpecPace(36, 8), 10, "0.5 samples/min, 1% of this spec's median 36/min over 8 runs"),
        (
            0,
            SpecPace(36, 8),
            10,
            "0 samples/min, under 1% of this spec's median 36/min over 8 runs",
        ),
    ],
)
def test_slow_needs_history_time_and_a_pace_strictly_below(
    rate: float, history: SpecPace | None, minutes_: float, expected: str | None
) -> None:
    """Each condition of the slow rule, at its edge."""
    assert slow_reason(rate, minutes_, history, 0.5) == expected


@given(first=counts, gained=counts, span=minutes)
def test_pace_is_samples_per_minute(first: int, gained: int, span: float) -> None:
    """Whatever the numbers, pace times the minutes gives back the samples gained."""
    rate = pace(Point(T0, first), Point(T0 + timedelta(minutes=span), first + gained))
    assert rate is not None
    assert rate * span == pytest.approx(gained, rel=1e-6, abs=1e-6)


def test_pace_needs_time_to_pass_and_samples_not_to_shrink() -> None:
    """No time between the points, or fewer samples later: no pace."""
    assert pace(Point(T0, 5), Point(T0, 9)) is None
    assert pace(Point(T0, 9), Point(T0 + timedelta(minutes=1), 5)) is None


@given(st.lists(st.floats(min_value=0.001, max_value=1e6, allow_nan=False), min_size=1))
def test_the_median_lies_within_the_paces(rates: list[float]) -> None:
    """The spec's pace is between the slowest and the fastest run, over all of them."""
    found = spec_pace(rates)
    assert found is not None
    assert min(rates) <= found.median <= max(rates)
    assert found.runs == len(rates)


def test_unusable_paces_are_left_out() -> None:
    """Zero, negative, infinite and NaN paces say nothing about the spec."""
    assert spec_pace([0, -1, float("inf"), float("nan")]) is None
    assert spec_pace([0, 10, 30]) == SpecPace(median=20, runs=2)


@given(done=st.integers(0, 10_000), extra=st.integers(1, 10_000), span=st.floats(1, 600))
def test_eta_at_the_runs_own_pace(done: int, extra: int, span: float) -> None:
    """Its remaining samples at its own pace so far: at that pace it ends at the ETA."""
    first = Point(T0, 0)
    now = T0 + timedelta(minutes=span)
    finish = eta(run(done, done + extra), first, now, SpecPace(1e9, 5))
    if done == 0:
        assert finish == now + timedelta(minutes=extra / 1e9)  # no own pace: the spec's
        return
    assert finish is not None
    own = done / span
    # timedelta keeps microseconds: a rounding of at most one of them.
    assert (finish - now).total_seconds() / 60 * own == pytest.approx(extra, rel=1e-3)


def test_eta_falls_back_to_the_spec_and_knows_when_it_cannot_know() -> None:
    """Under a minute of its own: the spec's median; no count asked: no ETA."""
    now = T0 + timedelta(seconds=30)
    assert eta(run(10, 110), Point(T0, 0), now, SpecPace(50, 3)) == now + timedelta(minutes=2)
    assert eta(run(10, 110), Point(T0, 0), now, None) is None
    assert eta(run(10, None), Point(T0, 0), now, SpecPace(50, 3)) is None
    assert eta(run(None, 100), Point(T0, 0), now, SpecPace(50, 3)) is None
    assert eta(run(100, 100), Point(T0, 0), now, None) == now  # all done: any moment now


@pytest.mark.parametrize("value", [0, -3, True, "400", 2.5, None])
def test_a_requested_count_must_be_a_positive_integer(value: object) -> None:
    """What the API put in runtime_params is data: only a positive int counts."""
    assert requested(Run(id="r", runtime_params={"number_of_samples": value})) is None


def test_only_kinds_that_report_progress_have_a_pace_key_and_an_eta() -> None:
    """An anonymization run counts documents and a red-team run has a spec, but neither kind
    reports progress while it works: no spec history, no ETA, never judged slow."""
    anon = AnonymizationRun.model_validate(
        {"id": "a", "status": "PROCESSING", "results": {"samples_processed": 30}}
    )
    red = RedTeamRun(id="r", status="PROCESSING", spec_name="jailbreak-suite")
    evaluation = Evaluation(id="e", status="PROCESSING", samples_completed=5)
    for job in (anon, red, evaluation):
        assert not measured(job)
        assert spec_key(job) is None
        assert requested(job) is None
        assert eta(job, Point(T0, 0), T0 + timedelta(minutes=5), SpecPace(10, 5)) is None
    generation = run(30, 100).model_copy(update={"spec_name": "invoice-extract"})
    assert measured(generation)
    assert spec_key(generation) == "invoice-extract"
    moved = T0 + timedelta(minutes=3)
    snaps = [
        Snapshot(
            run_id=job.ref,
            source=Source.EXPLICIT,
            status="PROCESSING",
            status_since=T0,
            first_seen=T0,
            last_polled=moved,
            run=job,
            progress_at=moved,
        )
        for job in (anon, evaluation, generation)
    ]
    assert [s.run_id for s in judged(snaps, moved)] == ["r"]

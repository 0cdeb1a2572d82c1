"""plan: list or detail reads by measured cost, and where a list read may stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from watcher.plan import LIST_THRESHOLD, Costs, Ewma, Plan, choose, cut

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def costs(get: float | None, item: float | None, list_items: int | None = 1000) -> Costs:
    """Costs as if measured: seconds per detail read and per list item."""
    return Costs(get=Ewma(value=get), item=Ewma(value=item), list_items=list_items)


def test_before_any_measure_the_threshold_decides() -> None:
    """Unmeasured, up to LIST_THRESHOLD runs are read one by one, more through the list."""
    fresh = Costs.fresh()
    assert choose(LIST_THRESHOLD, None, fresh, concurrency=8) is Plan.EACH
    assert choose(LIST_THRESHOLD + 1, None, fresh, concurrency=8) is Plan.LIST
    assert choose(0, None, fresh, concurrency=8) is Plan.EACH


def test_measured_costs_decide() -> None:
    """A cheap list beats many detail reads; a long, slow list loses to a few fast reads."""
    assert choose(40, 1000, costs(get=0.01, item=0.000_005), concurrency=8) is Plan.LIST
    assert choose(40, 100_000, costs(get=0.002, item=0.000_01), concurrency=8) is Plan.EACH
    # The reach matters: the same costs, the runs near the top of the list.
    assert choose(40, 200, costs(get=0.002, item=0.000_01), concurrency=8) is Plan.LIST


def test_ewma_follows_its_samples() -> None:
    """The first sample is the value; later ones move it by alpha."""
    average = Ewma(alpha=0.5)
    average.add(1.0)
    average.add(3.0)
    assert average.value == 2.0


def test_cut_reads_everything_without_a_watermark_or_an_unplaced_run() -> None:
    """First read since start (no watermark), or a run without a creation time: no stop."""
    measured = costs(get=0.005, item=0.000_005)
    assert cut([("a", T0)], None, {}, measured).before is None
    assert cut([("a", None)], T0, {"a": 3}, measured).before is None


def test_cut_stops_after_the_watermark_and_the_active_runs() -> None:
    """Active runs near the top: the read stops after the oldest of them, none by id."""
    wanted = [("a", T0 - timedelta(minutes=1)), ("b", T0 - timedelta(minutes=5))]
    where = cut(wanted, T0, {"a": 3, "b": 10}, costs(get=0.005, item=0.000_005))
    assert where.before == T0 - timedelta(minutes=5)
    assert where.by_id == ()


def test_cut_leaves_a_far_old_active_run_to_a_detail_read() -> None:
    """An active run 90,000 items down costs more as list items than as one detail read."""
    old = T0 - timedelta(days=20)
    wanted = [("new", T0 - timedelta(minutes=1)), ("old", old)]
    where = cut(wanted, T0, {"new": 5, "old": 90_000}, costs(get=0.005, item=0.000_005))
    assert where.by_id == ("old",)
    assert where.before == T0 - timedelta(minutes=1)

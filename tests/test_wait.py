"""`watcher.wait`, the pure half of `wait`: exit codes, changes, rate and ETA, the lines."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.models import RUN
from watcher.wait import (
    Exit,
    Job,
    Watch,
    at_deadline,
    detail_line,
    eta_seconds,
    exit_line,
    gone_line,
    job_of,
    json_of,
    outcome,
    progress_line,
    rate_per_second,
    retry_line,
    watch,
)

RUN_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
OTHER = "5afebd51-f0f3-4c48-b44f-6cee0e5256cb"
STATUSES = ("PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELED", "PAUSED", None)


def job(
    status: str | None = "PROCESSING",
    completed: int = 0,
    failed: int = 0,
    requested: int | None = 100,
    cost: float | None = None,
    ref: str = RUN_ID,
) -> Job:
    return Job(ref, "run", status, completed, failed, requested, cost, {"id": ref})


def seen(*observations: tuple[float, Job]) -> Watch:
    """The watch after these (time, job) observations, in order."""
    state = Watch(observations[0][1].ref)
    for at, observed in observations:
        state, _ = watch(state, observed, at)
    return state


# -- the exit code ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        (["SUCCEEDED"], Exit.SUCCEEDED),
        (["SUCCEEDED", "SUCCEEDED"], Exit.SUCCEEDED),
        (["FAILED"], Exit.FAILED),
        (["SUCCEEDED", "FAILED"], Exit.FAILED),
        (["CANCELED", "FAILED"], Exit.FAILED),
        (["CANCELED"], Exit.CANCELED),
        (["SUCCEEDED", "CANCELED"], Exit.CANCELED),
        (["SUCCEEDED", "PROCESSING"], None),
        (["FAILED", "PENDING"], None),
        (["FAILED", "PAUSED"], None),  # an unknown status is not an end
        (["SUCCEEDED", None], None),
    ],
)
def test_outcome_once_every_job_finished(statuses: list[str | None], code: Exit | None) -> None:
    """FAILED wins over CANCELED, which wins over SUCCEEDED; nothing while one is unfinished."""
    assert outcome(job(status) for status in statuses) is code


def test_a_job_never_read_keeps_the_wait_going() -> None:
    """A ref with no observation yet (None) is not finished."""
    assert outcome([job("SUCCEEDED"), None]) is None


def test_the_exit_codes_are_the_brief_s() -> None:
    """0, 1, 3, 4, 5 and 2, as scripts rely on them."""
    assert [int(code) for code in Exit] == [0, 1, 2, 3, 4, 5, 130, 143]


def test_at_the_deadline_a_failing_api_is_5_else_4() -> None:
    """The timeout passing while the API fails means it could not watch."""
    assert at_deadline(unreachable=True) is Exit.CANNOT_WATCH
    assert at_deadline(unreachable=False) is Exit.TIMEOUT


@given(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=8), st.randoms())
def test_outcome_properties(statuses: list[str | None], rng: Any) -> None:
    """Order never matters; None iff one is unfinished; FAILED iff any failed, and so on."""
    shuffled = list(statuses)
    rng.shuffle(shuffled)
    code = outcome(job(s) for s in statuses)
    assert code is outcome(job(s) for s in shuffled)
    terminal = {"SUCCEEDED", "FAILED", "CANCELED"}
    if not all(s in terminal for s in statuses):
        assert code is None
    elif "FAILED" in statuses:
        assert code is Exit.FAILED
    elif "CANCELED" in statuses:
        assert code is Exit.CANCELED
    else:
        assert code is Exit.SUCCEEDED


# -- what changed -------------------------------------------------------------------------


def test_the_first_sight_is_a_change() -> None:
    """A job seen for the first time gets its line."""
    _, changed = watch(Watch(RUN_ID), job(), 0.0)
    assert changed


def test_the_same_observation_again_is_no_change() -> None:
    """A poll that saw nothing new prints nothing (a line per change, not per poll)."""
    state, _ = watch(Watch(RUN_ID), job(completed=5), 0.0)
    _, changed = watch(state, job(completed=5), 5.0)
    assert not changed


@pytest.mark.parametrize(
    "after",
    [job("SUCCEEDED", completed=5), job(completed=6), job(completed=5, failed=1)],
    ids=["status", "completed", "failed"],
)
def test_a_new_status_or_count_is_a_change(after: Job) -> None:
    """Status, completed and failed samples each make a change."""
    state, _ = watch(Watch(RUN_ID), job(completed=5), 0.0)
    _, changed = watch(state, after, 5.0)
    assert changed


def test_cost_alone_is_no_change() -> None:
    """Cost moves with the samples; on its own it is not worth a line."""
    state, _ = watch(Watch(RUN_ID), job(completed=5, cost=1.0), 0.0)
    _, changed = watch(state, job(completed=5, cost=1.5), 5.0)
    assert not changed


@given(st.lists(st.tuples(st.sampled_from(STATUSES), st.integers(0, 50)), min_size=1))
def test_changed_iff_status_or_counts_differ_from_the_last(
    observations: list[tuple[str | None, int]],
) -> None:
    """Whatever the sequence, a change is exactly a difference from the last observation."""
    state = Watch(RUN_ID)
    last: tuple[str | None, int] | None = None
    for at, (status, completed) in enumerate(observations):
        state, changed = watch(state, job(status, completed), float(at))
        assert changed == (last != (status, completed))
        last = (status, completed)


# -- rate and ETA -------------------------------------------------------------------------


def test_no_rate_from_one_observation() -> None:
    """One sight says nothing about pace."""
    state = seen((0.0, job(completed=10)))
    assert rate_per_second(state) is None
    assert eta_seconds(state) is None


def test_rate_and_eta_from_the_first_sight_under_way() -> None:
    """10 samples in 10 s: 1/s, and 80 left of 100 (10 done, 10 more since) is 80 s."""
    state = seen((0.0, job(completed=10)), (10.0, job(completed=20)))
    assert rate_per_second(state) == pytest.approx(1.0)
    assert eta_seconds(state) == pytest.approx(80.0)


def test_failed_samples_count_as_processed() -> None:
    """The requested count is worked through by failed samples too."""
    state = seen((0.0, job(completed=0)), (10.0, job(completed=5, failed=5)))
    assert rate_per_second(state) == pytest.approx(1.0)
    assert eta_seconds(state) == pytest.approx(90.0)


def test_time_pending_is_not_counted_in_the_rate() -> None:
    """The origin moves while the job is queued: its first samples are not diluted."""
    state = seen(
        (0.0, job("PENDING")), (100.0, job("PENDING")), (110.0, job("PROCESSING", completed=10))
    )
    assert rate_per_second(state) == pytest.approx(1.0)


def test_a_count_going_back_restarts_the_rate() -> None:
    """A job restarted by the API (fewer samples than before) is timed afresh."""
    state = seen((0.0, job(completed=50)), (10.0, job(completed=60)), (20.0, job(completed=5)))
    assert rate_per_second(state) is None
    state, _ = watch(state, job(completed=15), 30.0)
    assert rate_per_second(state) == pytest.approx(1.0)


def test_no_eta_without_a_requested_count_or_once_finished() -> None:
    """Unknown totals and finished jobs have no ETA."""
    unknown = seen((0.0, job(requested=None)), (10.0, job(completed=10, requested=None)))
    assert rate_per_second(unknown) == pytest.approx(1.0)
    assert eta_seconds(unknown) is None
    done = seen((0.0, job()), (10.0, job("SUCCEEDED", completed=100)))
    assert eta_seconds(done) is None


def test_no_rate_while_nothing_moved() -> None:
    """A stalled job has no rate (not 0/min, which would read as an endless ETA)."""
    state = seen((0.0, job(completed=10)), (10.0, job(completed=10)))
    assert rate_per_second(state) is None


@given(
    st.lists(st.tuples(st.floats(0.001, 1e4), st.integers(0, 1000)), min_size=1, max_size=20),
    st.one_of(st.none(), st.integers(1, 2000)),
)
def test_rate_and_eta_are_never_negative(
    steps: list[tuple[float, int]], requested: int | None
) -> None:
    """Whatever the observations (time moving on), rate and ETA are None or >= 0, finite."""
    state = Watch(RUN_ID)
    at = 0.0
    for gap, completed in steps:
        at += gap
        state, _ = watch(state, job(completed=completed, requested=requested), at)
        rate, eta = rate_per_second(state), eta_seconds(state)
        assert rate is None or rate > 0
        assert eta is None or eta >= 0


@given(st.integers(0, 500), st.integers(1, 500), st.floats(0.01, 1e5))
def test_rate_is_samples_moved_over_time_elapsed(start: int, moved: int, elapsed: float) -> None:
    """Two observations under way: the rate is what moved over how long it took."""
    state = seen((1.0, job(completed=start)), (1.0 + elapsed, job(completed=start + moved)))
    assert rate_per_second(state) == pytest.approx(moved / elapsed)


# -- reading a run ------------------------------------------------------------------------


def run(**fields: Any) -> Any:
    return RUN.validate_python({"id": RUN_ID, **fields})


def test_job_of_a_detail_read() -> None:
    """Requested from runtime_params, counts and cost from the run, the API's JSON kept."""
    observed = job_of(
        RUN_ID,
        run(
            status="PROCESSING",
            samples_completed=12,
            samples_failed=3,
            total_cost=1.5,
            runtime_params={"number_of_samples": 60},
        ),
    )
    assert (observed.processed, observed.requested, observed.cost) == (15, 60, 1.5)
    assert observed.fraction == pytest.approx(0.25)
    assert observed.data["kind"] == "run"
    assert observed.data["runtime_params"] == {"number_of_samples": 60}


@pytest.mark.parametrize("requested", [None, 0, -5, "100", True, 2.5])
def test_job_of_without_a_usable_requested_count(requested: object) -> None:
    """A missing or nonsensical number_of_samples means an unknown total, never a crash."""
    observed = job_of(RUN_ID, run(runtime_params={"number_of_samples": requested}))
    assert observed.requested is None
    assert observed.fraction is None


def test_job_of_a_bare_run() -> None:
    """Nulls everywhere (list-read shape, odd API): zero counts, no cost, no status."""
    observed = job_of(RUN_ID, run(samples_completed=None, samples_failed=-3))
    assert (observed.status, observed.completed, observed.failed) == (None, 0, 0)


def test_fraction_is_capped_at_one() -> None:
    """More samples than requested (retries) is 100%, not 120%."""
    assert job(completed=120).fraction == 1.0


# -- lines --------------------------------------------------------------------------------


def test_progress_line_with_everything() -> None:
    """Ref first (for grep), then status, samples, percentage, failed, rate, ETA, cost."""
    state = seen((0.0, job(completed=10, cost=0.5)), (60.0, job(completed=20, failed=4, cost=1.25)))
    assert progress_line(state) == (
        f"{RUN_ID} PROCESSING 24/100 samples (24%), 4 failed, 14.0/min, ETA 5m 26s, $1.25"
    )


def test_progress_line_with_what_is_known() -> None:
    """No total, no rate, no cost: just the count."""
    state = seen((0.0, job("PENDING", requested=None)))
    assert progress_line(state) == f"{RUN_ID} PENDING 0 samples"


def test_a_finished_line_has_no_rate_nor_eta() -> None:
    """Pace and time left mean nothing once a job ended."""
    state = seen((0.0, job(completed=10)), (10.0, job("SUCCEEDED", completed=100, cost=2.0)))
    assert detail_line(state) == "SUCCEEDED 100/100 samples (100%), $2.00"


def test_unseen_and_unknown_status_lines() -> None:
    """A job not read yet, and one whose status is null."""
    assert progress_line(Watch(RUN_ID)) == f"{RUN_ID} UNSEEN"
    assert detail_line(seen((0.0, job(None)))).startswith("UNKNOWN ")


@given(
    st.sampled_from(STATUSES),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.one_of(st.none(), st.integers(1, 10**6)),
    st.one_of(st.none(), st.floats(0, 1e6)),
)
def test_a_progress_line_is_one_line_starting_with_the_ref(
    status: str | None, completed: int, failed: int, requested: int | None, cost: float | None
) -> None:
    """Whatever the numbers: one line, the full ref first, the status second."""
    state = seen(
        (0.0, job(status, 0, 0, requested, cost)),
        (7.0, job(status, completed, failed, requested, cost)),
    )
    line = progress_line(state)
    assert "\n" not in line
    assert line.split(" ")[:2] == [RUN_ID, status or "UNKNOWN"]


def test_retry_and_gone_lines() -> None:
    """The lines a failing poll and a 404 print."""
    assert retry_line("HTTP 503", 4.0) == "API unreachable (HTTP 503), retrying in 4s"
    assert retry_line("HTTP 503", 0.2999) == "API unreachable (HTTP 503), retrying in 300ms"
    assert gone_line(RUN_ID, seen=False) == f"{RUN_ID}: no such run (the API answers 404)"
    assert RUN_ID in gone_line(RUN_ID, seen=True)
    assert "disappeared" in gone_line(RUN_ID, seen=True)


def test_exit_lines() -> None:
    """The closing line names the runs behind the verdict by their full ids."""
    ok = seen((0.0, job("SUCCEEDED")))
    bad = seen((0.0, job("FAILED", ref=OTHER)))
    going = seen((0.0, job("PROCESSING", ref=OTHER)))
    assert exit_line(Exit.SUCCEEDED, [ok]) == "the run SUCCEEDED"
    assert exit_line(Exit.SUCCEEDED, [ok, ok]) == "all 2 runs SUCCEEDED"
    assert exit_line(Exit.FAILED, [ok, bad]) == f"1 of 2 runs FAILED: {OTHER}"
    assert exit_line(Exit.TIMEOUT, [ok, going], timeout=90) == (
        f"timed out after 1m30s; still running: {OTHER}"
    )
    assert exit_line(Exit.CANNOT_WATCH, [going]) == f"could not watch; unfinished: {OTHER}"
    assert exit_line(Exit.INTERRUPTED, [going]) == f"interrupted; unfinished: {OTHER}"


def test_json_of_keeps_order_and_names_unseen_refs() -> None:
    """One entry per ref, in order; a ref never read is its id with a null status."""
    states = [Watch(OTHER), seen((0.0, job("SUCCEEDED")))]
    assert json_of(states) == [
        {"id": OTHER, "kind": "run", "status": None},
        {"id": RUN_ID},
    ]

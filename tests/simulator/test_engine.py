"""The simulated world driven directly, on a hand-moved clock: lifecycle, pins, cancel, faults."""

from __future__ import annotations

import json

import pytest

from watcher.simulator import (
    DEMO_SETTLES_AFTER,
    LIST_FIELDS,
    ManualClock,
    NotCancelable,
    PlanDefaults,
    RunNotFound,
    RunPlan,
    Simulator,
    demo_scenario,
)
from watcher.simulator.faults import FaultInjector, FaultSpecError, parse_fault
from watcher.simulator.model import iso

T0 = 1_767_225_600.0  # ManualClock's default start, 2026-01-01T00:00:00Z


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    return Simulator(clock=clock, seed=7)


def plan(outcome: str = "SUCCEEDED", end: float = 1.0, failure_rate: float = 0.0) -> RunPlan:
    return RunPlan(outcome, 10.0, 100.0, end, failure_rate, 0.01)  # type: ignore[arg-type]


def test_a_successful_run_walks_its_whole_lifecycle(sim: Simulator, clock: ManualClock) -> None:
    """PENDING, then PROCESSING with growing samples and cost, then SUCCEEDED with files."""
    run = sim.add_run(plan=plan(), number_of_samples=100)
    first = sim.detail(run.id)
    assert first["status"] == "PENDING"
    assert (first["samples_completed"], first["total_cost"], first["completed_at"]) == (
        0,
        None,
        None,
    )
    assert first["generated_files"] == []
    assert first["created_at"] == "2026-01-01T00:00:00Z"

    clock.advance(10)
    assert sim.status(run.id) == "PROCESSING"
    clock.advance(50)
    half = sim.detail(run.id)
    assert (half["status"], half["samples_completed"], half["total_cost"]) == (
        "PROCESSING",
        50,
        0.5,
    )
    assert half["completed_at"] is None

    clock.advance(50)
    done = sim.detail(run.id)
    assert (done["status"], done["samples_completed"], done["samples_failed"]) == (
        "SUCCEEDED",
        100,
        0,
    )
    assert done["total_cost"] == 1.0
    assert done["completed_at"] == iso(T0 + 110)
    assert [f["path"].rsplit("/", 1)[-1] for f in done["generated_files"]] == [
        "samples.jsonl",
        "samples.csv",
        "run_report.json",
    ]
    assert all(f["size_bytes"] > 0 for f in done["generated_files"])
    clock.advance(1000)
    assert sim.detail(run.id) == done


def test_progress_never_goes_backwards(sim: Simulator, clock: ManualClock) -> None:
    """samples_completed, samples_failed and cost only grow while the clock moves."""
    run = sim.add_run(plan=plan(failure_rate=0.1), number_of_samples=500)
    seen = []
    for _ in range(30):
        item = run.list_item(clock())
        seen.append((item["samples_completed"], item["samples_failed"], item["total_cost"] or 0.0))
        clock.advance(4.5)
    assert seen == sorted(seen)
    assert seen[-1][1] == 50  # 10% of 500 samples failed


@pytest.mark.parametrize("outcome", ["FAILED", "CANCELED"])
def test_a_bad_outcome_stops_part_way_with_a_partial_file(
    sim: Simulator, clock: ManualClock, outcome: str
) -> None:
    """FAILED and CANCELED plans end at end_fraction of the samples, with what was written."""
    run = sim.add_run(plan=plan(outcome, end=0.4), number_of_samples=100)
    clock.advance(110)
    detail = sim.detail(run.id)
    assert (detail["status"], detail["samples_completed"]) == (outcome, 40)
    assert detail["completed_at"] == iso(T0 + 110)
    assert [f["path"].endswith("partial/samples.jsonl") for f in detail["generated_files"]] == [
        True
    ]


def test_cancel_rules(sim: Simulator, clock: ManualClock) -> None:
    """Only PENDING or PROCESSING runs cancel; a canceled run stays canceled and frozen."""
    pending = sim.add_run(plan=plan(), number_of_samples=100)
    processing = sim.add_run(plan=plan(), number_of_samples=100)
    clock.advance(5)
    assert sim.cancel(pending.id)["status"] == "CANCELED"
    clock.advance(55)
    canceled = sim.cancel(processing.id)
    assert (canceled["status"], canceled["samples_completed"]) == ("CANCELED", 50)
    assert canceled["completed_at"] == iso(T0 + 60)
    clock.advance(500)
    assert sim.detail(processing.id) == canceled
    assert sim.detail(pending.id)["completed_at"] == iso(T0 + 5)
    with pytest.raises(NotCancelable):
        sim.cancel(processing.id)
    finished = sim.add_run(plan=plan(), created_ago_seconds=1000)
    with pytest.raises(NotCancelable) as info:
        sim.cancel(finished.id)
    assert info.value.status == "SUCCEEDED"


def test_forcing_an_unknown_status_freezes_the_run(sim: Simulator, clock: ManualClock) -> None:
    """Any string can be forced; a non-terminal one keeps progress frozen and no completed_at."""
    run = sim.add_run(plan=plan(), number_of_samples=100)
    clock.advance(60)
    forced = sim.force_status(run.id, "PAUSED")
    clock.advance(1000)
    later = sim.detail(run.id)
    assert later == forced
    assert (later["status"], later["samples_completed"], later["completed_at"]) == (
        "PAUSED",
        50,
        None,
    )
    with pytest.raises(NotCancelable):
        sim.cancel(run.id)


def test_forcing_a_terminal_status_completes_the_run(sim: Simulator, clock: ManualClock) -> None:
    """Forced SUCCEEDED gets every sample and the files; forced FAILED keeps its progress."""
    winner = sim.add_run(plan=plan("FAILED", end=0.3), number_of_samples=100)
    loser = sim.add_run(plan=plan(), number_of_samples=100)
    clock.advance(60)
    won = sim.force_status(winner.id, "SUCCEEDED")
    lost = sim.force_status(loser.id, "FAILED")
    assert (won["samples_completed"], won["completed_at"], len(won["generated_files"])) == (
        100,
        iso(T0 + 60),
        3,
    )
    assert (lost["samples_completed"], lost["completed_at"]) == (50, iso(T0 + 60))
    assert len(lost["generated_files"]) == 1


def test_forcing_status_replaces_a_cached_finished_item(sim: Simulator, clock: ManualClock) -> None:
    """The list's cache of finished runs is dropped when a status is forced."""
    run = sim.add_run(plan=plan(), created_ago_seconds=500)
    assert json.loads(sim.list_json())[0]["status"] == "SUCCEEDED"
    sim.force_status(run.id, "FAILED")
    assert json.loads(sim.list_json())[0]["status"] == "FAILED"


def test_the_fast_list_encoding_matches_the_plain_one(sim: Simulator, clock: ManualClock) -> None:
    """The pre-encoded list items equal json.dumps of the dict items, in every state."""
    sim.create_runs(40, created_ago_seconds=(0, 200), pending_seconds=(0, 20))
    odd = sim.add_run(spec_name='quote"and\\slash-ünïcode')
    sim.force_status(odd.id, 'PA"USED')
    for _ in range(3):
        listed = json.loads(sim.list_json())
        assert listed == [run.list_item(clock()) for run in sim.runs()]
        assert all(tuple(item) == LIST_FIELDS for item in listed)
        clock.advance(33)


def test_runs_are_listed_newest_first(sim: Simulator) -> None:
    """By created_at, and by creation order among runs created at the same instant."""
    old = sim.add_run(created_ago_seconds=100)
    a = sim.add_run()
    b = sim.add_run()
    older = sim.add_run(created_ago_seconds=50)
    assert [run.id for run in sim.runs()] == [b.id, a.id, older.id, old.id]
    assert [item["id"] for item in json.loads(sim.list_json())] == [b.id, a.id, older.id, old.id]


def test_a_seed_makes_the_world_reproducible() -> None:
    """Same seed, same clock: the same runs, ids included."""
    worlds = []
    for _ in range(2):
        sim = Simulator(clock=ManualClock(), seed=42)
        sim.create_runs(20)
        worlds.append(sim.dump())
    assert worlds[0] == worlds[1]
    assert Simulator(clock=ManualClock(), seed=43).create_runs(1)[0].id != worlds[0][-1]["id"]


def test_bulk_outcomes_as_a_list_or_as_weights(sim: Simulator) -> None:
    """A list is one outcome per run (cycled); weights draw among the named outcomes."""
    listed = sim.create_runs(outcomes=["FAILED", "CANCELED"])
    assert [run.plan.outcome for run in listed] == ["FAILED", "CANCELED"]
    cycled = sim.create_runs(5, outcomes=["FAILED", "SUCCEEDED"])
    assert [run.plan.outcome for run in cycled] == ["FAILED", "SUCCEEDED"] * 2 + ["FAILED"]
    weighted = sim.create_runs(30, outcomes={"CANCELED": 1.0})
    assert {run.plan.outcome for run in weighted} == {"CANCELED"}
    with pytest.raises(ValueError, match="unknown outcome"):
        sim.create_runs(outcomes=["DONE"])


def test_bulk_fixed_status_pins_every_run(sim: Simulator, clock: ManualClock) -> None:
    """``status`` pins the new runs at that status, whatever their plan says."""
    runs = sim.create_runs(3, status="PROCESSING")
    clock.advance(10_000)
    assert {sim.status(run.id) for run in runs} == {"PROCESSING"}


def test_delete_and_reset(sim: Simulator) -> None:
    """A deleted run is gone; reset clears counters, and runs or faults only when asked."""
    run = sim.add_run()
    sim.delete(run.id)
    with pytest.raises(RunNotFound):
        sim.detail(run.id)
    with pytest.raises(RunNotFound):
        sim.delete(run.id)
    sim.add_run()
    sim.faults.add([{"kind": "drop", "always": True}])
    sim.stats.record("GET /api/dataframer/runs/", 200)
    sim.reset()
    assert (sim.stats.total, len(sim.runs()), len(sim.faults.active())) == (0, 1, 1)
    sim.reset(runs=True, faults=True)
    assert (len(sim.runs()), sim.faults.active()) == (0, [])


def test_plan_defaults_reject_impossible_settings() -> None:
    """Bad ratios and ranges fail at construction, with the field named."""
    with pytest.raises(ValueError, match="failure_ratio"):
        PlanDefaults(failure_ratio=1.5)
    with pytest.raises(ValueError, match="must not exceed 1"):
        PlanDefaults(failure_ratio=0.6, cancel_ratio=0.6)
    with pytest.raises(ValueError, match="pending_seconds"):
        PlanDefaults(pending_seconds=(5.0, 1.0))
    spread = PlanDefaults.around(pending_seconds=2, processing_seconds=10)
    assert (spread.pending_seconds, spread.processing_seconds) == ((1.0, 3.0), (5.0, 15.0))


def test_the_demo_scenario_settles_with_every_outcome(sim: Simulator, clock: ManualClock) -> None:
    """Within DEMO_SETTLES_AFTER seconds: successes, a failure, a cancellation; one still busy."""
    runs = demo_scenario(sim)
    assert {sim.status(run.id) for run in runs} >= {"PENDING", "SUCCEEDED"}
    clock.advance(DEMO_SETTLES_AFTER)
    statuses = [sim.status(run.id) for run in runs]
    assert {"SUCCEEDED", "FAILED", "CANCELED"} <= set(statuses)
    assert statuses.count("PROCESSING") == 1
    assert all(run.spec_name.count("-") >= 2 for run in runs)
    assert all(sim.detail(run.id)["total_cost"] is not None for run in runs)


def test_faults_count_down_and_expire() -> None:
    """count=N hits N matching requests; always stays; latency adds up beside the decider."""
    faults = FaultInjector()
    faults.add(
        [
            {"kind": "latency", "seconds": 0.5, "count": 2},
            {"kind": "status", "status": 502, "count": 2, "method": "get"},
            {"kind": "drop", "always": True, "path_regex": r"/cancel/$"},
        ]
    )
    delay, fault = faults.take("POST", "/api/dataframer/runs/")
    assert (delay, fault) == (0.5, None)
    delay, fault = faults.take("GET", "/api/dataframer/runs/")
    assert delay == 0.5
    assert fault is not None
    assert (fault.kind, fault.status) == ("status", 502)
    assert faults.take("GET", "/x")[1] is not None
    assert faults.take("GET", "/x") == (0.0, None)
    for _ in range(3):
        decided = faults.take("POST", "/api/dataframer/runs/1/cancel/")[1]
        assert decided is not None
        assert decided.kind == "drop"
    assert [f["kind"] for f in faults.active()] == ["drop"]
    assert faults.clear() == 1


def test_a_path_prefix_limits_a_fault() -> None:
    """``path`` is a prefix: the list endpoint's fault spares the control of a single run."""
    faults = FaultInjector()
    faults.add([{"kind": "drop", "path": "/api/dataframer/runs/", "count": 5}])
    assert faults.take("GET", "/api/other/")[1] is None
    assert faults.take("GET", "/api/dataframer/runs/abc/")[1] is not None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "explode"}, "'kind' must be one of"),
        ({"kind": "drop", "count": 0}, "'count' must be a positive integer"),
        ({"kind": "status", "status": 700}, "'status' must be an HTTP status"),
        ({"kind": "latency", "seconds": -1}, "'seconds' must be a non-negative"),
        ({"kind": "drop", "path_regex": "("}, "not a valid regex"),
        ({"kind": "malformed", "variant": "garbled"}, "'variant' must be one of"),
        ("drop", "must be a JSON object"),
    ],
)
def test_bad_fault_specs_are_named(spec: object, message: str) -> None:
    """A fault spec error says which field is wrong."""
    with pytest.raises(FaultSpecError, match=message):
        parse_fault(spec)


def test_adding_faults_is_all_or_nothing() -> None:
    """One bad spec in a batch adds none of them."""
    faults = FaultInjector()
    with pytest.raises(FaultSpecError):
        faults.add([{"kind": "drop"}, {"kind": "nope"}])
    assert faults.active() == []


def test_bulk_statuses_pin_runs_in_turn(sim: Simulator) -> None:
    """A list of statuses pins the runs one by one and sets the count."""
    runs = sim.create_runs(status=["SUCCEEDED", "PAUSED", "FAILED"])
    assert [sim.status(run.id) for run in runs] == ["SUCCEEDED", "PAUSED", "FAILED"]
    assert sim.detail(runs[1].id)["completed_at"] is None


def test_a_plan_rejects_impossible_values() -> None:
    """Negative durations, fractions outside [0, 1] and unknown outcomes are refused."""
    with pytest.raises(ValueError, match="negative"):
        RunPlan(pending_seconds=-1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        RunPlan(end_fraction=1.5)
    with pytest.raises(ValueError, match="outcome"):
        RunPlan("DONE")  # type: ignore[arg-type]

"""Evaluations, red-team runs and anonymization runs in the simulated world: the one lifecycle,
their own rules, and the control surface that steers them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from watcher.simulator import (
    KINDS,
    ManualClock,
    NotSucceeded,
    RunNotFound,
    RunPlan,
    SimEvaluation,
    Simulator,
    mock_transport,
)
from watcher.simulator.model import iso

T0 = 1_767_225_600.0
PLAN = RunPlan("SUCCEEDED", 10.0, 100.0, 1.0, 0.0, 0.01)


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    return Simulator(clock=clock, seed=9)


@pytest.fixture
def control(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=mock_transport(sim), base_url="http://sim.test") as client:
        yield client


def make(sim: Simulator, kind: str, **kw: Any) -> str:
    """One job of ``kind`` on ``kw``'s plan; its id."""
    if kind == "evaluation":
        run = sim.add_run(outcome="SUCCEEDED", created_ago_seconds=1e4)
        return sim.add_evaluation(run.id, **kw).id
    if kind == "red_team":
        return sim.add_red_team_run(**kw).id
    return sim.add_anonymization_run(**kw).id


@pytest.mark.parametrize("kind", ["evaluation", "red_team", "anonymization"])
def test_each_kind_walks_the_same_lifecycle(sim: Simulator, clock: ManualClock, kind: Any) -> None:
    """PENDING, PROCESSING after the pending time, the outcome (and completed_at) after the
    processing time, and no change after that."""
    job_id = make(sim, kind, plan=PLAN)
    assert (sim.status(job_id, kind), sim.detail(job_id, kind)["completed_at"]) == (
        "PENDING",
        None,
    )
    clock.advance(10)
    assert sim.status(job_id, kind) == "PROCESSING"
    clock.advance(100)
    done = sim.detail(job_id, kind)
    assert (done["status"], done["completed_at"]) == ("SUCCEEDED", iso(T0 + 110))
    clock.advance(1000)
    assert sim.detail(job_id, kind) == done


def test_what_a_finished_job_holds(sim: Simulator) -> None:
    """Results appear with success only: distributions, prompts, masked files; a failure
    carries its error instead."""
    run = sim.add_run(outcome="SUCCEEDED", created_ago_seconds=1e4)
    good = sim.add_evaluation(run.id, status="SUCCEEDED")
    bad = sim.add_evaluation(run.id, status="FAILED")
    assert sim.detail(good.id, "evaluation")["distribution_analysis"]
    assert sim.detail(bad.id, "evaluation")["error_message"]
    red = sim.add_red_team_run(number_of_behaviors=8, number_of_prompts_per_behavior=2)
    sim.force_status(red.id, "SUCCEEDED", "red_team")
    behaviors = sim.detail(red.id, "red_team")["results_json"]["behavior_to_enhanced_queries"]
    assert len(behaviors) == 8  # more than the catalog's six: variants, all distinct
    anon = sim.add_anonymization_run(status="FAILED")
    detail = sim.detail(anon.id, "anonymization")
    assert (detail["anonymized_files"], detail["results"]["entities_found"]) == ([], [])
    assert detail["results"]["error"]


def test_kinds_that_never_cancel_refuse_a_canceled_plan(sim: Simulator) -> None:
    """Evaluations and anonymization runs end SUCCEEDED or FAILED; red-team runs may cancel."""
    run = sim.add_run(outcome="SUCCEEDED", created_ago_seconds=1e4)
    with pytest.raises(ValueError, match="SUCCEEDED, FAILED"):
        sim.add_evaluation(run.id, outcome="CANCELED")
    with pytest.raises(ValueError, match="unknown outcome"):
        sim.create_anonymization_runs(outcomes=["CANCELED"])
    drawn = sim.create_anonymization_runs(50, outcomes={"FAILED": 1, "CANCELED": 5})
    assert {job.plan.outcome for job in drawn} == {"FAILED"}
    assert {job.plan.outcome for job in sim.create_red_team_runs(5, outcomes=["CANCELED"])} == {
        "CANCELED"
    }


def test_an_evaluation_needs_a_succeeded_run(sim: Simulator) -> None:
    """Of a run still running: NotSucceeded; of an unknown one: RunNotFound."""
    running = sim.add_run(pending_seconds=100)
    with pytest.raises(NotSucceeded) as info:
        sim.add_evaluation(running.id)
    assert info.value.status == "PENDING"
    with pytest.raises(RunNotFound):
        sim.add_evaluation("nope")


def test_bulk_evaluations_take_the_succeeded_runs_in_turn(sim: Simulator) -> None:
    """Without run ids: the runs that succeeded, in turn; with none, each gets a new run."""
    winners = sim.create_runs(2, outcomes=["SUCCEEDED"], created_ago_seconds=1e4)
    sim.create_runs(3, pending_seconds=100)
    made = sim.create_evaluations(5)
    per_run = Counter(e.run_id for e in made)
    assert (set(per_run), sorted(per_run.values())) == ({w.id for w in winners}, [2, 3])
    fresh = Simulator(clock=ManualClock(), seed=1)
    alone = fresh.create_evaluations(3)
    assert len({e.run_id for e in alone}) == 3
    assert {fresh.status(e.run_id) for e in alone} == {"SUCCEEDED"}


def test_forcing_reading_and_deleting_stay_within_a_kind(sim: Simulator) -> None:
    """A red-team id is not found as a run, an anonymization run or an evaluation."""
    red = sim.add_red_team_run()
    for kind in ("run", "evaluation", "anonymization"):
        with pytest.raises(RunNotFound):
            sim.force_status(red.id, "FAILED", kind)  # type: ignore[arg-type]
    assert sim.force_status(red.id, "PAUSED", "red_team")["status"] == "PAUSED"
    sim.delete(red.id, "red_team")
    with pytest.raises(RunNotFound):
        sim.status(red.id, "red_team")
    with pytest.raises(ValueError, match="unknown kind"):
        sim.jobs("generation")  # type: ignore[arg-type]


def test_reset_clears_every_kind_and_a_seed_replays_them(sim: Simulator) -> None:
    """reset(runs=True) empties each kind; the same seed makes the same world of each kind."""
    worlds = []
    for _ in range(2):
        world = Simulator(clock=ManualClock(), seed=4)
        world.create_runs(5, created_ago_seconds=(0, 1000))
        world.create_evaluations(3)
        world.create_red_team_runs(3)
        world.create_anonymization_runs(3)
        worlds.append([world.dump(kind) for kind in KINDS])
    assert worlds[0] == worlds[1]
    sim.create_red_team_runs(2)
    sim.create_evaluations(2)
    sim.reset(runs=True)
    assert all(sim.jobs(kind) == [] for kind in KINDS)


def test_the_control_surface_steers_every_kind(sim: Simulator, control: httpx.Client) -> None:
    """Bulk create, dump and force for each kind's path, without a key."""
    made = control.post("/_sim/red-team-runs", json={"statuses": ["PROCESSING", "CANCELED"]})
    assert (made.status_code, made.json()["created"]) == (201, 2)
    red_ids = made.json()["ids"]
    dump = control.get("/_sim/red-team-runs").json()["red-team-runs"]
    assert {job["id"]: job["status"] for job in dump} == dict(
        zip(red_ids, ["PROCESSING", "CANCELED"], strict=True)
    )
    assert all(job["pinned"] and "plan" in job for job in dump)
    forced = control.post(f"/_sim/red-team-runs/{red_ids[0]}/status", json={"status": "FAILED"})
    assert forced.json()["status"] == "FAILED"
    run = sim.add_run(outcome="SUCCEEDED", created_ago_seconds=1e4)
    evaluated = control.post("/_sim/evaluations", json={"count": 2, "run_ids": [run.id]})
    for evaluation_id in evaluated.json()["ids"]:
        evaluation = sim.job(evaluation_id, "evaluation")
        assert isinstance(evaluation, SimEvaluation)
        assert evaluation.run_id == run.id
    pending = sim.add_run(pending_seconds=100)
    refused = control.post("/_sim/evaluations", json={"run_ids": [pending.id]})
    assert refused.status_code == 400
    anon = control.post("/_sim/anonymization-runs", json={"count": 1}).json()["ids"][0]
    assert control.post(f"/_sim/runs/{anon}/status", json={"status": "X"}).status_code == 404
    assert (
        control.post(f"/_sim/anonymization-runs/{anon}/status", json={"status": "X"}).status_code
        == 200
    )
    assert control.post("/_sim/reset", json={"runs": True}).status_code == 200
    assert control.get("/_sim/anonymization-runs").json()["anonymization-runs"] == []


def test_the_control_surface_sets_the_storage(sim: Simulator, control: httpx.Client) -> None:
    """URL lifetime and ZIP preparation time are read and set over HTTP."""
    assert control.get("/_sim/files").json() == {
        "url_ttl_seconds": 3600.0,
        "archive_seconds": 0.0,
        "urls_signed": 0,
    }
    changed = control.post("/_sim/files", json={"url_ttl_seconds": 60, "archive_seconds": 5})
    assert (changed.json()["url_ttl_seconds"], changed.json()["archive_seconds"]) == (60.0, 5.0)
    assert control.post("/_sim/files", json={"archive_seconds": -1}).status_code == 400
    assert control.post("/_sim/files/expire").json() == {"expired": 0}

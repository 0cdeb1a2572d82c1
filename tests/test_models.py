"""Our lean models of every job kind, with the official SDK's models as the oracle, and our
client reading each kind from the simulator over real HTTP (red-team status from its own path).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from dataframer import Dataframer
from dataframer.types.dataframer.anonymization_run_list_response import (
    AnonymizationRunListResponseItem,
)
from dataframer.types.dataframer.anonymization_run_retrieve_response import (
    AnonymizationRunRetrieveResponse,
)
from dataframer.types.dataframer.evaluation_retrieve_response import EvaluationRetrieveResponse
from dataframer.types.dataframer.red_team_run_list_response import RedTeamRunListResponseItem
from dataframer.types.dataframer.red_team_run_retrieve_status_response import (
    RedTeamRunRetrieveStatusResponse,
)
from dataframer.types.dataframer.run_list_response import RunListResponseItem
from dataframer.types.dataframer.run_retrieve_response import RunRetrieveResponse
from pydantic import BaseModel

from tests.simulator.sdk_oracle import fields, literal_values
from tests.simulator.test_contract_kinds import DATASET, NO_FAILURES, RED_TEAM_SPEC
from tests.support import API_KEY
from watcher.api import DataframerClient
from watcher.errors import NotFound
from watcher.kinds import KIND_TABLE, LISTED_KINDS
from watcher.models import AnonymizationRun, Evaluation, Job, RedTeamRun, Run
from watcher.run_refs import KINDS
from watcher.simulator import ManualClock, Simulator, SimulatorServer

# What the pipeline reads of any job (`Job`): None where a kind has no such thing.
SHARED_VIEW = set(Job.model_fields) - {"id", "status", "created_at", "completed_at"}
# SDK fields we count instead of keeping, or keep under the shared view's name.
COUNTED = {
    Evaluation: {"sample_classifications": "samples_classified"},
    RedTeamRun: {"results_json": "prompts_written"},
    AnonymizationRun: {"anonymized_files": "generated_files"},
    Run: {},
}
# Fields the SDK declares that no alert needs: kept as extra data when the API sends them.
UNUSED = {"content_location", "content_unavailable_reason", "created_by"}

ORACLE: dict[type[Job], tuple[type[BaseModel], ...]] = {
    Run: (RunRetrieveResponse, RunListResponseItem),
    Evaluation: (EvaluationRetrieveResponse,),
    RedTeamRun: (RedTeamRunRetrieveStatusResponse, RedTeamRunListResponseItem),
    AnonymizationRun: (AnonymizationRunRetrieveResponse, AnonymizationRunListResponseItem),
}


def test_the_kinds_table_covers_every_kind_once() -> None:
    """One entry per kind, in the refs' order; evaluations alone have no list."""
    assert tuple(KIND_TABLE) == KINDS
    assert LISTED_KINDS == ("run", "red_team", "anonymization")
    assert {k.model for k in KIND_TABLE.values()} == set(ORACLE)
    assert KIND_TABLE["red_team"].detail_path("x") == "/api/dataframer/red-team-runs/x/status/"
    assert KIND_TABLE["evaluation"].detail_path("a/b") == "/api/dataframer/evaluations/a%2Fb/"


@pytest.mark.parametrize("model", list(ORACLE), ids=lambda m: m.__name__)
def test_our_statuses_are_the_sdks(model: type[Job]) -> None:
    """Each kind's lifecycle is the SDK's: evaluations and anonymizations cannot be canceled."""
    for sdk in ORACLE[model]:
        assert literal_values(sdk, "status") == set(model.statuses), sdk.__name__


@pytest.mark.parametrize("model", list(ORACLE), ids=lambda m: m.__name__)
def test_our_fields_are_the_sdks(model: type[Job]) -> None:
    """Every field of ours beyond the shared view is one the SDK's detail model declares
    (under its wire name), or a count of one; every SDK field we do not declare is one we
    count, or one no alert needs (kept as extra data all the same)."""
    detail = fields(ORACLE[model][0])
    counted = COUNTED[model]
    ours = set(model.model_fields) - SHARED_VIEW - set(counted.values())
    assert ours - {"id", "status", "created_at", "completed_at"} <= detail, ours - detail
    missing = detail - set(model.model_fields) - set(counted) - UNUSED
    assert missing == set(), f"{model.__name__} lacks {missing}"


@pytest.mark.parametrize(
    ("kind", "ref"),
    [
        ("run", "j1"),
        ("evaluation", "evaluation:j1"),
        ("red_team", "red-team:j1"),
        ("anonymization", "anonymization:j1"),
    ],
)
def test_an_unknown_status_is_data_for_every_kind(kind: str, ref: str) -> None:
    """A status the SDK does not know, and a field it does not declare, are kept as they
    came, never a crash; each job knows its kind and its canonical reference."""
    job = KIND_TABLE[kind].one.validate_python({"id": "j1", "status": "PAUSED", "whatever": 1})
    assert (job.status, job.kind, job.ref) == ("PAUSED", kind, ref)
    assert job.model_extra == {"whatever": 1}


def _read_all(server: SimulatorServer, keys: list[str]) -> tuple[list[Job], dict[str, list[Job]]]:
    async def go() -> tuple[list[Job], dict[str, list[Job]]]:
        async with DataframerClient(server.url, API_KEY) as client:
            jobs = [await client.get_job(key) for key in keys]
            lists = {kind: await client.list_jobs(kind, strict=True) for kind in LISTED_KINDS}
            return jobs, lists

    return asyncio.run(go())


def test_our_client_reads_every_kind_from_its_own_path() -> None:
    """A job read by its canonical reference comes from its kind's path (red-team status
    from `/status/`), finished ones with what their alert shows; each listed kind's list
    holds its own jobs only."""
    sim = Simulator(api_key=API_KEY, seed=3)
    run = sim.add_run(status="SUCCEEDED", number_of_samples=20)
    evaluation = sim.add_evaluation(run.id, status="SUCCEEDED")
    red = sim.add_red_team_run(number_of_behaviors=2, number_of_prompts_per_behavior=3)
    anon = sim.add_anonymization_run()
    sim.force_status(red.id, "SUCCEEDED", "red_team")
    sim.force_status(anon.id, "SUCCEEDED", "anonymization")
    keys = [run.id, f"evaluation:{evaluation.id}", f"red-team:{red.id}", f"anonymization:{anon.id}"]
    with SimulatorServer(sim) as server:
        jobs, lists = _read_all(server, keys)
        assert server.sim.stats.count("GET /api/dataframer/red-team-runs/{id}/status/") == 1
        assert server.sim.stats.count("GET /api/dataframer/red-team-runs/{id}/") == 0
    assert [job.ref for job in jobs] == keys
    assert [type(job) for job in jobs] == [Run, Evaluation, RedTeamRun, AnonymizationRun]
    assert all(job.status == "SUCCEEDED" for job in jobs)
    ev, rt, an = jobs[1], jobs[2], jobs[3]
    assert isinstance(ev, Evaluation)
    assert ev.run_id == run.id
    assert ev.samples_classified
    assert isinstance(rt, RedTeamRun)
    assert rt.prompts_written == 6
    assert rt.model_name
    assert isinstance(an, AnonymizationRun)
    assert an.results is not None
    assert an.results.entities_found
    assert an.generated_files
    assert an.samples_completed == an.results.samples_processed
    assert [j.ref for j in lists["red_team"]] == [f"red-team:{red.id}"]
    assert [j.ref for j in lists["anonymization"]] == [f"anonymization:{anon.id}"]
    assert [j.ref for j in lists["run"]] == [run.id]


def test_a_job_of_another_kind_is_not_found_under_a_kind_it_is_not() -> None:
    """`evaluation:ID` with a run's id is a 404: kinds never alias each other."""
    sim = Simulator(api_key=API_KEY, seed=4)
    run = sim.add_run(status="SUCCEEDED")

    async def go() -> Any:
        async with DataframerClient(server.url, API_KEY) as client:
            return await client.get_job(f"evaluation:{run.id}")

    with SimulatorServer(sim) as server, pytest.raises(NotFound):
        asyncio.run(go())


def test_what_the_sdk_makes_our_models_read_the_same() -> None:
    """The SDK creates a job of each kind on the simulator and follows it to its end; our
    client reads the same job by its reference, and every field both models hold agrees."""
    clock = ManualClock()
    sim = Simulator(api_key=API_KEY, clock=clock, seed=5)
    sim.defaults = NO_FAILURES
    run = sim.add_run(outcome="SUCCEEDED", number_of_samples=10, created_ago_seconds=1e4)
    with SimulatorServer(sim) as server, Dataframer(api_key=API_KEY, base_url=server.url) as sdk:
        api = sdk.dataframer
        made = {
            "evaluation": api.evaluations.create(run_id=run.id).id,
            "red-team": api.red_team_runs.create(
                model_name="moonshotai/Kimi-K3",
                number_of_behaviors=2,
                number_of_prompts_per_behavior=2,
                red_team_spec_id=RED_TEAM_SPEC,
            ).id,
            "anonymization": api.anonymization_runs.create(
                dataset_id=DATASET, detection_method="pii_m1", pii_types=["email"]
            ).id,
        }
        clock.advance(10_000)
        theirs: dict[str, BaseModel] = {
            "evaluation": api.evaluations.retrieve(str(made["evaluation"])),
            "red-team": api.red_team_runs.retrieve_status(str(made["red-team"])),
            "anonymization": api.anonymization_runs.retrieve(str(made["anonymization"])),
        }
        jobs, _ = _read_all(server, [f"{prefix}:{job_id}" for prefix, job_id in made.items()])
    for job, (prefix, sdk_job) in zip(jobs, theirs.items(), strict=True):
        assert job.ref == f"{prefix}:{sdk_job.id}"  # type: ignore[attr-defined]
        assert job.status == "SUCCEEDED"
        compared = 0
        for name, info in type(sdk_job).model_fields.items():
            wire = info.alias or name
            if wire in type(job).model_fields and wire != "results":
                assert _plain(getattr(job, wire)) == _plain(getattr(sdk_job, name)), wire
                compared += 1
        assert compared >= 7, prefix  # the lifecycle and the kind's own fields


def _plain(value: Any) -> Any:
    """Models as their wire dicts, so ours and the SDK's compare by value."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value

"""The contract for the other kinds of job: the official SDK drives evaluations, red-team runs
and anonymization runs on the simulator over real HTTP.

As for runs, the SDK's models are the oracle: every field they declare is in what the
simulator sends (nested models included), every enum value is one they know, and the values
the create endpoints accept are the ones the SDK's types list.
"""

from __future__ import annotations

from typing import Any, get_type_hints

import dataframer
import httpx
import pytest
from dataframer import Dataframer
from dataframer.types.dataframer import (
    anonymization_run_create_params,
    evaluation_create_params,
    red_team_run_create_params,
)
from dataframer.types.dataframer.anonymization_run_create_response import (
    AnonymizationRunCreateResponse,
)
from dataframer.types.dataframer.anonymization_run_list_response import (
    AnonymizationRunListResponseItem,
)
from dataframer.types.dataframer.anonymization_run_retrieve_response import (
    AnonymizationRunRetrieveResponse,
)
from dataframer.types.dataframer.evaluation_create_response import EvaluationCreateResponse
from dataframer.types.dataframer.evaluation_retrieve_response import EvaluationRetrieveResponse
from dataframer.types.dataframer.red_team_run_create_response import RedTeamRunCreateResponse
from dataframer.types.dataframer.red_team_run_list_response import RedTeamRunListResponseItem
from dataframer.types.dataframer.red_team_run_retrieve_response import RedTeamRunRetrieveResponse
from dataframer.types.dataframer.red_team_run_retrieve_status_response import (
    RedTeamRunRetrieveStatusResponse,
)
from dataframer.types.dataframer.runs.evaluation_list_response import EvaluationListResponseItem

from tests.simulator.sdk_oracle import (
    assert_complete,
    assert_complete_deep,
    assert_wire,
    literal_of,
)
from watcher.simulator import ManualClock, PlanDefaults, SimulatorServer
from watcher.simulator.catalog import DETECTION_METHODS, EVALUATION_MODELS, RED_TEAM_MODELS

API = "/api/dataframer/"
RED_TEAM_SPEC = "9b2f6f0e-6a7d-4c55-9a0e-3f1b8c2d4e5f"
DATASET = "5d0a9c1e-2b3f-4d6a-8e7c-1f2a3b4c5d6e"
# Jobs made by the SDK draw their outcome: these defaults make it a success.
NO_FAILURES = PlanDefaults(failure_ratio=0.0, cancel_ratio=0.0)


def test_the_create_endpoints_accept_exactly_the_sdks_values() -> None:
    """Model names and detection methods: the simulator's lists are the SDK's Literals."""

    def literal(params: Any, name: str) -> set[Any] | None:
        return literal_of(get_type_hints(params)[name])

    assert set(EVALUATION_MODELS) == literal(
        evaluation_create_params.EvaluationCreateParams, "evaluation_model"
    )
    assert set(RED_TEAM_MODELS) == literal(
        red_team_run_create_params.RedTeamRunCreateParams, "model_name"
    )
    assert set(DETECTION_METHODS) == literal(
        anonymization_run_create_params.AnonymizationRunCreateParams, "detection_method"
    )


# -- evaluations -----------------------------------------------------------------------------


def test_the_sdk_evaluates_a_succeeded_run_and_follows_it(
    server: SimulatorServer, sdk: Dataframer, raw: httpx.Client, clock: ManualClock
) -> None:
    """create() needs a SUCCEEDED run; retrieve() follows PENDING to a SUCCEEDED evaluation
    whose distributions and classifications are complete for the SDK."""
    server.sim.defaults = NO_FAILURES
    run = server.sim.add_run(outcome="SUCCEEDED", number_of_samples=40, created_ago_seconds=1e4)
    samples = server.sim.detail(run.id)["samples_completed"]
    created = sdk.dataframer.evaluations.create(
        run_id=run.id, evaluation_model="openai/gpt-6-astra"
    )
    assert isinstance(created, EvaluationCreateResponse)
    assert_complete(created)
    assert (created.status, created.run_id, created.distribution_analysis) == (
        "PENDING",
        run.id,
        None,
    )
    assert created.sample_classifications == []
    assert created.id is not None
    assert created.id != run.id

    clock.advance(10_000)
    done = sdk.dataframer.evaluations.retrieve(created.id)
    assert isinstance(done, EvaluationRetrieveResponse)
    assert_complete_deep(done)
    assert (done.status, done.error_message) == ("SUCCEEDED", None)
    assert done.completed_at is not None
    assert_wire(EvaluationRetrieveResponse, raw.get(f"{API}evaluations/{created.id}/").json())
    assert done.sample_classifications is not None
    assert len(done.sample_classifications) == samples
    assert done.distribution_analysis
    assert all(d.total_samples == samples for d in done.distribution_analysis)


def test_every_evaluation_outcome_parses(server: SimulatorServer, raw: httpx.Client) -> None:
    """PENDING, PROCESSING, SUCCEEDED and FAILED evaluations all match the SDK's model."""
    sim = server.sim
    run = sim.add_run(outcome="SUCCEEDED", created_ago_seconds=1e4)
    made = [
        sim.add_evaluation(run.id, pending_seconds=100),
        sim.add_evaluation(run.id, pending_seconds=0, processing_seconds=100),
        sim.add_evaluation(run.id, outcome="SUCCEEDED", created_ago_seconds=1e4),
        sim.add_evaluation(run.id, outcome="FAILED", created_ago_seconds=1e4),
    ]
    statuses = []
    for evaluation in made:
        body = raw.get(f"{API}evaluations/{evaluation.id}/").json()
        assert_wire(EvaluationRetrieveResponse, body)
        assert_complete_deep(EvaluationRetrieveResponse.model_validate(body))
        statuses.append(body["status"])
    assert statuses == ["PENDING", "PROCESSING", "SUCCEEDED", "FAILED"]


def test_the_sdk_lists_a_runs_evaluations(
    server: SimulatorServer, sdk: Dataframer, raw: httpx.Client
) -> None:
    """runs.evaluations.list(): that run's evaluations only, newest first, every field."""
    sim = server.sim
    run, other = sim.create_runs(2, outcomes=["SUCCEEDED"], created_ago_seconds=1e4)
    older = sim.add_evaluation(run.id, created_ago_seconds=60)
    newer = sim.add_evaluation(run.id)
    sim.add_evaluation(other.id)
    items = sdk.dataframer.runs.evaluations.list(run.id)
    assert [item.id for item in items] == [newer.id, older.id]
    for item in items:
        assert_complete(item)
    for body in raw.get(f"{API}runs/{run.id}/evaluations/").json():
        assert_wire(EvaluationListResponseItem, body)
    with pytest.raises(dataframer.NotFoundError):
        sdk.dataframer.runs.evaluations.list(newer.id)  # an evaluation id is not a run id


def test_an_unfinished_or_unknown_run_cannot_be_evaluated(
    server: SimulatorServer, sdk: Dataframer
) -> None:
    """A run not SUCCEEDED is a 400 naming its status; an unknown run a 404; no evaluation is
    made either way."""
    running = server.sim.add_run(pending_seconds=100)
    with pytest.raises(dataframer.BadRequestError) as info:
        sdk.dataframer.evaluations.create(run_id=running.id)
    assert info.value.body == {
        "detail": "The run must be in SUCCEEDED status to be evaluated (status is PENDING)."
    }
    with pytest.raises(dataframer.NotFoundError):
        sdk.dataframer.evaluations.create(run_id="no-such-run")
    assert server.sim.jobs("evaluation") == []


# -- red-team runs ---------------------------------------------------------------------------


def test_the_sdk_creates_lists_and_follows_a_red_team_run(
    server: SimulatorServer, sdk: Dataframer, raw: httpx.Client, clock: ManualClock
) -> None:
    """create() takes any spec id; list() and retrieve_status() see it; it finishes with its
    prompts (or an error) complete for the SDK."""
    server.sim.create_red_team_runs(5, created_ago_seconds=(0, 300))
    server.sim.defaults = NO_FAILURES
    created = sdk.dataframer.red_team_runs.create(
        model_name="moonshotai/Kimi-K3",
        number_of_behaviors=3,
        number_of_prompts_per_behavior=2,
        red_team_spec_id=RED_TEAM_SPEC,
    )
    assert isinstance(created, RedTeamRunCreateResponse)
    assert_complete(created)
    assert (created.status, created.api_model_name, created.red_team_spec_id) == (
        "PENDING",
        "moonshotai/Kimi-K3",
        RED_TEAM_SPEC,
    )
    listed = sdk.dataframer.red_team_runs.list()
    assert len(listed) == 6
    assert listed[0].id == created.id  # newest first
    for item in listed:
        assert_complete(item)
    for body in raw.get(f"{API}red-team-runs/").json():
        assert_wire(RedTeamRunListResponseItem, body)
    assert created.id is not None

    clock.advance(10_000)
    status = sdk.dataframer.red_team_runs.retrieve_status(created.id)
    assert isinstance(status, RedTeamRunRetrieveStatusResponse)
    assert_complete_deep(status)
    detail = sdk.dataframer.red_team_runs.retrieve(created.id)
    assert isinstance(detail, RedTeamRunRetrieveResponse)
    assert_complete_deep(detail)
    assert detail.status == status.status == "SUCCEEDED"
    for path, model in (
        ("status/", RedTeamRunRetrieveStatusResponse),
        ("", RedTeamRunRetrieveResponse),
    ):
        assert_wire(model, raw.get(f"{API}red-team-runs/{created.id}/{path}").json())
    assert status.results_json is not None
    queries = status.results_json.behavior_to_enhanced_queries or {}
    assert [len(prompts) for prompts in queries.values()] == [2, 2, 2]


def test_red_team_runs_filter_by_spec_and_delete(server: SimulatorServer, sdk: Dataframer) -> None:
    """list(spec_id=...) keeps that spec's runs; delete() removes one (404 afterwards)."""
    sim = server.sim
    mine = sim.add_red_team_run(red_team_spec_id=RED_TEAM_SPEC)
    sim.create_red_team_runs(3)
    assert [r.id for r in sdk.dataframer.red_team_runs.list(spec_id=RED_TEAM_SPEC)] == [mine.id]
    sdk.dataframer.red_team_runs.delete(mine.id)
    with pytest.raises(dataframer.NotFoundError):
        sdk.dataframer.red_team_runs.retrieve_status(mine.id)
    assert sdk.dataframer.red_team_runs.list(spec_id=RED_TEAM_SPEC) == []
    assert len(sdk.dataframer.red_team_runs.list()) == 3


def test_every_red_team_status_parses(server: SimulatorServer, raw: httpx.Client) -> None:
    """Each status the SDK knows, CANCELED included, in what /status/ answers."""
    sim = server.sim
    jobs = sim.create_red_team_runs(
        status=["PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELED"]
    )
    seen = []
    for job in jobs:
        body = raw.get(f"{API}red-team-runs/{job.id}/status/").json()
        assert_wire(RedTeamRunRetrieveStatusResponse, body)
        seen.append(body["status"])
    assert seen == ["PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELED"]


def test_a_bad_red_team_body_is_refused_field_by_field(sdk: Dataframer) -> None:
    """An unknown model and a zero count: DRF-style errors naming each field."""
    with pytest.raises(dataframer.BadRequestError) as info:
        sdk.dataframer.red_team_runs.create(
            model_name="no/such-model",  # type: ignore[arg-type]
            number_of_behaviors=0,
            number_of_prompts_per_behavior=1,
            red_team_spec_id=RED_TEAM_SPEC,
        )
    assert info.value.body == {
        "model_name": ['"no/such-model" is not a valid choice.'],
        "number_of_behaviors": ["Ensure this value is greater than or equal to 1."],
    }


# -- anonymization runs ----------------------------------------------------------------------


def test_the_sdk_creates_lists_and_follows_an_anonymization_run(
    server: SimulatorServer, sdk: Dataframer, raw: httpx.Client, clock: ManualClock
) -> None:
    """create(), list() newest first, retrieve() to SUCCEEDED with its files and results."""
    server.sim.create_anonymization_runs(4, created_ago_seconds=(0, 300))
    created = sdk.dataframer.anonymization_runs.create(
        dataset_id=DATASET, detection_method="pii_m1", pii_types=["first_name", "email"]
    )
    assert isinstance(created, AnonymizationRunCreateResponse)
    assert_complete(created)
    assert (created.status, created.anonymized_files, created.results) == ("PENDING", [], None)
    listed = sdk.dataframer.anonymization_runs.list()
    assert listed[0].id == created.id  # newest first
    assert len(listed) == 5
    for item in listed:
        assert_complete(item)
    for body in raw.get(f"{API}anonymization-runs/").json():
        assert_wire(AnonymizationRunListResponseItem, body)
    assert created.id is not None

    server.sim.force_status(created.id, "SUCCEEDED", "anonymization")
    clock.advance(5)
    done = sdk.dataframer.anonymization_runs.retrieve(created.id)
    assert isinstance(done, AnonymizationRunRetrieveResponse)
    assert_complete_deep(done)
    assert done.status == "SUCCEEDED"
    assert done.anonymized_files
    assert done.results is not None
    assert done.results.samples_processed == len(done.anonymized_files)
    assert {e.label for e in done.results.entities_found or []} <= {"first_name", "email"}
    assert done.duration_seconds is not None
    assert_wire(
        AnonymizationRunRetrieveResponse, raw.get(f"{API}anonymization-runs/{created.id}/").json()
    )


@pytest.mark.parametrize("status", ["PENDING", "PROCESSING", "SUCCEEDED", "FAILED"])
def test_every_anonymization_status_parses(
    server: SimulatorServer, raw: httpx.Client, status: str
) -> None:
    """Each status the SDK knows, with the results it holds then."""
    job = server.sim.add_anonymization_run(status=status)
    body = raw.get(f"{API}anonymization-runs/{job.id}/").json()
    assert_wire(AnonymizationRunRetrieveResponse, body)
    assert_complete_deep(AnonymizationRunRetrieveResponse.model_validate(body))
    assert (body["results"] is None) == (status in ("PENDING", "PROCESSING"))


def test_the_sdk_deletes_an_anonymization_run(server: SimulatorServer, sdk: Dataframer) -> None:
    """delete() hides the run from the list and from retrieve."""
    job = server.sim.add_anonymization_run()
    sdk.dataframer.anonymization_runs.delete(job.id)
    assert sdk.dataframer.anonymization_runs.list() == []
    with pytest.raises(dataframer.NotFoundError):
        sdk.dataframer.anonymization_runs.retrieve(job.id)


def test_anonymization_needs_llm_model_for_llm_detection(sdk: Dataframer) -> None:
    """detection_method llm without llm_model_name, and upper-case PII types, are 400s."""
    with pytest.raises(dataframer.BadRequestError) as info:
        sdk.dataframer.anonymization_runs.create(
            dataset_id=DATASET, detection_method="llm", pii_types=["Email"]
        )
    assert set(info.value.body) == {"llm_model_name", "pii_types"}  # type: ignore[arg-type]


def test_kinds_are_kept_apart(server: SimulatorServer, sdk: Dataframer) -> None:
    """The id of one kind is unknown to every other kind's endpoints."""
    sim = server.sim
    red = sim.add_red_team_run()
    anon = sim.add_anonymization_run()
    with pytest.raises(dataframer.NotFoundError):
        sdk.dataframer.runs.retrieve(red.id)
    with pytest.raises(dataframer.NotFoundError):
        sdk.dataframer.anonymization_runs.retrieve(red.id)
    with pytest.raises(dataframer.NotFoundError):
        sdk.dataframer.red_team_runs.retrieve_status(anon.id)
    with pytest.raises(dataframer.NotFoundError):
        sdk.dataframer.evaluations.retrieve(anon.id)
    assert sdk.dataframer.runs.list() == []

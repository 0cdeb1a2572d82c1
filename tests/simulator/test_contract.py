"""The contract: the official SDK (pydataframer) against the simulator over real HTTP.

The SDK's models are the oracle: every field they declare must be present in what the
simulator sends, and every enum value sent must be one they know. Generation runs here; the
other kinds in ``test_contract_kinds``, file downloads in ``test_contract_files``, the checks
they share in ``sdk_oracle``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import dataframer
import httpx
import pytest
from dataframer import Dataframer
from dataframer.types.dataframer.run_create_response import RunCreateResponse
from dataframer.types.dataframer.run_list_response import RunListResponseItem
from dataframer.types.dataframer.run_retrieve_response import (
    GeneratedFile,
    RunRetrieveResponse,
    RuntimeParams,
)

from tests.simulator.sdk_oracle import assert_complete, fields, literal_values
from watcher.simulator import ManualClock, Simulator, SimulatorServer

RUNS = "/api/dataframer/runs/"
LIST_ROUTE = "GET /api/dataframer/runs/"


def populate(sim: Simulator, clock: ManualClock) -> None:
    """Runs in every state: pending, processing, each outcome, and seedless specs."""
    sim.create_runs(
        40,
        outcomes={"SUCCEEDED": 2, "FAILED": 1, "CANCELED": 1},
        pending_seconds=[0, 30],
        processing_seconds=[10, 60],
        created_ago_seconds=[0, 120],
    )
    clock.advance(5)


def test_the_sdk_lists_every_run_with_every_field(
    server: SimulatorServer, sdk: Dataframer, raw: httpx.Client, clock: ManualClock
) -> None:
    """list(): each item carries every field the SDK declares, with values it knows."""
    populate(server.sim, clock)
    items = sdk.dataframer.runs.list()
    assert len(items) == 40
    for item in items:
        assert_complete(item)
        assert isinstance(item.created_at, datetime)
        assert item.created_at.tzinfo is not None
    raw_items = raw.get(RUNS).json()
    assert all(set(item) == fields(RunListResponseItem) for item in raw_items)
    statuses = {item["status"] for item in raw_items}
    assert statuses <= literal_values(RunListResponseItem, "status")
    assert {"PENDING", "PROCESSING", "SUCCEEDED"} <= statuses
    assert {item["dataset_type"] for item in raw_items} <= literal_values(
        RunListResponseItem, "dataset_type"
    )
    assert [i.id for i in items] == [i["id"] for i in raw_items]


def test_the_sdk_creates_and_follows_a_run(
    server: SimulatorServer, sdk: Dataframer, clock: ManualClock
) -> None:
    """create() parses into RunCreateResponse; retrieve() follows the run to completion."""
    created = sdk.dataframer.runs.create(
        spec_id="3c90c3cc-0d44-4b50-8888-8dd25736052a",
        number_of_samples=30,
        generation_model="anthropic/claude-haiku-4-5",
        revision_types=["consistency"],
        seed_shuffling_level="field",
    )
    assert isinstance(created, RunCreateResponse)
    assert_complete(created)
    assert created.runtime_params is not None
    assert_complete(created.runtime_params)
    assert (created.status, created.runtime_params.number_of_samples) == ("PENDING", 30)
    assert created.runtime_params.generation_thinking_budget is None
    assert created.created_at == datetime.fromtimestamp(clock(), UTC)
    assert created.id is not None

    clock.advance(10_000)
    done = sdk.dataframer.runs.retrieve(created.id)
    assert isinstance(done, RunRetrieveResponse)
    assert_complete(done)
    assert done.status in {"SUCCEEDED", "FAILED", "CANCELED"}
    assert done.completed_at is not None
    assert done.created_at is not None
    assert done.completed_at > done.created_at


def test_the_sdk_parses_generated_files(
    server: SimulatorServer, sdk: Dataframer, raw: httpx.Client
) -> None:
    """A finished run's detail has runtime_params and generated_files complete for the SDK."""
    run = server.sim.add_run(outcome="SUCCEEDED", created_ago_seconds=10_000)
    detail = sdk.dataframer.runs.retrieve(run.id)
    assert_complete(detail)
    assert detail.runtime_params is not None
    assert_complete(detail.runtime_params)
    assert detail.generated_files
    for file in detail.generated_files:
        assert isinstance(file, GeneratedFile)
        assert_complete(file)
    body = raw.get(f"{RUNS}{run.id}/").json()
    assert set(body) == fields(RunRetrieveResponse)
    assert set(body["runtime_params"]) == fields(RuntimeParams)
    assert body["runtime_params"]["seed_shuffling_level"] in literal_values(
        RuntimeParams, "seed_shuffling_level"
    )


def test_the_sdk_cancels_and_deletes(server: SimulatorServer, sdk: Dataframer) -> None:
    """cancel() and delete() succeed; canceling twice is a 400; a deleted run is a 404."""
    run = server.sim.add_run(pending_seconds=60)
    sdk.dataframer.runs.cancel(run.id)
    assert sdk.dataframer.runs.retrieve(run.id).status == "CANCELED"
    with pytest.raises(dataframer.BadRequestError):
        sdk.dataframer.runs.cancel(run.id)
    sdk.dataframer.runs.delete(run.id)
    with pytest.raises(dataframer.NotFoundError) as info:
        sdk.dataframer.runs.retrieve(run.id)
    assert info.value.body == {"detail": "Not found."}


def test_the_sdk_sees_a_bad_key_as_an_authentication_error(server: SimulatorServer) -> None:
    """A wrong key: 401, which the SDK raises as AuthenticationError."""
    with (
        Dataframer(api_key="wrong", base_url=server.url, max_retries=0) as client,
        pytest.raises(dataframer.AuthenticationError) as info,
    ):
        client.dataframer.runs.list()
    assert info.value.body == {"detail": "Invalid API key."}


def test_the_sdk_passes_an_unknown_status_through(server: SimulatorServer, sdk: Dataframer) -> None:
    """The SDK does not validate enums: a forced unknown status reaches its caller as is."""
    run = server.sim.add_run()
    server.sim.force_status(run.id, "PAUSED")
    status: object = sdk.dataframer.runs.retrieve(run.id).status
    assert status == "PAUSED"


@pytest.mark.parametrize(
    ("fault", "statuses"),
    [
        ({"kind": "rate_limit", "retry_after": 0.05}, {"429": 1, "200": 1}),
        ({"kind": "status", "status": 503, "retry_after": 0.05, "count": 2}, {"503": 2, "200": 1}),
        ({"kind": "status", "status": 502, "retry_after": 0.05}, {"502": 1, "200": 1}),
    ],
)
def test_the_sdk_retries_throttling_and_server_errors(
    server: SimulatorServer, fault: dict[str, Any], statuses: dict[str, int]
) -> None:
    """429 and 5xx are retried, honouring Retry-After; the counters show each attempt."""
    server.sim.faults.add([{**fault, "path": RUNS, "method": "GET"}])
    with Dataframer(api_key="sim-key", base_url=server.url, max_retries=2) as client:
        assert client.dataframer.runs.list() == []
    stats = server.sim.stats.snapshot()
    assert stats["statuses"] == statuses
    assert stats["routes"] == {LIST_ROUTE: sum(statuses.values())}


def test_the_sdk_gives_up_after_its_retries(server: SimulatorServer) -> None:
    """A fault that never clears exhausts max_retries and surfaces as InternalServerError."""
    server.sim.faults.add([{"kind": "status", "status": 500, "retry_after": 0.05, "always": True}])
    with (
        Dataframer(api_key="sim-key", base_url=server.url, max_retries=1) as client,
        pytest.raises(dataframer.InternalServerError),
    ):
        client.dataframer.runs.list()
    assert server.sim.stats.count(LIST_ROUTE) == 2


def test_the_sdk_retries_a_dropped_connection(server: SimulatorServer) -> None:
    """A hang-up without a response is a connection error, which the SDK retries."""
    server.sim.faults.add([{"kind": "drop"}])
    with Dataframer(api_key="sim-key", base_url=server.url, max_retries=1) as client:
        assert client.dataframer.runs.list() == []
    assert server.sim.stats.snapshot()["statuses"] == {"dropped": 1, "200": 1}

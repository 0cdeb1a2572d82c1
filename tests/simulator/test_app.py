"""``handle`` through httpx.MockTransport: routing, auth, validation, control surface, faults."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from watcher.simulator import (
    DETAIL_FIELDS,
    LIST_FIELDS,
    ManualClock,
    RunPlan,
    SimRequest,
    Simulator,
    handle,
    mock_transport,
)

AUTH = {"Authorization": "Bearer sim-key"}
RUNS = "/api/dataframer/runs/"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    return Simulator(clock=clock, seed=3)


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=mock_transport(sim), base_url="http://sim.test", headers=AUTH
    ) as client:
        yield client


def test_list_items_carry_exactly_the_list_fields(sim: Simulator, client: httpx.Client) -> None:
    """Every list item has the 14 list fields in API order, nulls present, nothing more."""
    sim.create_runs(5, created_ago_seconds=(0, 100))
    response = client.get(RUNS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    items = response.json()
    assert len(items) == 5
    assert all(tuple(item) == LIST_FIELDS for item in items)
    assert [item["created_at"] for item in items] == sorted(
        (item["created_at"] for item in items), reverse=True
    )


def test_create_then_retrieve(client: httpx.Client, clock: ManualClock) -> None:
    """POST answers 201 with the full run; any spec_id goes; options land in runtime_params."""
    body = {"spec_id": "not-even-a-uuid", "number_of_samples": 25, "tools": ["calculator"]}
    created = client.post(RUNS, json=body)
    assert created.status_code == 201
    run = created.json()
    assert tuple(run) == DETAIL_FIELDS
    assert (run["status"], run["spec_id"], run["created_by_email"]) == (
        "PENDING",
        "not-even-a-uuid",
        "api-user@example.com",
    )
    assert run["runtime_params"]["number_of_samples"] == 25
    assert run["runtime_params"]["tools"] == ["calculator"]
    clock.advance(100_000)
    detail = client.get(f"{RUNS}{run['id']}/").json()
    assert detail["status"] in {"SUCCEEDED", "FAILED", "CANCELED"}
    assert detail["completed_at"] is not None


REQUIRED = ["This field is required."]
NOT_INT = ["A valid integer is required."]
TOO_SMALL = ["Ensure this value is greater than or equal to 1."]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"number_of_samples": 3}, {"spec_id": REQUIRED}),
        ({"spec_id": "s"}, {"number_of_samples": REQUIRED}),
        ({"spec_id": "s", "number_of_samples": "3"}, {"number_of_samples": NOT_INT}),
        ({"spec_id": "s", "number_of_samples": 0}, {"number_of_samples": TOO_SMALL}),
        (
            {"spec_id": "s", "number_of_samples": 1, "tools": "calculator"},
            {"tools": ["Expected a list of strings."]},
        ),
        (
            {"spec_id": "s", "number_of_samples": 1, "seed_shuffling_level": "all"},
            {"seed_shuffling_level": ['"all" is not a valid choice.']},
        ),
    ],
)
def test_create_rejects_bad_bodies_field_by_field(
    client: httpx.Client, body: dict[str, object], errors: dict[str, list[str]]
) -> None:
    """A bad create body is a 400 naming each bad field, Django REST framework style."""
    response = client.post(RUNS, json=body)
    assert (response.status_code, response.json()) == (400, errors)


def test_create_rejects_a_body_that_is_not_an_object(client: httpx.Client) -> None:
    """Not JSON, or JSON that is not an object: 400."""
    assert client.post(RUNS, content=b"{nope").status_code == 400
    assert client.post(RUNS, json=[1]).status_code == 400


def test_cancel_and_delete(sim: Simulator, client: httpx.Client) -> None:
    """Cancel: 200 with the run, then 400 once finished. Delete: 204, then 404."""
    run = sim.add_run(plan=RunPlan(pending_seconds=60))
    first = client.post(f"{RUNS}{run.id}/cancel/")
    assert (first.status_code, first.json()["status"]) == (200, "CANCELED")
    again = client.post(f"{RUNS}{run.id}/cancel/")
    assert again.status_code == 400
    assert "CANCELED" in again.json()["detail"]
    deleted = client.delete(f"{RUNS}{run.id}/")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert client.get(f"{RUNS}{run.id}/").json() == {"detail": "Not found."}
    assert client.delete(f"{RUNS}{run.id}/").status_code == 404


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Authentication credentials were not provided."),
        ({"Authorization": "Bearer wrong"}, "Invalid API key."),
        ({"Authorization": "Token sim-key"}, "Invalid API key."),
    ],
)
def test_a_bad_key_is_a_401(sim: Simulator, headers: dict[str, str], detail: str) -> None:
    """Missing, wrong or non-Bearer credentials: 401 with a detail and a Bearer challenge."""
    with httpx.Client(transport=mock_transport(sim), base_url="http://sim.test") as client:
        response = client.get(RUNS, headers=headers)
    assert (response.status_code, response.json()) == (401, {"detail": detail})
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_key_is_configurable() -> None:
    """The simulator's key is whatever it was built with."""
    sim = Simulator(api_key="k-123")
    ok = handle(sim, SimRequest("GET", RUNS, {"authorization": "Bearer k-123"}))
    default = handle(sim, SimRequest("GET", RUNS, {"authorization": "Bearer sim-key"}))
    assert (ok.status, default.status) == (200, 401)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/dataframer/runs", 404),
        ("GET", "/api/dataframer/runs/abc", 404),
        ("GET", "/api/dataframer/runs/abc/", 404),
        ("GET", "/api/dataframer/datasets-of-nothing/", 404),
        # Evaluations have no list: the path exists for POST only.
        ("GET", "/api/dataframer/evaluations/", 405),
        ("GET", "/", 404),
        ("PUT", RUNS, 405),
        ("GET", "/api/dataframer/runs/abc/cancel/", 405),
    ],
)
def test_unknown_paths_and_methods(
    client: httpx.Client, method: str, path: str, status: int
) -> None:
    """Paths must end in a slash; unknown paths are 404, wrong methods 405, all JSON."""
    response = client.request(method, path)
    assert response.status_code == status
    assert "detail" in response.json()


def test_control_surface_bulk_create_dump_and_force(sim: Simulator, client: httpx.Client) -> None:
    """Bulk create, dump with plans, force any status, all without auth."""
    with httpx.Client(transport=mock_transport(sim), base_url="http://sim.test") as anonymous:
        made = anonymous.post(
            "/_sim/runs",
            json={
                "outcomes": ["FAILED", "SUCCEEDED"],
                "pending_seconds": 1,
                "processing_seconds": [2, 3],
                "spec_name": "invoice-extraction-v2",
            },
        )
        assert made.status_code == 201
        ids = made.json()["ids"]
        assert made.json()["created"] == 2
        dump = anonymous.get("/_sim/runs").json()
        assert {run["id"] for run in dump["runs"]} == set(ids)
        plans = {run["id"]: run["plan"] for run in dump["runs"]}
        assert plans[ids[0]]["outcome"] == "FAILED"
        assert plans[ids[1]]["pending_seconds"] == 1.0
        assert 2 <= plans[ids[1]]["processing_seconds"] <= 3
        forced = anonymous.post(f"/_sim/runs/{ids[0]}/status", json={"status": "PAUSED"})
        assert (forced.status_code, forced.json()["status"]) == (200, "PAUSED")
        assert anonymous.post("/_sim/runs/nope/status", json={"status": "X"}).status_code == 404
        assert anonymous.post(f"/_sim/runs/{ids[0]}/status", json={}).status_code == 400
        assert anonymous.post("/_sim/runs", json={"outcomes": ["DONE"]}).status_code == 400
        assert anonymous.post("/_sim/runs", json={"pending_seconds": [3, 1]}).status_code == 400
    assert client.get(f"{RUNS}{ids[0]}/").json()["status"] == "PAUSED"


def test_control_surface_stats_and_reset(sim: Simulator, client: httpx.Client) -> None:
    """Counters per route template and status; /_sim/ itself is not counted; reset clears."""
    run = sim.add_run()
    client.get(RUNS)
    client.get(RUNS)
    client.get(f"{RUNS}{run.id}/")
    client.get(f"{RUNS}nope/")
    client.get("/elsewhere")
    stats = client.get("/_sim/stats").json()
    assert stats["total"] == 5
    assert stats["routes"] == {
        "GET /api/dataframer/runs/": 2,
        "GET /api/dataframer/runs/{id}/": 2,
        "GET <unmatched>": 1,
    }
    assert stats["statuses"] == {"200": 3, "404": 2}
    assert client.post("/_sim/reset", json={"runs": True}).status_code == 200
    assert client.get("/_sim/stats").json()["total"] == 0
    assert client.get(RUNS).json() == []


def test_control_surface_faults(client: httpx.Client) -> None:
    """Faults are added (one, a list, or wrapped), listed, counted down and cleared."""
    one = client.post("/_sim/faults", json={"kind": "status", "status": 503})
    assert one.status_code == 201
    assert one.json()["faults"][0]["remaining"] == 1
    client.post(
        "/_sim/faults", json={"faults": [{"kind": "drop", "always": True, "method": "DELETE"}]}
    )
    assert len(client.get("/_sim/faults").json()["faults"]) == 2
    assert client.get(RUNS).status_code == 503
    assert client.get(RUNS).status_code == 200
    assert client.post("/_sim/faults", json=[{"kind": "bogus"}]).status_code == 400
    assert client.delete("/_sim/faults").json() == {"cleared": 1}
    stats = client.get("/_sim/stats").json()
    assert stats["faults"] == {"status": 1}


def test_drop_raises_and_latency_sleeps_in_the_mock_transport(client: httpx.Client) -> None:
    """Through MockTransport, a drop is a RemoteProtocolError; latency still answers."""
    client.post("/_sim/faults", json=[{"kind": "drop"}, {"kind": "latency", "seconds": 0.01}])
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(RUNS)
    assert client.get(RUNS).status_code == 200
    assert client.get("/_sim/stats").json()["statuses"] == {"dropped": 1, "200": 1}


async def test_latency_in_the_async_transport_never_blocks_the_loop(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An async client waits out a latency fault with asyncio.sleep: time.sleep (which would
    stall every other task of the loop) is never called, and another task runs meanwhile."""

    def blocking(seconds: float) -> None:
        raise AssertionError(f"time.sleep({seconds}) on the event loop")

    monkeypatch.setattr("watcher.simulator.app.time.sleep", blocking)
    sim.faults.add([{"kind": "latency", "seconds": 0.2}])
    async with httpx.AsyncClient(
        transport=mock_transport(sim), base_url="http://sim.test", headers=AUTH
    ) as client:
        request = asyncio.ensure_future(client.get(RUNS))
        turns = 0
        while not request.done():
            turns += 1
            await asyncio.sleep(0)
        assert (await request).status_code == 200
    assert turns > 1


def test_malformed_wrong_types_on_the_first_item_only(sim: Simulator, client: httpx.Client) -> None:
    """target=first spoils one item and leaves the others intact."""
    sim.create_runs(3)
    client.post(
        "/_sim/faults", json={"kind": "malformed", "variant": "wrong_types", "target": "first"}
    )
    items = client.get(RUNS).json()
    assert isinstance(items[0]["status"], int)
    assert isinstance(items[0]["samples_completed"], str)
    assert all(isinstance(item["status"], str) for item in items[1:])


def test_a_simulator_bug_is_a_500_not_a_crash(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever goes wrong inside, handle answers."""

    def broken(kind: str = "run") -> tuple[bytes, ...]:
        raise RuntimeError("boom")

    monkeypatch.setattr(sim, "list_body", broken)
    response = handle(sim, SimRequest("GET", RUNS, AUTH))
    assert (response.status, json.loads(response.body)) == (
        500,
        {"detail": "A server error occurred."},
    )


def test_control_surface_demo_scenario_and_statuses(client: httpx.Client) -> None:
    """The demo scenario can be added over HTTP; bulk statuses pin runs in turn."""
    demo = client.post("/_sim/scenarios/demo")
    assert (demo.status_code, demo.json()["created"]) == (201, 7)
    pinned = client.post("/_sim/runs", json={"statuses": ["PAUSED", "FAILED"]}).json()
    assert pinned["created"] == 2
    statuses = [client.get(f"{RUNS}{run_id}/").json()["status"] for run_id in pinned["ids"]]
    assert statuses == ["PAUSED", "FAILED"]
    assert client.post("/_sim/runs", json={"statuses": "PAUSED"}).status_code == 400

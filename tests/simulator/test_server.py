"""The simulator over real loopback HTTP, seen by plain httpx: faults, keep-alive, stop, serve."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from watcher.simulator import SimulatorServer, serve

RUNS = "/api/dataframer/runs/"


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(seed=5) as server:
        server.sim.create_runs(3, created_ago_seconds=1000)
        yield server


@pytest.fixture
def client(server: SimulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": "Bearer sim-key"}, timeout=10
    ) as client:
        yield client


def add_fault(client: httpx.Client, **spec: Any) -> None:
    response = client.post("/_sim/faults", json=spec)
    assert response.status_code == 201, response.text


def test_keep_alive_serves_many_requests_on_one_connection(
    server: SimulatorServer, client: httpx.Client
) -> None:
    """HTTP/1.1 with Content-Length: one connection answers request after request."""
    for _ in range(5):
        response = client.get(RUNS)
        assert (response.status_code, response.http_version) == (200, "HTTP/1.1")
        assert int(response.headers["content-length"]) == len(response.content)
        assert "close" not in response.headers.get("connection", "")
    assert server.sim.stats.count("GET /api/dataframer/runs/") == 5


def test_a_large_list_round_trips(server: SimulatorServer, client: httpx.Client) -> None:
    """Thousands of runs come back whole and in order."""
    server.sim.create_runs(2000, created_ago_seconds=[0, 3600])
    items = client.get(RUNS).json()
    assert len(items) == 2003
    # Compared as instants: an ISO time with no fraction sorts after one with, as text.
    created = [datetime.fromisoformat(item["created_at"]) for item in items]
    assert created == sorted(created, reverse=True)


def test_drop_closes_the_connection_without_a_response(client: httpx.Client) -> None:
    """A drop fault is a protocol error for the client, once; then service resumes."""
    client.get(RUNS)  # a pooled connection, so the drop also hits a reused one
    add_fault(client, kind="drop")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.get(RUNS)
    assert client.get(RUNS).status_code == 200


def test_status_fault(client: httpx.Client) -> None:
    """A status fault answers that status with a JSON detail, and a Retry-After when given."""
    add_fault(client, kind="status", status=502, retry_after=3)
    response = client.get(RUNS)
    assert (response.status_code, response.json()) == (502, {"detail": "Bad Gateway"})
    assert response.headers["retry-after"] == "3"
    add_fault(client, kind="status", status=500, body="upstream exploded")
    response = client.get(RUNS)
    assert (response.status_code, response.text) == (500, "upstream exploded")
    assert client.get(RUNS).status_code == 200


def test_rate_limit_fault(client: httpx.Client) -> None:
    """429 with Retry-After in seconds (fractions allowed, as the SDK parses floats)."""
    add_fault(client, kind="rate_limit", retry_after=2)
    add_fault(client, kind="rate_limit", retry_after=0.25)
    first, second = client.get(RUNS), client.get(RUNS)
    assert (first.status_code, first.headers["retry-after"]) == (429, "2")
    assert (second.status_code, second.headers["retry-after"]) == (429, "0.25")
    assert "throttled" in first.json()["detail"]


def test_latency_fault_delays_then_answers(server: SimulatorServer, client: httpx.Client) -> None:
    """Latency delays the normal answer (no timing asserted: the counter shows it applied)."""
    add_fault(client, kind="latency", seconds=0.05)
    assert client.get(RUNS).status_code == 200
    assert server.sim.stats.snapshot()["faults"] == {"latency": 1}


def test_malformed_truncated(client: httpx.Client) -> None:
    """A truncated body is a complete HTTP message whose JSON is cut short."""
    whole = client.get(RUNS).content
    add_fault(client, kind="malformed", variant="truncated")
    response = client.get(RUNS)
    assert response.status_code == 200
    assert whole.startswith(response.content)
    assert len(response.content) < len(whole)
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_malformed_html(client: httpx.Client) -> None:
    """An HTML error page served as if it were the answer."""
    add_fault(client, kind="malformed", variant="html")
    response = client.get(RUNS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html"
    assert response.content.startswith(b"<!DOCTYPE html>")


def test_malformed_wrong_types(server: SimulatorServer, client: httpx.Client) -> None:
    """status becomes a number and samples_completed a string, in the list and in a detail."""
    add_fault(client, kind="malformed", variant="wrong_types", always=True)
    items = client.get(RUNS).json()
    assert all(isinstance(item["status"], int) for item in items)
    assert all(isinstance(item["samples_completed"], str) for item in items)
    detail = client.get(f"{RUNS}{items[0]['id']}/").json()
    assert (type(detail["status"]), type(detail["samples_completed"])) == (int, str)


@pytest.mark.parametrize(("variant", "body"), [("empty_list", b"[]"), ("empty_body", b"")])
def test_malformed_empty(client: httpx.Client, variant: str, body: bytes) -> None:
    """An empty list where runs were expected, or nothing at all."""
    add_fault(client, kind="malformed", variant=variant)
    response = client.get(RUNS)
    assert (response.status_code, response.content) == (200, body)


def test_faults_match_method_and_path_and_expire(
    server: SimulatorServer, client: httpx.Client
) -> None:
    """A fault only hits matching requests, count-many times; always lasts until cleared."""
    run_id = client.get(RUNS).json()[0]["id"]
    add_fault(client, kind="status", status=503, method="DELETE", count=2)
    add_fault(client, kind="status", status=504, path_regex=r"/runs/[^/]+/$", always=True)
    assert client.get(RUNS).status_code == 200
    assert [client.get(f"{RUNS}{run_id}/").status_code for _ in range(3)] == [504] * 3
    assert [client.delete(f"{RUNS}{run_id}/").status_code for _ in range(2)] == [503] * 2
    assert client.delete("/_sim/faults").json() == {"cleared": 1}
    assert client.get(f"{RUNS}{run_id}/").status_code == 200
    assert server.sim.stats.snapshot()["faults"] == {"status": 5}


def test_faults_never_touch_the_control_surface(client: httpx.Client) -> None:
    """Even an always-drop fault on every path leaves /_sim/ reachable to clear it."""
    add_fault(client, kind="drop", always=True)
    assert client.get("/_sim/stats").status_code == 200
    assert client.delete("/_sim/faults").json() == {"cleared": 1}


def test_stop_does_not_wait_for_a_long_latency_fault() -> None:
    """stop() wakes a request sleeping in a latency fault and hangs up open connections."""
    outcome: list[object] = []
    with SimulatorServer() as server:
        server.sim.faults.add([{"kind": "latency", "seconds": 30}])

        def slow_request() -> None:
            try:
                with httpx.Client(base_url=server.url, timeout=10) as client:
                    outcome.append(client.get(RUNS).status_code)
            except httpx.HTTPError as exc:
                outcome.append(exc)

        thread = threading.Thread(target=slow_request)
        thread.start()
        for _ in range(100):
            if server.sim.stats.total:
                break
            time.sleep(0.01)
        server.stop()
        server.stop()  # idempotent
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(outcome) == 1


def test_a_taken_port_is_an_os_error(server: SimulatorServer) -> None:
    """Binding a port already served fails loudly, not silently."""
    with pytest.raises(OSError, match="in use"), SimulatorServer(port=server.port):
        pass


def test_serve_runs_until_shutdown() -> None:
    """serve() blocks; ready_callback gets the server; shutdown() makes serve() return."""
    ready: list[SimulatorServer] = []
    started = threading.Event()

    def on_ready(server: SimulatorServer) -> None:
        ready.append(server)
        started.set()

    thread = threading.Thread(
        target=serve,
        kwargs={
            "port": 0,
            "api_key": "k",
            "runs": 4,
            "seed": 1,
            "demo": True,
            "ready_callback": on_ready,
        },
    )
    thread.start()
    assert started.wait(timeout=10)
    server = ready[0]
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer k"}) as client:
        assert len(client.get(RUNS).json()) == 4 + 7
    server.shutdown()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_serve_rejects_impossible_ratios_before_binding() -> None:
    """Bad settings are a ValueError naming the setting, raised before any socket opens."""
    with pytest.raises(ValueError, match="must not exceed 1"):
        serve(port=0, failure_ratio=0.7, cancel_ratio=0.7)


def test_a_chunked_body_is_refused(client: httpx.Client) -> None:
    """Without Content-Length the body cannot be framed: 411, and the connection closes."""
    response = client.post(RUNS, content=iter([b'{"spec_id": "s", ', b'"number_of_samples": 1}']))
    assert response.status_code == 411
    assert client.get(RUNS).status_code == 200

"""Routing: one plain function from request to response, shared by the server and MockTransport.

Order of play, as in front of the real API: the ``/_sim/`` control surface is answered
first and is never faulted nor counted; then faults (they stand for the network and proxies,
so they strike before authentication); then URL resolution (404), authentication (401), the
method (405), and the endpoint itself.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .control import handle_control
from .engine import NotCancelable, RunNotFound, Simulator
from .faults import render
from .messages import SimRequest, SimResponse, detail_response, json_response, raw_json_response

_log = logging.getLogger(__name__)

RUNS_PATH = "/api/dataframer/runs/"
_RUN = re.compile(r"^/api/dataframer/runs/([^/]+)/$")
_CANCEL = re.compile(r"^/api/dataframer/runs/([^/]+)/cancel/$")
_ALLOWED = {
    RUNS_PATH: ("GET", "POST"),
    RUNS_PATH + "{id}/": ("GET", "DELETE"),
    RUNS_PATH + "{id}/cancel/": ("POST",),
}

_BOOL_FIELDS = ("enable_revisions", "skip_outline", "unified_multifield")
_INT_FIELDS = (
    "generation_thinking_budget",
    "max_examples_in_prompt",
    "max_revision_cycles",
    "outline_thinking_budget",
    "revision_thinking_budget",
    "spec_version",
)
_STR_FIELDS = ("generation_model", "outline_model", "revision_model")
_LIST_FIELDS = ("filtering_types", "revision_types", "tools")
_SHUFFLING = ("none", "sample", "field", "prompt")


@dataclass(frozen=True, slots=True)
class _Route:
    template: str
    run_id: str | None = None


def _resolve(path: str) -> _Route | None:
    if path == RUNS_PATH:
        return _Route(RUNS_PATH)
    if match := _CANCEL.match(path):
        return _Route(RUNS_PATH + "{id}/cancel/", match.group(1))
    if match := _RUN.match(path):
        return _Route(RUNS_PATH + "{id}/", match.group(1))
    return None


def handle(sim: Simulator, request: SimRequest) -> SimResponse:
    """Answer one request against ``sim``; never raises."""
    if request.path == "/_sim" or request.path.startswith("/_sim/"):
        return _guarded(lambda: handle_control(sim, request))
    method = request.method.upper()
    route = _resolve(request.path)
    delay, fault = sim.faults.take(method, request.path)

    def normal() -> SimResponse:
        return _guarded(lambda: _api(sim, request, route))

    response = normal() if fault is None else _guarded(lambda: render(fault, normal))
    response.delay += delay
    applied = fault.kind if fault is not None else ("latency" if delay > 0 else None)
    label = f"{method} {route.template if route else '<unmatched>'}"
    sim.stats.record(label, None if response.drop else response.status, applied)
    return response


def _guarded(produce: Callable[[], SimResponse]) -> SimResponse:
    # A bug in the simulator must surface as a 500 to the client under test, not kill the
    # server thread (tests would then hang instead of failing).
    try:
        return produce()
    except Exception:
        _log.exception("simulator failed to answer a request")
        return detail_response(500, "A server error occurred.")


def _api(sim: Simulator, request: SimRequest, route: _Route | None) -> SimResponse:
    if route is None:
        return detail_response(404, "Not found.")
    denied = _authenticate(sim, request)
    if denied is not None:
        return denied
    method = request.method.upper()
    allowed = _ALLOWED[route.template]
    if method not in allowed:
        return detail_response(
            405, f'Method "{method}" not allowed.', {"Allow": ", ".join((*allowed, "OPTIONS"))}
        )
    try:
        if route.run_id is None:
            if method == "GET":
                return raw_json_response(200, sim.list_json())
            return _create(sim, request)
        if route.template.endswith("/cancel/"):
            return json_response(200, sim.cancel(route.run_id))
        if method == "DELETE":
            sim.delete(route.run_id)
            return SimResponse(204)
        return json_response(200, sim.detail(route.run_id))
    except RunNotFound:
        return detail_response(404, "Not found.")
    except NotCancelable as exc:
        # 400, not 409: the SDK retries 409 (lock timeout), which would only repeat the refusal.
        return detail_response(
            400, f"Only PENDING or PROCESSING runs can be canceled (status is {exc.status})."
        )


def _authenticate(sim: Simulator, request: SimRequest) -> SimResponse | None:
    challenge = {"WWW-Authenticate": 'Bearer realm="api"'}
    header = request.header("Authorization")
    if header is None:
        return detail_response(401, "Authentication credentials were not provided.", challenge)
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        key.strip().encode(), sim.api_key.encode()
    ):
        return detail_response(401, "Invalid API key.", challenge)
    return None


def _create(sim: Simulator, request: SimRequest) -> SimResponse:
    try:
        body = request.json()
    except ValueError as exc:
        return detail_response(400, f"JSON parse error - {exc}")
    if not isinstance(body, dict):
        kind = type(body).__name__
        return json_response(
            400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
        )
    errors = _validate_create(body)
    if errors:
        return json_response(400, errors)
    options = {k: v for k, v in body.items() if k not in ("spec_id", "number_of_samples")}
    run = sim.add_run(
        spec_id=body["spec_id"],
        spec_version=body.get("spec_version"),
        number_of_samples=body["number_of_samples"],
        options=options,
        created_by_email=sim.user_email,
    )
    return json_response(201, sim.detail(run.id))


def _validate_create(body: dict[str, Any]) -> dict[str, list[str]]:
    """DRF-style field errors for a create body; empty when the body is valid."""
    errors: dict[str, list[str]] = {}
    for name in ("spec_id", "number_of_samples"):
        if body.get(name) is None:
            errors[name] = ["This field is required."]
    if "spec_id" not in errors and (not isinstance(body["spec_id"], str) or not body["spec_id"]):
        errors["spec_id"] = ["Not a valid string."]
    samples = body.get("number_of_samples")
    if "number_of_samples" not in errors:
        if isinstance(samples, bool) or not isinstance(samples, int):
            errors["number_of_samples"] = ["A valid integer is required."]
        elif samples < 1:
            errors["number_of_samples"] = ["Ensure this value is greater than or equal to 1."]
    for name, value in body.items():
        if name in _BOOL_FIELDS and not isinstance(value, bool):
            errors[name] = ["Must be a valid boolean."]
        elif name in _INT_FIELDS and (isinstance(value, bool) or not isinstance(value, int)):
            errors[name] = ["A valid integer is required."]
        elif name in _STR_FIELDS and not isinstance(value, str):
            errors[name] = ["Not a valid string."]
        elif name in _LIST_FIELDS and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            errors[name] = ["Expected a list of strings."]
        elif name == "seed_shuffling_level" and value not in _SHUFFLING:
            errors[name] = [f'"{value}" is not a valid choice.']
    return errors


class SimTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """An httpx transport answering from a `Simulator` in-process, for sync and async clients.

    Latency faults wait with `time.sleep` for a sync client and `asyncio.sleep` for an async
    one, so an event loop using it is never blocked; a drop raises RemoteProtocolError.
    httpx.MockTransport cannot do both: its handler is either a function or a coroutine.
    """

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim

    def _answer(self, request: httpx.Request, body: bytes) -> SimResponse:
        return handle(
            self._sim,
            SimRequest(
                method=request.method,
                path=request.url.path,
                headers=dict(request.headers),
                body=body,
                query=dict(request.url.params),
            ),
        )

    @staticmethod
    def _response(request: httpx.Request, answer: SimResponse) -> httpx.Response:
        if answer.drop:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._answer(request, request.read())
        if answer.delay > 0:
            time.sleep(answer.delay)
        return self._response(request, answer)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._answer(request, await request.aread())
        if answer.delay > 0:
            await asyncio.sleep(answer.delay)
        return self._response(request, answer)


def mock_transport(sim: Simulator) -> SimTransport:
    """An httpx transport (sync or async) answering from ``sim`` in-process."""
    return SimTransport(sim)

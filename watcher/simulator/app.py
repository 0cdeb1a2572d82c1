"""Routing: one plain function from request to response, shared by the server and MockTransport.

Order of play, as in front of the real API: the ``/_sim/`` control surface is answered
first and is never faulted nor counted; then faults (they stand for the network and proxies,
so they strike before authentication, and on the storage's ``/_files/`` URLs too); then URL
resolution (404), authentication (401; the storage asks for none and refuses one, see
``files``), the method (405), and the endpoint itself (``endpoints``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable

import httpx

from .control import handle_control
from .endpoints import Endpoint, resolve
from .engine import NotCancelable, NotSucceeded, RunNotFound, Simulator
from .faults import render
from .files import FILES_PATH
from .messages import SimRequest, SimResponse, detail_response
from .storage import auth_refused

_log = logging.getLogger(__name__)


def handle(sim: Simulator, request: SimRequest) -> SimResponse:
    """Answer one request against ``sim``; never raises."""
    if request.path == "/_sim" or request.path.startswith("/_sim/"):
        return _guarded(lambda: handle_control(sim, request))
    method = request.method.upper()
    resolved = resolve(request.path)
    delay, fault = sim.faults.take(method, request.path)

    def normal() -> SimResponse:
        return _guarded(lambda: _api(sim, request, resolved))

    response = normal() if fault is None else _guarded(lambda: render(fault, normal))
    response.delay += delay
    applied = fault.kind if fault is not None else ("latency" if delay > 0 else None)
    label = f"{method} {resolved[0].template if resolved else '<unmatched>'}"
    status = None if response.drop else response.status
    sim.stats.record(label, status, applied)
    if request.path.startswith(FILES_PATH):
        sim.stats.record_file(
            authorization=request.header("Authorization") is not None,
            api_key=_carries_key(sim, request),
            served=response.length() if status == 200 and method == "GET" else 0,
        )
    return response


def _carries_key(sim: Simulator, request: SimRequest) -> bool:
    """Whether the API key appears anywhere in the request's headers or query."""
    key = sim.api_key
    values = [*request.headers.values(), *request.query.values()]
    return bool(key) and any(key in value for value in values)


def _guarded(produce: Callable[[], SimResponse]) -> SimResponse:
    # A bug in the simulator must surface as a 500 to the client under test, not kill the
    # server thread (tests would then hang instead of failing).
    try:
        return produce()
    except Exception:
        _log.exception("simulator failed to answer a request")
        return detail_response(500, "A server error occurred.")


def _api(
    sim: Simulator, request: SimRequest, resolved: tuple[Endpoint, tuple[str, ...]] | None
) -> SimResponse:
    if resolved is None:
        return detail_response(404, "Not found.")
    endpoint, ids = resolved
    if endpoint.public:
        if request.header("Authorization") is not None:
            return auth_refused()
    else:
        denied = _authenticate(sim, request)
        if denied is not None:
            return denied
    method = request.method.upper()
    handler = endpoint.methods.get(method)
    if handler is None:
        allowed = ", ".join((*endpoint.methods, "OPTIONS"))
        return detail_response(405, f'Method "{method}" not allowed.', {"Allow": allowed})
    try:
        return handler(sim, request, ids)
    except RunNotFound:
        return detail_response(404, "Not found.")
    except NotCancelable as exc:
        # 400, not 409: the SDK retries 409 (lock timeout), which would only repeat the refusal.
        return detail_response(
            400, f"Only PENDING or PROCESSING runs can be canceled (status is {exc.status})."
        )
    except NotSucceeded as exc:
        return detail_response(400, str(exc))


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
        return httpx.Response(answer.status, headers=answer.headers, content=answer.content())

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

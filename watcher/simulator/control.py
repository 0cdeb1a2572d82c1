"""The ``/_sim/`` control surface: how a test (or the demo) steers the world over HTTP.

No authentication, never faulted, never counted. A trailing slash is optional here.

    GET    /_sim/stats                 request counters
    POST   /_sim/reset                 {"runs": false, "faults": false}; counters always reset
    GET    /_sim/runs                  {"now": ..., "runs": [detail + "plan" + "pinned", ...]}
    POST   /_sim/runs                  bulk create, see ``_bulk_create``; 201 {"created", "ids"}
    POST   /_sim/runs/{id}/status      {"status": "PAUSED"}: pin a run at any status
    GET    /_sim/faults                the active faults
    POST   /_sim/faults                one spec, a list of specs, or {"faults": [...]}; 201
    DELETE /_sim/faults                clear every fault; {"cleared": n}
    POST   /_sim/scenarios/demo        add the demo scenario's runs; 201 {"created", "ids"}
"""

from __future__ import annotations

import re
from typing import Any

from .engine import RunNotFound, Simulator
from .faults import FaultSpecError
from .messages import SimRequest, SimResponse, detail_response, json_response
from .model import OUTCOMES, SimRun
from .scenario import demo_scenario

_FORCE = re.compile(r"^/_sim/runs/([^/]+)/status$")


def handle_control(sim: Simulator, request: SimRequest) -> SimResponse:
    """Answer a request under ``/_sim/``."""
    path = request.path.rstrip("/")
    method = request.method.upper()
    try:
        body = request.json()
    except ValueError:
        return detail_response(400, "The request body is not valid JSON.")
    try:
        return _dispatch(sim, method, path, body)
    except RunNotFound:
        return detail_response(404, "Not found.")
    except (ValueError, TypeError, FaultSpecError) as exc:
        return detail_response(400, str(exc))


def _dispatch(sim: Simulator, method: str, path: str, body: Any) -> SimResponse:
    if (method, path) == ("GET", "/_sim/stats"):
        return json_response(200, sim.stats.snapshot())
    if (method, path) == ("POST", "/_sim/reset"):
        flags = _object(body)
        sim.reset(runs=flags.get("runs") is True, faults=flags.get("faults") is True)
        return json_response(200, {"reset": True})
    if (method, path) == ("GET", "/_sim/runs"):
        return json_response(200, {"now": sim.now_iso(), "runs": sim.dump()})
    if (method, path) == ("POST", "/_sim/runs"):
        return _created(_bulk_create(sim, _object(body)))
    if (method, path) == ("POST", "/_sim/scenarios/demo"):
        return _created(demo_scenario(sim))
    if path == "/_sim/faults":
        if method == "GET":
            return json_response(200, {"faults": sim.faults.active()})
        if method == "DELETE":
            return json_response(200, {"cleared": sim.faults.clear()})
        if method == "POST":
            specs = body.get("faults") if isinstance(body, dict) and "faults" in body else body
            if not isinstance(specs, list):
                specs = [specs]
            added = sim.faults.add(specs)
            return json_response(201, {"faults": [f.to_json() for f in added]})
    if method == "POST" and (match := _FORCE.match(path)):
        status = _object(body).get("status")
        if not isinstance(status, str) or not status:
            raise ValueError('body must be {"status": "<any non-empty string>"}')
        return json_response(200, sim.force_status(match.group(1), status))
    return detail_response(404, "Not found.")


def _created(runs: list[SimRun]) -> SimResponse:
    return json_response(201, {"created": len(runs), "ids": [run.id for run in runs]})


def _object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValueError("the request body must be a JSON object")
    return body


def _range(body: dict[str, Any], key: str) -> float | tuple[float, float] | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and 0 <= value[0] <= value[1]
    ):
        return float(value[0]), float(value[1])
    raise ValueError(f"{key} must be a number of seconds or [low, high], got {value!r}")


def _bulk_create(sim: Simulator, body: dict[str, Any]) -> list[SimRun]:
    """Body fields, all optional::

    count                int (default: the longest of outcomes/statuses lists, else 1)
    outcomes             ["SUCCEEDED", "FAILED", ...] planned outcomes, one per run, cycled,
                         or {"SUCCEEDED": 0.7, "FAILED": 0.2, "CANCELED": 0.1} weights
    pending_seconds      number or [low, high]; likewise processing_seconds and
    created_ago_seconds  (how long ago the runs were created; default 0)
    spec_name            str (default: drawn from the catalog)
    status               str: pin every run at that status (any string, e.g. "PAUSED")
    statuses             [str, ...]: pin the runs at these statuses in turn
    """
    outcomes = body.get("outcomes")
    if isinstance(outcomes, dict):
        for name, weight in outcomes.items():
            if (
                name not in OUTCOMES
                or isinstance(weight, bool)
                or not isinstance(weight, int | float)
            ):
                raise ValueError(f"outcomes must map {', '.join(OUTCOMES)} to weights")
    elif outcomes is not None and not isinstance(outcomes, list):
        raise ValueError("outcomes must be a list of outcomes or a mapping of weights")
    count = body.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
        raise ValueError(f"count must be an integer, got {count!r}")
    for key in ("spec_name", "status"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise ValueError(f"{key} must be a string")
    statuses = body.get("statuses")
    if statuses is not None and not (
        isinstance(statuses, list) and all(isinstance(s, str) and s for s in statuses)
    ):
        raise ValueError("statuses must be a list of status strings")
    ranges: dict[str, Any] = {
        key: _range(body, key)
        for key in ("pending_seconds", "processing_seconds", "created_ago_seconds")
    }
    return sim.create_runs(
        count,
        outcomes=outcomes,
        pending_seconds=ranges["pending_seconds"],
        processing_seconds=ranges["processing_seconds"],
        created_ago_seconds=ranges["created_ago_seconds"] or 0.0,
        spec_name=body.get("spec_name"),
        status=statuses if statuses is not None else body.get("status"),
    )

"""The ``/_sim/`` control surface: how a test (or the demo) steers the world over HTTP.

No authentication, never faulted, never counted. A trailing slash is optional here.

    GET    /_sim/stats                 request counters (``files``: what file URLs were sent)
    POST   /_sim/reset                 {"runs": false, "faults": false}; counters always reset;
                                       "runs": true clears the jobs of every kind
    GET    /_sim/{kind}                {"now": ..., "{kind}": [detail + "plan" + "pinned", ...]}
    POST   /_sim/{kind}                bulk create, see ``_bulk_create``; 201 {"created", "ids"}
    POST   /_sim/{kind}/{id}/status    {"status": "PAUSED"}: pin a job at any status
    GET    /_sim/files                 {"url_ttl_seconds", "archive_seconds", "urls_signed"}
    POST   /_sim/files                 {"url_ttl_seconds": s, "archive_seconds": s}: set either
    POST   /_sim/files/expire          expire every file URL handed out so far; {"expired": n}
    GET    /_sim/faults                the active faults
    POST   /_sim/faults                one spec, a list of specs, or {"faults": [...]}; 201
    DELETE /_sim/faults                clear every fault; {"cleared": n}
    POST   /_sim/scenarios/demo        add the demo scenario's runs; 201 {"created", "ids"}

``{kind}`` is ``runs``, ``evaluations``, ``red-team-runs`` or ``anonymization-runs``, as in
the API's paths.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .engine import NotSucceeded, RunNotFound, Simulator
from .faults import FaultSpecError
from .lifecycle import OUTCOMES, Job, Kind
from .messages import SimRequest, SimResponse, detail_response, json_response
from .scenario import demo_scenario

KIND_PATHS: dict[str, Kind] = {
    "runs": "run",
    "evaluations": "evaluation",
    "red-team-runs": "red_team",
    "anonymization-runs": "anonymization",
}
_KIND = re.compile(r"^/_sim/(runs|evaluations|red-team-runs|anonymization-runs)$")
_FORCE = re.compile(r"^/_sim/(runs|evaluations|red-team-runs|anonymization-runs)/([^/]+)/status$")


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
    except (ValueError, TypeError, FaultSpecError, NotSucceeded) as exc:
        return detail_response(400, str(exc))


def _dispatch(sim: Simulator, method: str, path: str, body: Any) -> SimResponse:
    if (method, path) == ("GET", "/_sim/stats"):
        return json_response(200, sim.stats.snapshot())
    if (method, path) == ("POST", "/_sim/reset"):
        flags = _object(body)
        sim.reset(runs=flags.get("runs") is True, faults=flags.get("faults") is True)
        return json_response(200, {"reset": True})
    if match := _KIND.match(path):
        segment = match.group(1)
        kind = KIND_PATHS[segment]
        if method == "GET":
            return json_response(200, {"now": sim.now_iso(), segment: sim.dump(kind)})
        if method == "POST":
            return _created(_bulk_create(sim, kind, _object(body)))
    if path == "/_sim/files":
        return _files(sim, method, _object(body))
    if (method, path) == ("POST", "/_sim/files/expire"):
        return json_response(200, {"expired": sim.expire_file_urls()})
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
        kind = KIND_PATHS[match.group(1)]
        return json_response(200, sim.force_status(match.group(2), status, kind))
    return detail_response(404, "Not found.")


def _created(jobs: Sequence[Job]) -> SimResponse:
    return json_response(201, {"created": len(jobs), "ids": [job.id for job in jobs]})


def _files(sim: Simulator, method: str, body: dict[str, Any]) -> SimResponse:
    storage = sim.storage
    if method == "POST":
        for key in ("url_ttl_seconds", "archive_seconds"):
            value = body.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise ValueError(f"{key} must be a non-negative number of seconds")
        if body.get("url_ttl_seconds") is not None:
            storage.signer.ttl = float(body["url_ttl_seconds"])
        if body.get("archive_seconds") is not None:
            storage.archive_seconds = float(body["archive_seconds"])
    elif method != "GET":
        return detail_response(405, f'Method "{method}" not allowed.')
    return json_response(
        200,
        {
            "url_ttl_seconds": storage.signer.ttl,
            "archive_seconds": storage.archive_seconds,
            "urls_signed": storage.signer.signed,
        },
    )


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


def _bulk_create(sim: Simulator, kind: Kind, body: dict[str, Any]) -> Sequence[Job]:
    """Body fields, all optional::

    count                int (default: the longest of outcomes/statuses lists, else 1)
    outcomes             ["SUCCEEDED", "FAILED", ...] planned outcomes, one per job, cycled,
                         or {"SUCCEEDED": 0.7, "FAILED": 0.2, "CANCELED": 0.1} weights
                         (evaluations and anonymization runs never end CANCELED)
    pending_seconds      number or [low, high]; likewise processing_seconds and
    created_ago_seconds  (how long ago the jobs were created; default 0)
    status               str: pin every job at that status (any string, e.g. "PAUSED")
    statuses             [str, ...]: pin the jobs at these statuses in turn
    spec_name            runs only: str (default: drawn from the catalog)
    run_ids              evaluations only: [run id, ...] to evaluate in turn (each SUCCEEDED;
                         default: the runs that have succeeded, else new ones)
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
    for key in ("statuses", "run_ids"):
        values = body.get(key)
        if values is not None and not (
            isinstance(values, list) and all(isinstance(s, str) and s for s in values)
        ):
            raise ValueError(f"{key} must be a list of strings")
    ranges: dict[str, Any] = {
        key: _range(body, key)
        for key in ("pending_seconds", "processing_seconds", "created_ago_seconds")
    }
    common: dict[str, Any] = {
        "outcomes": outcomes,
        "pending_seconds": ranges["pending_seconds"],
        "processing_seconds": ranges["processing_seconds"],
        "created_ago_seconds": ranges["created_ago_seconds"] or 0.0,
        "status": body["statuses"] if body.get("statuses") is not None else body.get("status"),
    }
    if kind == "run":
        return sim.create_runs(count, spec_name=body.get("spec_name"), **common)
    if kind == "evaluation":
        return sim.create_evaluations(count, run_ids=body.get("run_ids"), **common)
    if kind == "red_team":
        return sim.create_red_team_runs(count, **common)
    return sim.create_anonymization_runs(count, **common)

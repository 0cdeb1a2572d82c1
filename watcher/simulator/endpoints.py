"""The API's endpoints, one small function each, and the table that routes paths to them.

Every path ends in a slash, as on the API. A handler gets the simulator, the request and the
ids its path carries, and may raise the simulator's errors: ``app`` turns RunNotFound into
404, NotCancelable and NotSucceeded into 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .engine import Simulator
from .files import FILES_PATH
from .lifecycle import Kind
from .messages import SimRequest, SimResponse, Stream, detail_response, json_response
from .validate import (
    Errors,
    anonymization_errors,
    evaluation_errors,
    not_an_object,
    red_team_errors,
    run_errors,
)

Handler = Callable[[Simulator, SimRequest, tuple[str, ...]], SimResponse]

API = "/api/dataframer/"
_ID = r"([^/]+)"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A path template, the pattern that matches it, and a handler per method."""

    template: str
    pattern: re.Pattern[str]
    methods: Mapping[str, Handler]
    # Presigned storage URLs carry their own signature: no API key is asked for.
    public: bool = False


def _list_response(parts: tuple[bytes, ...]) -> SimResponse:
    return SimResponse(
        200,
        {"Content-Type": "application/json"},
        stream=Stream(sum(map(len, parts)), lambda: parts),
    )


def _created(
    request: SimRequest,
    check: Callable[[dict[str, Any]], Errors],
    make: Callable[[dict[str, Any]], dict[str, Any]],
) -> SimResponse:
    """A create endpoint's answer: 400 for a bad body, else 201 with the new job's detail."""
    try:
        body = request.json()
    except ValueError as exc:
        return detail_response(400, f"JSON parse error - {exc}")
    if not isinstance(body, dict):
        return json_response(400, not_an_object(body))
    errors = check(body)
    if errors:
        return json_response(400, errors)
    return json_response(201, make(body))


def _base(request: SimRequest) -> str:
    # Presigned URLs point back at the simulator, at the address the client reached it by.
    return f"http://{request.header('Host') or '127.0.0.1'}"


# -- runs ------------------------------------------------------------------------------------


def _runs_create(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
    def make(body: dict[str, Any]) -> dict[str, Any]:
        options = {k: v for k, v in body.items() if k not in ("spec_id", "number_of_samples")}
        run = sim.add_run(
            spec_id=body["spec_id"],
            spec_version=body.get("spec_version"),
            number_of_samples=body["number_of_samples"],
            options=options,
            created_by_email=sim.user_email,
        )
        return sim.detail(run.id)

    return _created(request, run_errors, make)


def _run_file(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
    spec, url = sim.file_link("run", ids[0], ids[1], _base(request))
    return json_response(
        200, {"content_type": spec.content_type, "download_url": url, "filename": spec.name}
    )


def _run_archive(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
    ready = sim.archive_link("run", ids[0], _base(request))
    if ready is None:
        return json_response(202, {"download_url": None, "size_bytes": None})
    url, size = ready
    return json_response(200, {"download_url": url, "size_bytes": size})


# -- evaluations -----------------------------------------------------------------------------


def _evaluations_create(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
    def make(body: dict[str, Any]) -> dict[str, Any]:
        evaluation = sim.add_evaluation(
            body["run_id"],
            evaluation_model=body.get("evaluation_model"),
            created_by_email=sim.user_email,
        )
        return sim.detail(evaluation.id, "evaluation")

    return _created(request, evaluation_errors, make)


# -- red-team runs ---------------------------------------------------------------------------


def _red_team_list(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
    spec_id = request.query.get("spec_id")
    if spec_id:
        return SimResponse(
            200, {"Content-Type": "application/json"}, sim.red_team_runs_json(spec_id)
        )
    return _list_response(sim.list_body("red_team"))


def _red_team_create(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
    def make(body: dict[str, Any]) -> dict[str, Any]:
        job = sim.add_red_team_run(
            red_team_spec_id=body["red_team_spec_id"],
            model_name=body["model_name"],
            number_of_behaviors=body["number_of_behaviors"],
            number_of_prompts_per_behavior=body["number_of_prompts_per_behavior"],
            created_by_email=sim.user_email,
        )
        return sim.detail(job.id, "red_team")

    return _created(request, red_team_errors, make)


# -- anonymization runs ----------------------------------------------------------------------


def _anonymization_create(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
    def make(body: dict[str, Any]) -> dict[str, Any]:
        job = sim.add_anonymization_run(
            dataset_id=body["dataset_id"],
            detection_method=body["detection_method"],
            pii_types=body["pii_types"],
            llm_model_name=body.get("llm_model_name"),
            created_by_email=sim.user_email,
        )
        return sim.detail(job.id, "anonymization")

    return _created(request, anonymization_errors, make)


def _anonymized_file(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
    spec, url = sim.file_link("anonymization", ids[0], ids[1], _base(request))
    # This kind's answer says file_name, not filename: the SDK's model is the oracle.
    return json_response(
        200, {"content_type": spec.content_type, "download_url": url, "file_name": spec.name}
    )


def _anonymized_archive(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
    ready = sim.archive_link("anonymization", ids[0], _base(request))
    if ready is None:
        return json_response(202, {"download_url": None, "status": "generating"})
    return json_response(200, {"download_url": ready[0], "status": "ready"})


# -- the table -------------------------------------------------------------------------------


def _served(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
    return sim.serve_file(request.path)


def _endpoint(template: str, methods: Mapping[str, Handler], *, public: bool = False) -> Endpoint:
    pattern = "^" + re.escape(template).replace(r"\{id\}", _ID).replace(r"\{file_id\}", _ID)
    pattern = pattern.replace(r"\{token\}", r"([^/]+)(?:/[^/]*)?") + "$"
    return Endpoint(template, re.compile(pattern), methods, public)


def _list_of(kind: Kind) -> Handler:
    return lambda sim, request, ids: _list_response(sim.list_body(kind))


def _detail_of(kind: Kind) -> Handler:
    return lambda sim, request, ids: json_response(200, sim.detail(ids[0], kind))


def _delete_of(kind: Kind) -> Handler:
    def delete(sim: Simulator, request: SimRequest, ids: tuple[str, ...]) -> SimResponse:
        sim.delete(ids[0], kind)
        return SimResponse(204)

    return delete


RUNS = API + "runs/"
EVALUATIONS = API + "evaluations/"
RED_TEAM = API + "red-team-runs/"
ANONYMIZATION = API + "anonymization-runs/"

ENDPOINTS: tuple[Endpoint, ...] = (
    _endpoint(RUNS, {"GET": _list_of("run"), "POST": _runs_create}),
    _endpoint(RUNS + "{id}/", {"GET": _detail_of("run"), "DELETE": _delete_of("run")}),
    _endpoint(
        RUNS + "{id}/cancel/",
        {"POST": lambda sim, request, ids: json_response(200, sim.cancel(ids[0]))},
    ),
    _endpoint(
        RUNS + "{id}/evaluations/",
        {"GET": lambda sim, request, ids: json_response(200, sim.evaluations_of(ids[0]))},
    ),
    _endpoint(RUNS + "{id}/files/download/", {"GET": _run_archive}),
    _endpoint(RUNS + "{id}/files/{file_id}/download/", {"GET": _run_file}),
    _endpoint(EVALUATIONS, {"POST": _evaluations_create}),
    _endpoint(EVALUATIONS + "{id}/", {"GET": _detail_of("evaluation")}),
    _endpoint(RED_TEAM, {"GET": _red_team_list, "POST": _red_team_create}),
    _endpoint(
        RED_TEAM + "{id}/", {"GET": _detail_of("red_team"), "DELETE": _delete_of("red_team")}
    ),
    _endpoint(RED_TEAM + "{id}/status/", {"GET": _detail_of("red_team")}),
    _endpoint(ANONYMIZATION, {"GET": _list_of("anonymization"), "POST": _anonymization_create}),
    _endpoint(
        ANONYMIZATION + "{id}/",
        {"GET": _detail_of("anonymization"), "DELETE": _delete_of("anonymization")},
    ),
    _endpoint(ANONYMIZATION + "{id}/download/", {"GET": _anonymized_archive}),
    _endpoint(ANONYMIZATION + "{id}/files/{file_id}/download/", {"GET": _anonymized_file}),
    _endpoint(FILES_PATH + "{token}", {"GET": _served, "HEAD": _served}, public=True),
)


def resolve(path: str) -> tuple[Endpoint, tuple[str, ...]] | None:
    """The endpoint a path names and the ids it carries, or None (a 404)."""
    for endpoint in ENDPOINTS:
        match = endpoint.pattern.match(path)
        if match:
            return endpoint, match.groups()
    return None

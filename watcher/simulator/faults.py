"""Fault injection: what an unreliable network and API front end do to a client.

A fault spec (JSON on ``POST /_sim/faults``, or a dict from Python) looks like::

    {"kind": "rate_limit", "retry_after": 1, "path": "/api/dataframer/runs/", "method": "GET",
     "count": 2}

kinds: ``latency`` (``seconds``), ``status`` (``status``, optional ``retry_after``, ``body``),
``rate_limit`` (429 with ``retry_after``), ``malformed`` (``variant``: truncated, html,
wrong_types, empty_list, empty_body; optional ``status`` and, for wrong_types, ``target``:
all or first), ``drop`` (hang up without answering). Matching: ``path`` is a prefix,
``path_regex`` a regular expression searched in the path, ``method`` an HTTP method; all
optional. ``count`` applies the fault to the next N matching requests (default 1), ``always``
keeps it until cleared. Latency faults add up and delay whatever answer follows; of the other
kinds, the first matching one decides the answer.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

from .messages import SimResponse, detail_response, json_response

KINDS = ("latency", "status", "rate_limit", "malformed", "drop")
VARIANTS = ("truncated", "html", "wrong_types", "empty_list", "empty_body")

_HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n"
    b"<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n"
)


class FaultSpecError(ValueError):
    """A fault spec that cannot be understood; the message names the field at fault."""


@dataclass(slots=True)
class Fault:
    """One active fault and how many more requests it will hit (None: until cleared)."""

    id: int
    kind: str
    remaining: int | None = 1
    method: str | None = None
    path: str | None = None
    path_regex: str | None = None
    seconds: float = 0.0
    status: int | None = None
    retry_after: float | None = None
    variant: str = "truncated"
    target: str = "all"
    body: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request."""
        if self.method is not None and self.method != method.upper():
            return False
        if self.path is not None and not path.startswith(self.path):
            return False
        return self.path_regex is None or re.search(self.path_regex, path) is not None

    def to_json(self) -> dict[str, Any]:
        """The fault as the control surface reports it."""
        return {
            "id": self.id,
            "kind": self.kind,
            "remaining": self.remaining,
            "always": self.remaining is None,
            "method": self.method,
            "path": self.path,
            "path_regex": self.path_regex,
            "seconds": self.seconds,
            "status": self.status,
            "retry_after": self.retry_after,
            "variant": self.variant,
            "target": self.target,
        }


def _number(spec: dict[str, Any], key: str, default: float | None) -> float | None:
    value = spec.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultSpecError(f"fault field {key!r} must be a non-negative number, got {value!r}")
    return float(value)


def _choice(spec: dict[str, Any], key: str, allowed: Sequence[str], default: str) -> str:
    value = spec.get(key, default)
    if value not in allowed:
        raise FaultSpecError(
            f"fault field {key!r} must be one of {', '.join(allowed)}; got {value!r}"
        )
    return str(value)


def parse_fault(spec: object, fault_id: int = 0) -> Fault:
    """Build a Fault from its JSON spec; FaultSpecError names what is wrong."""
    if not isinstance(spec, dict):
        raise FaultSpecError(f"a fault must be a JSON object, got {spec!r}")
    kind = _choice(spec, "kind", KINDS, "")
    fault = Fault(id=fault_id, kind=kind)
    if spec.get("always") is True:
        fault.remaining = None
    else:
        count = spec.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise FaultSpecError(f"fault field 'count' must be a positive integer, got {count!r}")
        fault.remaining = count
    for key in ("method", "path", "path_regex", "body"):
        value = spec.get(key)
        if value is not None and not isinstance(value, str):
            raise FaultSpecError(f"fault field {key!r} must be a string, got {value!r}")
    fault.method = spec["method"].upper() if spec.get("method") else None
    fault.path, fault.path_regex, fault.body = (
        spec.get("path"),
        spec.get("path_regex"),
        spec.get("body"),
    )
    if fault.path_regex is not None:
        try:
            re.compile(fault.path_regex)
        except re.error as exc:
            raise FaultSpecError(f"fault field 'path_regex' is not a valid regex: {exc}") from exc
    status = spec.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
    ):
        raise FaultSpecError(f"fault field 'status' must be an HTTP status code, got {status!r}")
    fault.status = status
    if kind == "latency":
        fault.seconds = _number(spec, "seconds", None) or 0.0
    elif kind == "status":
        fault.status = status or 503
        fault.retry_after = _number(spec, "retry_after", None)
    elif kind == "rate_limit":
        fault.retry_after = _number(spec, "retry_after", 1.0)
    elif kind == "malformed":
        fault.variant = _choice(spec, "variant", VARIANTS, "truncated")
        fault.target = _choice(spec, "target", ("all", "first"), "all")
    return fault


class FaultInjector:
    """The active faults, consumed request by request (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1

    def add(self, specs: Sequence[object]) -> list[Fault]:
        """Parse and activate faults, all or none; returns copies of what was added."""
        with self._lock:
            parsed = [parse_fault(spec, self._next_id + i) for i, spec in enumerate(specs)]
            self._next_id += len(parsed)
            self._faults.extend(parsed)
            return [replace(f) for f in parsed]

    def clear(self) -> int:
        """Deactivate every fault; returns how many were active."""
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count

    def active(self) -> list[dict[str, Any]]:
        """The active faults as JSON-ready dicts."""
        with self._lock:
            return [f.to_json() for f in self._faults]

    def take(self, method: str, path: str) -> tuple[float, Fault | None]:
        """Consume what applies to a request: (total latency, the fault deciding the answer)."""
        delay, chosen = 0.0, None
        with self._lock:
            for fault in list(self._faults):
                if not fault.matches(method, path):
                    continue
                if fault.kind == "latency":
                    delay += fault.seconds
                elif chosen is None:
                    chosen = replace(fault)
                else:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
        return delay, chosen


def _seconds_header(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


def render(fault: Fault, normal: Callable[[], SimResponse]) -> SimResponse:
    """The response a fault gives; ``normal`` produces the undisturbed one when needed."""
    if fault.kind == "drop":
        return SimResponse(0, drop=True)
    if fault.kind == "rate_limit":
        wait = fault.retry_after or 0.0
        return detail_response(
            429,
            f"Request was throttled. Expected available in {int(wait)} seconds.",
            {"Retry-After": _seconds_header(wait)},
        )
    if fault.kind == "status":
        status = fault.status or 503
        headers = (
            {} if fault.retry_after is None else {"Retry-After": _seconds_header(fault.retry_after)}
        )
        if fault.body is not None:
            return SimResponse(
                status, {"Content-Type": "text/plain", **headers}, fault.body.encode()
            )
        return detail_response(status, HTTPStatus(status).phrase, headers)
    return _malformed(fault, normal)


def _malformed(fault: Fault, normal: Callable[[], SimResponse]) -> SimResponse:
    variant = fault.variant
    if variant == "html":
        return SimResponse(fault.status or 200, {"Content-Type": "text/html"}, _HTML_PAGE)
    if variant == "empty_list":
        return json_response(fault.status or 200, [])
    if variant == "empty_body":
        return SimResponse(fault.status or 200, {"Content-Type": "application/json"}, b"")
    response = normal()
    if fault.status is not None:
        response.status = fault.status
    # A streamed body (a list's cached blocks, a file) is spoiled as one piece.
    original = response.content()
    response.body, response.stream = original, None
    if variant == "truncated":
        body = original or b'{"detail": "Not found."}'
        response.body = body[: max(1, len(body) // 2)]
        response.headers["Content-Type"] = "application/json"
        return response
    try:
        payload = json.loads(original)
    except ValueError:
        return response
    items = payload if isinstance(payload, list) else [payload]
    for item in items[:1] if fault.target == "first" else items:
        if isinstance(item, dict) and "status" in item:
            # Exactly the type confusions the brief names: status as a number, a count as a string.
            item["status"] = 3
            item["samples_completed"] = str(item.get("samples_completed"))
    return json_response(
        response.status, payload, {k: v for k, v in response.headers.items() if k != "Content-Type"}
    )

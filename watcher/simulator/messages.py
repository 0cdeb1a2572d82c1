"""The request and response values ``handle`` speaks, independent of any HTTP server."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class SimRequest:
    """One HTTP request: method, decoded path (no query string), query, headers and body."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A header's value, looked up case-insensitively."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None

    def json(self) -> Any:
        """The body parsed as JSON (``None`` for an empty body); ValueError if it is not JSON."""
        if not self.body.strip():
            return None
        return json.loads(self.body)


@dataclass(slots=True)
class SimResponse:
    """One HTTP response, plus what only a socket can do: wait first, or hang up instead."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # Seconds the server waits before answering (latency faults).
    delay: float = 0.0
    # Close the connection without answering at all (drop faults); status and body unused.
    drop: bool = False

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def json_response(
    status: int, payload: object, headers: Mapping[str, str] | None = None
) -> SimResponse:
    """A JSON response the way Django REST framework renders one (compact, UTF-8)."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return raw_json_response(status, body, headers)


def raw_json_response(
    status: int, body: bytes, headers: Mapping[str, str] | None = None
) -> SimResponse:
    """A response whose body is already-encoded JSON."""
    return SimResponse(status, {"Content-Type": JSON_TYPE, **(headers or {})}, body)


def detail_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> SimResponse:
    """The API's error shape: ``{"detail": message}``."""
    return json_response(status, {"detail": message}, headers)

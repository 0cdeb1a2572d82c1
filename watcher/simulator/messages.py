"""The request and response values ``handle`` speaks, independent of any HTTP server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
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


@dataclass(frozen=True, slots=True)
class Stream:
    """A body sent part by part: a list body's cached blocks, or a file made as it goes out.

    Joining 40 MB of list blocks into one bytes object for every request would cost more than
    serving it, and a file of a big run need not sit in memory at all. ``parts`` is called
    once per sending, so a stream can be sent again (HEAD, then GET).
    """

    length: int
    parts: Callable[[], Iterable[bytes]]


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
    # When set, the body is this stream and ``body`` is unused.
    stream: Stream | None = None

    def content(self) -> bytes:
        """The whole body as one bytes object (joins a stream: for small bodies and tests)."""
        if self.stream is None:
            return self.body
        return b"".join(self.stream.parts())

    def length(self) -> int:
        """The body's length in bytes, without producing it."""
        return len(self.body) if self.stream is None else self.stream.length

    def chunks(self) -> Iterable[bytes]:
        """The body in the parts it is best sent in."""
        return (self.body,) if self.stream is None else self.stream.parts()

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.content())


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

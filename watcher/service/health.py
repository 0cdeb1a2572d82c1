"""Health and metrics over one small HTTP listener: /healthz, /readyz, /metrics.

The listener is a stdlib ThreadingHTTPServer in its own thread, not a server on the daemon's
event loop: a probe must be able to answer "the loop is stuck" (503, with how long it has been
silent) while the loop is stuck, and prometheus-client renders synchronously anyway. The
thread only reads what the loop writes (`Vitals`, plain attributes) and prometheus-client's
thread-safe values; it never touches the state file's connection.

- live: the scheduler's one-second delivery job has run within `LIVE_WINDOW`, and no poll
  tick has been running for longer than `TICK_STALL`.
- ready: the last successful poll ended within `READY_INTERVALS` poll intervals (the interval
  configured now, whatever backoff the daemon is in: backing off means the data is stale),
  and the state file is writable (the file allows writing and the last write did not fail).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from watcher.errors import WatcherError
from watcher.ui import StatusPage

LIVE_WINDOW = 10.0  # seconds without a heartbeat before the loop counts as hung
TICK_STALL = 600.0  # seconds: every request has a timeout, so a tick this long is wedged
READY_INTERVALS = 3


class ListenError(WatcherError):
    """The health listener could not bind its address."""


@dataclass
class Vitals:
    """What the loop last did: written by the loop thread, read by the health thread.

    Times are time.monotonic() values, except `last_ok_wall` (time.time(), for the metric).
    """

    started: float = field(default_factory=time.monotonic)
    heartbeat: float = field(default_factory=time.monotonic)
    tick_started: float | None = None
    last_ok: float | None = None
    last_ok_wall: float | None = None
    failures: int = 0
    last_error: str | None = None
    state_error: str | None = None

    def poll_age(self, now: float | None = None) -> float:
        """Seconds since the last successful poll ended; +Inf before the first one."""
        if self.last_ok is None:
            return float("inf")
        return (time.monotonic() if now is None else now) - self.last_ok


@dataclass(frozen=True)
class Verdict:
    """A probe's answer: ok or not, a one-line reason, and details for the JSON body."""

    ok: bool
    reason: str
    details: dict[str, Any]


def liveness(vitals: Vitals, *, now: float) -> Verdict:
    """Whether the scheduler loop is alive (see the module docstring)."""
    beat = now - vitals.heartbeat
    tick = None if vitals.tick_started is None else now - vitals.tick_started
    details = {"heartbeat_age": round(beat, 3), "tick_running_for": _round(tick)}
    if beat > LIVE_WINDOW:
        return Verdict(False, f"the scheduler loop has been silent for {beat:.0f}s", details)
    if tick is not None and tick > TICK_STALL:
        return Verdict(False, f"a poll tick has been running for {tick:.0f}s", details)
    return Verdict(True, "the scheduler loop is alive", details)


def readiness(vitals: Vitals, *, now: float, interval: float, state_path: Path) -> Verdict:
    """Whether the watcher is doing its job: fresh data, and a state file it can write."""
    age = vitals.poll_age(now)
    window = READY_INTERVALS * interval
    details: dict[str, Any] = {
        "last_successful_poll_age": _round(age),
        "window": window,
        "consecutive_failures": vitals.failures,
        "last_error": vitals.last_error,
        "state_path": str(state_path),
    }
    if vitals.state_error is not None:
        return Verdict(False, f"the state file cannot be written: {vitals.state_error}", details)
    if not os.access(state_path, os.W_OK):
        return Verdict(False, f"the state file {state_path} is not writable", details)
    if vitals.last_ok is None:
        why = f": {vitals.last_error}" if vitals.last_error else ""
        return Verdict(False, f"no successful poll yet{why}", details)
    if age > window:
        why = f" ({vitals.last_error})" if vitals.last_error else ""
        return Verdict(
            False,
            f"last successful poll {age:.0f}s ago, more than {READY_INTERVALS} intervals"
            f" of {interval:g}s{why}",
            details,
        )
    return Verdict(True, f"last successful poll {age:.1f}s ago", details)


def _round(value: float | None) -> float | None:
    if value is None or value == float("inf"):
        return None
    return round(value, 3)


class HealthServer:
    """The listener: /healthz and /readyz from callables, /metrics from a registry."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        live: Callable[[], Verdict],
        ready: Callable[[], Verdict],
        registry: CollectorRegistry,
        page: StatusPage | None = None,
    ) -> None:
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
            handler = _handler(live, ready, registry, page)
            self._server = _Server((host, port), family, handler)
        except OSError as exc:
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise ListenError(
                f"cannot listen on {where} (health.listen) for /healthz, /readyz and /metrics:"
                f" {exc.strerror or exc}; change health.listen or set health.enabled: false"
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="watcher-health", daemon=True
        )

    @property
    def port(self) -> int:
        """The port actually bound (health.listen may say 0)."""
        return int(self._server.server_address[1])

    def start(self) -> HealthServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], family: int, handler: type[BaseHTTPRequestHandler]
    ) -> None:
        self.address_family = family  # read by TCPServer.__init__ to create the socket
        super().__init__(address, handler)


def _handler(
    live: Callable[[], Verdict],
    ready: Callable[[], Verdict],
    registry: CollectorRegistry,
    page: StatusPage | None,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._reply(200, content_type, encoder(registry))
            elif path in ("/healthz", "/readyz"):
                verdict = live() if path == "/healthz" else ready()
                body = {"ok": verdict.ok, "reason": verdict.reason, **verdict.details}
                self._reply(200 if verdict.ok else 503, "application/json", _json(body))
            elif page is not None and (
                reply := page.handle(self.path, self.headers.get("Authorization"))
            ):
                self._reply(reply.code, reply.content_type, reply.body, reply.headers)
            else:
                body = {"ok": False, "reason": "not found: try /healthz, /readyz or /metrics"}
                self._reply(404, "application/json", _json(body))

        def _reply(
            self,
            code: int,
            content_type: str,
            body: bytes,
            headers: Mapping[str, str] | None = None,
        ) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in {"Cache-Control": "no-store", **(headers or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # probes every few seconds would drown the log

    return Handler


def _json(data: dict[str, Any]) -> bytes:
    return (json.dumps(data) + "\n").encode()


def probe_url(host: str, port: int, path: str) -> str:
    """The URL a local client uses to reach a listener on host:port (wildcards -> loopback)."""
    wildcards = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104 (mapped away)
    host = wildcards.get(host, host)
    return f"http://[{host}]:{port}{path}" if ":" in host else f"http://{host}:{port}{path}"


def query(url: str, *, timeout: float) -> tuple[bool, str]:
    """GET a probe: (answered 200, its one-line reason or why it could not be asked)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http only)
            return True, _reason_of(response.read())
    except urllib.error.HTTPError as exc:
        return False, _reason_of(exc.read()) or f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        text = getattr(cause, "strerror", None) or str(cause)
        return False, f"cannot reach {url}: {text} (is the daemon running?)"


def _reason_of(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    return str(data.get("reason", "")) if isinstance(data, dict) else ""

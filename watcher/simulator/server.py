"""The simulator over real HTTP/1.1: stdlib ThreadingHTTPServer around ``app.handle``."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from .app import handle
from .catalog import PlanDefaults
from .engine import Simulator
from .messages import SimRequest
from .model import Clock
from .scenario import demo_scenario

_log = logging.getLogger(__name__)
_STOP_GRACE_SECONDS = 2.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dataframer-simulator"
    sys_version = ""
    # Headers and body go out in two writes; without TCP_NODELAY a keep-alive client can wait
    # on delayed ACKs for ~40 ms per request.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests start servers by the dozen and read counters instead."""

    def _serve(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # The API's clients send Content-Length; an unread chunked body would corrupt the
            # next request on this connection, so refuse it and hang up.
            self.close_connection = True
            self.send_error(411, "Length Required")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        request = SimRequest(
            method=self.command,
            path=unquote(url.path),
            headers=dict(self.headers.items()),
            body=body,
            query=dict(parse_qsl(url.query)),
        )
        response = handle(self.server.sim, request)
        if response.delay > 0:
            # Wakes early when the server stops, so a long latency fault never delays stop().
            self.server.stopping.wait(response.delay)
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(response.length()))
        self.end_headers()
        if self.command != "HEAD" and response.status not in (204, 304):
            # Part by part: a cached 40 MB list goes out as its blocks, never joined.
            for part in response.chunks():
                self.wfile.write(part)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._idle = threading.Condition()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        with self._idle:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._idle:
            self._connections.discard(connection)
            self._idle.notify_all()

    def close_connections(self, grace: float) -> None:
        """Hang up on keep-alive clients and wait (bounded) for their threads to finish."""
        with self._idle:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            self._idle.wait_for(lambda: not self._connections, timeout=grace)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response is its business; anything else is worth a debug line.
        _log.debug("simulator connection error from %s", client_address, exc_info=True)


class SimulatorServer:
    """The simulator on a background thread; a context manager.

    ``with SimulatorServer() as server: Dataframer(api_key="sim-key", base_url=server.url)``.
    Port 0 picks a free port; ``.sim`` is the live world, for tests to drive directly.
    """

    def __init__(
        self,
        sim: Simulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "sim-key",
        seed: int | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.sim = sim if sim is not None else Simulator(api_key=api_key, seed=seed, clock=clock)
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._shutdown = threading.Event()

    def start(self) -> SimulatorServer:
        """Bind and serve in a background thread; OSError if the address is taken."""
        if self._httpd is not None:
            return self
        self._httpd = _HTTPServer(self._address, self.sim)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"dataframer-simulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        """The bound port (the real one when started with port 0)."""
        if self._httpd is None:
            return self._address[1]
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. ``http://127.0.0.1:40123``."""
        host = self._address[0]
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def shutdown(self) -> None:
        """Ask ``serve``/``wait`` to return. Non-blocking, safe from a signal handler."""
        self._shutdown.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``shutdown()`` is called (or the timeout passes); True if it was."""
        return self._shutdown.wait(timeout)

    def stop(self) -> None:
        """Stop serving, hang up on open connections and release the port. Idempotent."""
        self._shutdown.set()
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        if self._thread is not None:
            self._thread.join()
        httpd.close_connections(_STOP_GRACE_SECONDS)
        httpd.server_close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    api_key: str = "sim-key",
    runs: int = 0,
    evaluations: int = 0,
    red_team_runs: int = 0,
    anonymization_runs: int = 0,
    seed: int | None = None,
    pending_seconds: float = 3.0,
    processing_seconds: float = 30.0,
    failure_ratio: float = 0.1,
    cancel_ratio: float = 0.05,
    demo: bool = False,
    ready_callback: Callable[[SimulatorServer], None] | None = None,
) -> None:
    """Serve the simulator in the foreground until ``server.shutdown()`` or KeyboardInterrupt.

    ``runs`` random runs are created first, their creation spread over the recent past so some
    have finished and some are under way; durations spread from half to 1.5x the given means.
    Likewise ``red_team_runs`` and ``anonymization_runs``; ``evaluations`` are of the runs
    that have succeeded by then (of runs made for them when none has). ``demo`` adds the demo
    scenario. ``ready_callback`` gets the started server (its ``.url``,
    and ``.shutdown()`` for a signal handler). Raises ValueError for bad ratios or durations,
    OSError if the address cannot be bound.
    """
    defaults = PlanDefaults.around(
        pending_seconds=pending_seconds,
        processing_seconds=processing_seconds,
        failure_ratio=failure_ratio,
        cancel_ratio=cancel_ratio,
    )
    sim = Simulator(api_key=api_key, seed=seed, defaults=defaults)
    span = (0.0, 2.0 * (pending_seconds + processing_seconds))
    if runs:
        sim.create_runs(runs, created_ago_seconds=span)
    if evaluations:
        sim.create_evaluations(evaluations, created_ago_seconds=span)
    if red_team_runs:
        sim.create_red_team_runs(red_team_runs, created_ago_seconds=span)
    if anonymization_runs:
        sim.create_anonymization_runs(anonymization_runs, created_ago_seconds=span)
    if demo:
        demo_scenario(sim)
    server = SimulatorServer(sim, host=host, port=port).start()
    try:
        if ready_callback is not None:
            ready_callback(server)
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()

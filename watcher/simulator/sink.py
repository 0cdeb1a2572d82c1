"""A webhook that receives the watcher's alerts: apprise's json:// posts, over real HTTP.

The demo prints what it receives, the benchmarks count it, the tests script its answers. One
model serves them all:

- each request takes the next answer of the *plan*, else the *default* answer (200);
- an `Answer` is a status code, sent at once, after a `delay`, or once `release()`d: `HANG`
  (then 503: a server that hung) or `Answer(hang=True)` (then 200: one slower than its
  client); a hold lasts at most `hang_limit` seconds, so a forgotten release hangs nobody;
- a body that is not a JSON object is answered 400 and takes nothing from the plan;
- with `barrier=N`, no request is answered until N of them are waiting at once (a barrier
  that breaks, after `hang_limit` or at stop, answers 503);
- every request is recorded as it arrives (`requests`: path, content type, body, arrival time,
  its answer, then the status it got); those answered 2xx are *accepted*: kept in `accepted`
  and `posts` in the order they were answered, and handed to `on_alert` one at a time, all
  before the answer goes out, so a sender that saw 200 finds its post already recorded.

It binds 127.0.0.1 on a free port when built; `start()` (or `with`) serves, `stop()` releases
whatever is held, waits for every handler and frees the port::

    with WebhookSink(plan=[500]) as sink:   # the first post is refused, the rest accepted
        channels = {"team": sink.url()}
        ...
        sink.run_ids(), sink.requests[0].status
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"
# The line that names a run in an alert body, as watcher.render writes it.
RUN_LINE_PREFIX = "Run: "


@dataclass(frozen=True)
class Answer:
    """How the sink answers one request: `status`, after `delay` seconds or once released."""

    status: int = 200
    delay: float = 0.0
    hang: bool = False  # held until release() or stop() (at most the sink's hang_limit)


# A server that hung: once released it answers 503, so a sender that gave up on it and sends
# again does not leave a duplicate behind.
HANG = Answer(503, hang=True)
# A body that is not a JSON object never takes a planned answer: the plan scripts alerts.
_NOT_JSON = Answer(400)


def _answer(value: int | Answer) -> Answer:
    return value if isinstance(value, Answer) else Answer(value)


@dataclass(frozen=True)
class SinkRequest:
    """One request as the sink saw it."""

    path: str
    content_type: str | None
    body: dict[str, Any] | None  # the JSON object posted; None when the body was not one
    at: float  # time.monotonic() when it arrived
    answer: Answer  # what the plan (or the default) gave it
    status: int | None = None  # the status it was answered; None while it is held

    @property
    def accepted(self) -> bool:
        """Answered 2xx."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def message(self) -> str:
        """The alert's text (apprise's "message"), "" when there is none."""
        return str((self.body or {}).get("message", ""))


def run_ids_in(texts: Iterable[str]) -> list[str]:
    """The run ids alert texts name (their `Run: <id>` lines), one entry per mention."""
    ids = []
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if line.startswith(RUN_LINE_PREFIX):
                ids.append(line.removeprefix(RUN_LINE_PREFIX).strip())
    return ids


class WebhookSink:
    """An HTTP server behind apprise's json:// URL that records and answers alerts (see module)."""

    def __init__(
        self,
        *,
        plan: Iterable[int | Answer] = (),
        default: int | Answer = 200,
        barrier: int = 0,
        hang_limit: float = 30.0,
        on_alert: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._plan: deque[Answer] = deque(_answer(a) for a in plan)
        self._default = _answer(default)
        self._hang_limit = hang_limit
        self._on_alert = on_alert
        self._barrier = threading.Barrier(barrier, timeout=hang_limit) if barrier else None
        self._requests: list[SinkRequest] = []
        self._accepted: list[SinkRequest] = []
        # One condition guards every field above and wakes held requests on release and stop.
        self._cond = threading.Condition()
        self._releases = 0  # a held request waits for this to move past the value it arrived with
        self._stopping = False
        self._alert_lock = threading.Lock()  # on_alert sees one alert at a time
        self._server = _Server((HOST, 0), self)
        self.port: int = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    # -- lifetime -------------------------------------------------------------------------

    def start(self) -> WebhookSink:
        """Serve in a background thread; a second call does nothing, a call after stop() fails."""
        if self._stopping:
            raise RuntimeError("a stopped WebhookSink cannot start again: build a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                # A short poll interval makes stop() quick; tests start sinks by the dozen.
                kwargs={"poll_interval": 0.05},
                name=f"webhook-sink:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Answer whatever is held, wait for every handler, release the port. Idempotent."""
        with self._cond:
            if self._stopping:
                return
            self._stopping = True
            self._cond.notify_all()
        if self._barrier is not None:
            self._barrier.abort()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()  # joins the handler threads: no request outlives the sink

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what it answers ------------------------------------------------------------------

    def url(self, path: str = "hook", *, auth: str = "", query: str = "") -> str:
        """The apprise json:// URL that posts to `/path` here; `auth` is "user:password"."""
        credentials = f"{auth}@" if auth else ""
        suffix = f"?{query}" if query else ""
        return f"json://{credentials}{HOST}:{self.port}/{path.lstrip('/')}{suffix}"

    def plan(self, *answers: int | Answer) -> None:
        """The next requests take these answers, in order, after those already planned."""
        with self._cond:
            self._plan.extend(_answer(a) for a in answers)

    def set_default(self, answer: int | Answer) -> None:
        """Every request the plan does not cover gets this answer, from now on."""
        with self._cond:
            self._default = _answer(answer)

    def release(self) -> None:
        """Answer every request held so far; a `HANG` that arrives later is held again."""
        with self._cond:
            self._releases += 1
            self._cond.notify_all()

    def heal(self) -> None:
        """A healthy server from now on: the plan dropped, 200 at once, held requests released."""
        with self._cond:
            self._plan.clear()
            self._default = Answer()
        self.release()

    # -- what it got ----------------------------------------------------------------------

    @property
    def requests(self) -> list[SinkRequest]:
        """Every request so far, in arrival order (`status` None while held)."""
        with self._cond:
            return list(self._requests)

    @property
    def accepted(self) -> list[SinkRequest]:
        """The requests answered 2xx, in the order they were answered."""
        with self._cond:
            return list(self._accepted)

    @property
    def posts(self) -> list[dict[str, Any]]:
        """The JSON bodies of the accepted requests: apprise's title, message, type..."""
        return [r.body for r in self.accepted if r.body is not None]

    @property
    def messages(self) -> list[str]:
        """The "message" of each accepted post."""
        return [r.message for r in self.accepted]

    def run_ids(self) -> list[str]:
        """The run ids the accepted alerts name, one entry per mention."""
        return run_ids_in(self.messages)

    # -- serving (handler threads) --------------------------------------------------------

    def _serve(self, path: str, content_type: str | None, raw: bytes) -> int:
        body = _json_object(raw)
        with self._cond:
            if body is None:
                answer = _NOT_JSON
            else:
                answer = self._plan.popleft() if self._plan else self._default
            index = len(self._requests)
            self._requests.append(SinkRequest(path, content_type, body, time.monotonic(), answer))
            releases = self._releases  # taken with the record, so no release() slips between
        status = self._hold(answer, releases) if body is not None else answer.status
        with self._cond:
            record = self._requests[index] = replace(self._requests[index], status=status)
            if record.accepted:
                self._accepted.append(record)
        if record.accepted and body is not None and self._on_alert is not None:
            with self._alert_lock:
                self._on_alert(body)
        return status

    def _hold(self, answer: Answer, releases: int) -> int:
        if self._barrier is not None:
            try:
                self._barrier.wait()
            except threading.BrokenBarrierError:  # timed out, or the sink is stopping
                return 503
        with self._cond:
            if answer.hang:
                self._cond.wait_for(
                    lambda: self._releases != releases or self._stopping, self._hang_limit
                )
            elif answer.delay > 0:
                self._cond.wait_for(lambda: self._stopping, answer.delay)
        return answer.status


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # A client that connects and never sends cannot keep stop() waiting for its handler.
    timeout = 10.0

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        status = self.server.sink._serve(self.path, self.headers.get("Content-Type"), raw)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")
        except OSError:  # the sender gave up (or died) while the sink held its request
            pass

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the demo prints alerts and the tests read records, not access logs."""


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close (every hold is bounded and stop() ends them).
    daemon_threads = False

    def __init__(self, address: tuple[str, int], sink: WebhookSink) -> None:
        self.sink = sink
        super().__init__(address, _Handler)

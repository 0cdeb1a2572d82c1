"""Loopback receivers and an in-memory outbox for the deliver tests.

- `JsonReceiver`: an HTTP server behind apprise's json://, answering from a plan
  (a status code, or "hang" until released) and recording every JSON body it gets.
- `SmtpReceiver`: an aiosmtpd server behind mailto://, recording each message.
- `FakeOutbox`: the OutboxStore protocol over a dict, recording every attempt in order.
"""

from __future__ import annotations

import dataclasses
import email
import email.message
import http.server
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from aiosmtpd.controller import Controller

from watcher.events import Attempt, Delivery

from .peers import free_port

START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class _Server(http.server.ThreadingHTTPServer):
    # Join the handler threads on close, so no request outlives its test.
    daemon_threads = False


class JsonReceiver:
    """A webhook receiver: each request takes the next answer of `plan`, then `otherwise`."""

    def __init__(self, *, plan: list[int | str] | None = None, otherwise: int = 200) -> None:
        self.plan: list[int | str] = list(plan or [])
        self.otherwise = otherwise
        self.received: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.content_types: list[str | None] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.received.append(json.loads(body))
                    receiver.paths.append(self.path)
                    receiver.content_types.append(self.headers.get("Content-Type"))
                    answer = receiver.plan.pop(0) if receiver.plan else receiver.otherwise
                if answer == "hang":
                    # Bounded, so a forgotten release cannot hang the suite.
                    receiver.release.wait(10)
                    answer = 200
                self.send_response(int(answer))
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()

    def url(self, path: str = "hook", auth: str = "", query: str = "") -> str:
        """The apprise URL that posts here (json://, plain HTTP)."""
        return f"json://{auth}127.0.0.1:{self.port}/{path}{'?' + query if query else ''}"

    @property
    def messages(self) -> list[str]:
        """The "message" of every post, in arrival order."""
        with self._lock:
            return [post["message"] for post in self.received]

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class SmtpReceiver:
    """An aiosmtpd server on a fixed free port; `refuse` rejects every recipient with 550."""

    def __init__(self, port: int | None = None, *, refuse: bool = False) -> None:
        self.port = port if port is not None else free_port()
        self.refuse = refuse
        self.messages: list[email.message.Message] = []
        self._controller: Controller | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=a@example.com&to=b@example.com"

    def start(self) -> SmtpReceiver:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@dataclasses.dataclass
class _Row:
    delivery: Delivery
    next_attempt_at: datetime
    state: str = "pending"  # pending | sent | dead
    reason: str | None = None


class FakeOutbox:
    """An in-memory OutboxStore: due means pending and next_attempt_at <= now."""

    def __init__(self) -> None:
        self.rows: dict[int, _Row] = {}
        self.attempts: list[Attempt] = []
        self.fail_ack_after: int | None = None  # raise on the ack after this many

    def add(self, channel: str, body: str, created_at: datetime = START) -> int:
        delivery_id = len(self.rows) + 1
        self.rows[delivery_id] = _Row(
            Delivery(delivery_id, channel, f"title {body}", body, created_at), created_at
        )
        return delivery_id

    def due_deliveries(
        self, now: datetime, *, limit: int = 100, channels: Any = None
    ) -> list[Delivery]:
        due = [
            row
            for row in self.rows.values()
            if row.state == "pending"
            and row.next_attempt_at <= now
            and (channels is None or row.delivery.channel in channels)
        ]
        due.sort(key=lambda row: (row.next_attempt_at, row.delivery.id))
        taken: dict[str, int] = {}
        batch = []
        for row in due:  # the `limit` oldest of each channel, as the real outbox
            channel = row.delivery.channel
            if taken.get(channel, 0) < limit:
                taken[channel] = taken.get(channel, 0) + 1
                batch.append(row.delivery)
        return batch

    def record_attempt(self, attempt: Attempt) -> None:
        if self.fail_ack_after is not None and len(self.attempts) >= self.fail_ack_after:
            raise OSError("disk I/O error")
        self.attempts.append(attempt)
        row = self.rows[attempt.delivery_id]
        if attempt.ok:
            row.state = "sent"
        elif attempt.dead:
            row.state, row.reason = "dead", attempt.reason
        else:
            assert attempt.next_attempt_at is not None
            row.next_attempt_at = attempt.next_attempt_at
        row.delivery = dataclasses.replace(
            row.delivery,
            attempts=row.delivery.attempts + 1,
            first_attempt_at=row.delivery.first_attempt_at or attempt.at,
            delivered_to=attempt.delivered_to,
        )

    def check_writable(self) -> None:
        if self.fail_ack_after is not None and len(self.attempts) >= self.fail_ack_after:
            raise OSError("disk I/O error")

    def dead_letter(self, delivery_id: int, at: datetime, reason: str) -> None:
        row = self.rows[delivery_id]
        row.state, row.reason = "dead", reason

    def attempts_of(self, delivery_id: int) -> list[Attempt]:
        return [a for a in self.attempts if a.delivery_id == delivery_id]


def pending_deliveries(store: Any) -> int:
    """Deliveries a `watcher.state.Store` holds that are not yet sent nor dead."""
    counts = store.delivery_counts().values()
    return sum(c.get("pending", 0) + c.get("retrying", 0) for c in counts)

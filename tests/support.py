"""Real loopback peers for the tests: a webhook receiver, an SMTP server, the daemon process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nobody listens on right now (aiosmtpd cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll until predicate() is true; a bounded wait, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class WebhookReceiver:
    """An HTTP server that records JSON posts; fails the first `fail_first` with `fail_status`."""

    def __init__(self, *, fail_first: int = 0, fail_status: int = 500) -> None:
        self.posts: list[dict[str, Any]] = []
        self.requests = 0
        self.fail_first = fail_first
        self.fail_status = fail_status
        receiver = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    receiver.requests += 1
                    failing = receiver.requests <= receiver.fail_first
                    if not failing:
                        receiver.posts.append(json.loads(body))
                self.send_response(receiver.fail_status if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """The apprise json:// URL that posts here."""
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def run_ids(self) -> list[str]:
        """The run ids named in the received alerts, one entry per mention."""
        return run_ids_in(str(post.get("message", "")) for post in self.posts)

    def stop(self) -> None:
        """Shut down and release the port."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _Collect:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sink.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


class SmtpSink:
    """aiosmtpd on 127.0.0.1:<free port>, collecting every message."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[Any] = []
        self.controller = Controller(_Collect(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        """The apprise mailto:// URL that delivers here (plain SMTP)."""
        return f"mailto://127.0.0.1:{self.port}?from=watcher@example.com&to=oncall@example.com"

    def bodies(self) -> list[str]:
        """Every message's text body."""
        texts = []
        for message in self.messages:
            part = message.get_payload(0) if message.is_multipart() else message
            texts.append(part.get_payload(decode=True).decode(errors="replace"))
        return texts

    def run_ids(self) -> list[str]:
        """The run ids named in received mail, one entry per mention."""
        return run_ids_in(self.bodies())

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def statuses_in(texts: Any) -> dict[str, list[str]]:
    """run id -> the `Status:` line of each alert block that names it."""
    found: dict[str, list[str]] = {}
    for text in texts:
        current = None
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("Run: "):
                current = line.removeprefix("Run: ").strip()
            elif line.startswith("Status: ") and current is not None:
                found.setdefault(current, []).append(line.removeprefix("Status: "))
    return found


def run_ids_in(texts: Any) -> list[str]:
    """Run ids from alert bodies' `Run: <id>` lines."""
    ids = []
    for text in texts:
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("Run: "):
                ids.append(line.removeprefix("Run: ").strip())
    return ids


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a watcher subprocess: ours minus anything that configures it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WATCHER_", "DATAFRAMER_")) and k not in ("NOTIFY_SOCKET",)
    }
    env.update(extra)
    return env


class DaemonProcess:
    """`python -m watcher run` as a real subprocess with real signals; logs go to a file."""

    def __init__(self, config: Path, *, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "run"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
        )

    def events(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far."""
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines

    def count(self, event: str) -> int:
        """How many log lines carry this event name."""
        return sum(1 for line in self.events() if line.get("event") == event)

    def wait_event(self, event: str, *, at_least: int = 1, timeout: float = 30.0) -> None:
        """Wait until the daemon logged `event` at least this many times (or died)."""

        def seen() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"daemon exited {self.proc.returncode}:\n{self.log_path.read_text()}"
                )
            return self.count(event) >= at_least

        wait_for(seen, timeout=timeout, what=f"{at_least} x {event!r}")

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Send a signal and wait for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL, for crash tests and cleanup."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()

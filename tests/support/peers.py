"""Real loopback peers for the tests: a webhook receiver, an SMTP server, the daemon process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "test-key-0123456789"


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
    """An HTTP server that records JSON posts; fails the first `fail_first` with `fail_status`.

    `hang_first` requests (counted before the failing ones) are held for `hang_seconds`, then
    answered 503 unrecorded: a server that hangs mid-delivery. `delay` holds every answer
    that long (a slow server). `heal()` stops the failing from now on.
    """

    def __init__(
        self,
        *,
        fail_first: int = 0,
        fail_status: int = 500,
        hang_first: int = 0,
        hang_seconds: float = 0.0,
        delay: float = 0.0,
    ) -> None:
        self.posts: list[dict[str, Any]] = []
        self.arrivals: list[float] = []  # time.monotonic() of each recorded post
        self.requests = 0
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.hang_first = hang_first
        self.hang_seconds = hang_seconds
        self.delay = delay
        self._released = threading.Event()
        receiver = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    receiver.requests += 1
                    hanging = receiver.requests <= receiver.hang_first
                    failing = receiver.requests <= receiver.hang_first + receiver.fail_first
                if hanging:
                    receiver._released.wait(receiver.hang_seconds)
                    failing = True
                elif receiver.delay:
                    time.sleep(receiver.delay)
                if not failing:
                    with lock:
                        receiver.posts.append(json.loads(body))
                        receiver.arrivals.append(time.monotonic())
                status = 503 if hanging else receiver.fail_status if failing else 200
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:  # the sender gave up (or died) while we held its request
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def heal(self) -> None:
        """Answer every request from now on (ends `fail_first` and any hang)."""
        self.fail_first = 0
        self.hang_first = 0
        self._released.set()

    @property
    def url(self) -> str:
        """The apprise json:// URL that posts here."""
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def run_ids(self) -> list[str]:
        """The run ids named in the received alerts, one entry per mention."""
        return run_ids_in(str(post.get("message", "")) for post in self.posts)

    def stop(self) -> None:
        """Shut down and release the port."""
        self._released.set()
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


def watcher_cli(
    config: Path, *args: str, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """`python -m watcher --config CONFIG ARGS` in a clean environment, beside the config."""
    return subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), *args],
        cwd=config.parent,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def state_deliveries(db: Path) -> list[dict[str, Any]]:
    """Every delivery in a state file (read straight from SQLite, beside a running daemon):
    id, channel, status, attempts, last_error and the run ids it covers."""
    import sqlite3

    conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        rows = [dict(row) for row in conn.execute("SELECT * FROM deliveries ORDER BY id")]
        runs: dict[int, list[str]] = {}
        for delivery_id, run_id in conn.execute(
            "SELECT de.delivery_id, e.run_id FROM delivery_events de"
            " JOIN events e ON e.id = de.event_id ORDER BY de.delivery_id, e.id"
        ):
            runs.setdefault(delivery_id, []).append(run_id)
    finally:
        conn.close()
    for row in rows:
        row["run_ids"] = runs.get(row["id"], [])
    return rows


class NotifySocket:
    """A NOTIFY_SOCKET as systemd provides it: an AF_UNIX datagram socket that records messages.

    `abstract=True` binds in the abstract namespace (address "@name"); otherwise a socket file
    in a short temporary directory (AF_UNIX paths are limited to 107 bytes).
    """

    def __init__(self, *, abstract: bool = False) -> None:
        self.messages: list[dict[str, str]] = []
        self._dir: str | None = None
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.address = f"@dataframer-watcher-test-{os.getpid()}-{id(self)}"
            self.sock.bind("\0" + self.address[1:])
        else:
            self._dir = tempfile.mkdtemp(prefix="wn-")
            self.address = os.path.join(self._dir, "notify")
            self.sock.bind(self.address)
        self.sock.settimeout(0.05)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            with self._lock:
                self.messages.append(fields)

    def received(self) -> list[dict[str, str]]:
        """Every message so far, oldest first, as KEY -> VALUE."""
        with self._lock:
            return list(self.messages)

    def values(self, key: str) -> list[str]:
        """The values of one field across all messages, in order."""
        return [m[key] for m in self.received() if key in m]

    def wait(self, key: str, value: str | None = None, *, timeout: float = 30.0) -> None:
        """Wait until a message carries `key` (with `value`, if given)."""
        wait_for(
            lambda: any(value is None or v == value for v in self.values(key)),
            timeout=timeout,
            what=f"{key}={value or '*'} on {self.address}",
        )

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)


def http_get(url: str, *, timeout: float = 10.0) -> tuple[int, str]:
    """GET a URL: (status, body text), for any status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http://)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m watcher ARGS` as a user would, in `cwd`, with a clean environment."""
    return subprocess.run(
        [sys.executable, "-m", "watcher", *args],
        cwd=cwd,
        env=clean_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(path: Path, text: str) -> Path:
    """Write `text` to `path`; returns the path."""
    path.write_text(text)
    return path


def _chattr(flag: str, *paths: Path) -> None:
    chattr = shutil.which("chattr") or "chattr"
    subprocess.run([chattr, flag, *map(str, paths)], check=True, capture_output=True)


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """Make files immutable (as root: even root cannot write them) for the block's length."""
    _chattr("+i", *paths)
    try:
        yield
    finally:
        _chattr("-i", *paths)


def can_make_immutable(tmp_path: Path) -> bool:
    """Whether `immutable` works here: root, chattr, and a file system that honours +i."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        return False
    probe = tmp_path / "immutable-probe"
    probe.write_text("x")
    try:
        with immutable(probe):
            try:
                probe.write_text("y")
            except PermissionError:
                return True
            return False
    except (subprocess.CalledProcessError, OSError):
        return False
    finally:
        probe.unlink(missing_ok=True)

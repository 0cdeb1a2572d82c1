"""Real loopback peers besides the webhook: an SMTP server, a NOTIFY_SOCKET, a free port, GET.

The webhook sink lives in the package (`watcher.simulator.WebhookSink`): the demo and the
benchmarks use it too. aiosmtpd is a test dependency, so the SMTP server lives here.
"""

from __future__ import annotations

import email
import email.message
import os
import shutil
import socket
import tempfile
import threading
import urllib.error
import urllib.request
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from .alerts import run_ids_in
from .waiting import wait_for


def free_port() -> int:
    """A port nobody listens on right now (aiosmtpd cannot take port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """aiosmtpd on 127.0.0.1:<port>, collecting every message; `refuse` rejects recipients.

    Built, it only holds a port number: a mail server that is down until `start()`. It can stop
    and start again on the same port (a server that goes away and comes back).
    """

    sender = "watcher@example.com"
    recipient = "oncall@example.com"

    def __init__(self, port: int | None = None, *, refuse: bool = False) -> None:
        self.port = port if port is not None else free_port()
        self.refuse = refuse  # answer every RCPT with 550, as for an unknown user
        self._messages: list[email.message.Message] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        """The apprise mailto:// URL that delivers here (plain SMTP)."""
        return f"mailto://127.0.0.1:{self.port}?from={self.sender}&to={self.recipient}"

    @property
    def messages(self) -> list[email.message.Message]:
        """Every message received so far, oldest first."""
        with self._lock:
            return list(self._messages)

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
        """Listen (again) on the port."""
        if self._controller is None:
            self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
            self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening; a sink that is not running is left as it is."""
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _receive(self, content: bytes) -> None:
        with self._lock:
            self._messages.append(email.message_from_bytes(content))


class _Handler:
    """aiosmtpd's hooks, kept off the sink's public face."""

    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.sink.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sink._receive(envelope.content)
        return "250 Message accepted for delivery"


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

"""sd_notify: tell systemd that the daemon is ready, alive, reloading or stopping.

The protocol (sd_notify(3), documented as stable): newline-separated KEY=VALUE assignments in
one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET, where a leading "@" means the
abstract namespace. Without $NOTIFY_SOCKET every call is a no-op, so the daemon behaves the
same outside systemd. A failed send is logged once and never raised.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger("watcher.service.sdnotify")


class Notifier:
    """Sends sd_notify messages to one socket address (or nowhere)."""

    def __init__(self, address: str | None) -> None:
        self.address = address or None
        self._complained = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """The notifier $NOTIFY_SOCKET asks for (a no-op one when it is unset)."""
        return cls((os.environ if environ is None else environ).get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        """Whether messages go anywhere."""
        return self.address is not None

    def notify(self, **fields: object) -> bool:
        """Send KEY=VALUE fields in one datagram; True when it was sent."""
        if self.address is None:
            return False
        # One assignment per line: a newline inside a value would forge another field.
        text = "\n".join(f"{k}={' '.join(str(v).splitlines())}" for k, v in fields.items())
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                # Never block the event loop on a full queue: a dropped ping beats a stall.
                sock.setblocking(False)
                sock.sendto(text.encode(), target)
        except OSError as exc:
            if not self._complained:
                self._complained = True
                log.warning("sd_notify_failed", socket=self.address, error=str(exc))
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """READY=1: startup finished (or a reload did)."""
        return self.notify(READY=1, **_status(status))

    def status(self, text: str) -> bool:
        """STATUS=: one line `systemctl status` shows."""
        return self.notify(STATUS=text)

    def watchdog(self) -> bool:
        """WATCHDOG=1: the service is alive (send it only when it is)."""
        return self.notify(WATCHDOG=1)

    def reloading(self, status: str | None = None) -> bool:
        """RELOADING=1 with the MONOTONIC_USEC that systemd 253+ (Type=notify-reload) wants."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify(RELOADING=1, MONOTONIC_USEC=usec, **_status(status))

    def stopping(self, status: str | None = None) -> bool:
        """STOPPING=1: shutdown has begun."""
        return self.notify(STOPPING=1, **_status(status))


def _status(text: str | None) -> dict[str, str]:
    return {} if text is None else {"STATUS": text}


def watchdog_interval(
    environ: Mapping[str, str] | None = None, pid: int | None = None
) -> float | None:
    """Seconds between WATCHDOG=1 pings (half of $WATCHDOG_USEC), or None when not asked.

    $WATCHDOG_PID, when set, must be our pid: otherwise the watchdog is another process's.
    """
    env = os.environ if environ is None else environ
    usec, owner = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None
    return int(usec) / 2_000_000

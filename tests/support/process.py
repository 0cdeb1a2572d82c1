"""The watcher as a user runs it: a clean environment, the daemon as a process, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from .waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "test-key-0123456789"


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

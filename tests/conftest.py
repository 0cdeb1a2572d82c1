"""Shared fixtures: each creates a real loopback peer and stops it afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import API_KEY, DaemonProcess, SmtpSink, WebhookSink, clean_env
from watcher.simulator import SimulatorServer


@pytest.fixture
def simulator() -> Iterator[SimulatorServer]:
    """The Dataframer API simulator over real HTTP on a free port."""
    with SimulatorServer(api_key=API_KEY, seed=7) as server:
        yield server


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    """A webhook sink behind an apprise json:// URL, accepting every alert."""
    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server (aiosmtpd) behind an apprise mailto:// URL."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a watcher.yaml into tmp_path from keyword sections; returns its path."""

    def write(name: str = "watcher.yaml", **sections: Any) -> Path:
        sections.setdefault("state", {"path": str(tmp_path / "state" / "watcher.db")})
        sections.setdefault("health", {"enabled": False})
        sections.setdefault("log", {"format": "json", "level": "info"})
        path = tmp_path / name
        path.write_text(yaml.safe_dump(sections, sort_keys=False))
        return path

    return write


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """Start `dataframer-watcher run` subprocesses; any still running at the end are killed."""
    started: list[DaemonProcess] = []

    def start(config: Path, *, api_key: str = API_KEY, **env: str) -> DaemonProcess:
        log_path = tmp_path / f"daemon-{len(started)}.log"
        daemon = DaemonProcess(
            config, env=clean_env(DATAFRAMER_API_KEY=api_key, **env), log_path=log_path
        )
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()

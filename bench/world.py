"""The world the benchmarks measure against: a simulator full of runs and a config.

The alerts go to `watcher.simulator.WebhookSink`, the sink the demo and the tests use.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watcher import logs
from watcher.config import Settings, load_settings
from watcher.simulator import SimulatorServer

API_KEY = "bench-key-0123456789"
LIST_ROUTE = "GET /api/dataframer/runs/"
DETAIL_ROUTE = "GET /api/dataframer/runs/{id}/"
# The mix of finished runs a busy company accumulates; pinned in turn, so it is exact.
_FINISHED_MIX = ("SUCCEEDED",) * 17 + ("FAILED",) * 2 + ("CANCELED",)
# How the changing runs of a steady-state tick move: most finish, a few start processing.
_FINISHES = ("SUCCEEDED", "SUCCEEDED", "FAILED", "SUCCEEDED", "CANCELED")


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is and how often it repeats."""

    runs: int  # runs in the list response
    active: int  # of which PENDING or PROCESSING
    changes: int  # active runs changing status in a steady-state tick
    deliveries: int
    channels: int  # delivery concurrency needs this many channels (one queue per channel)
    reps: int  # repetitions of the fast benchmarks
    slow_reps: int  # repetitions of those that take a second or more

    @classmethod
    def full(cls) -> Sizes:
        """The sizes `make bench` reports."""
        return cls(
            runs=10_000, active=100, changes=20, deliveries=200, channels=4, reps=9, slow_reps=5
        )

    @classmethod
    def quick(cls) -> Sizes:
        """Small sizes for a smoke run (`--quick`, the test suite)."""
        return cls(runs=500, active=20, changes=5, deliveries=20, channels=4, reps=3, slow_reps=2)


class _Discard(io.StringIO):
    """A text stream that drops what it is given."""

    def write(self, text: str) -> int:
        return len(text)


def quiet_logs() -> None:
    """Log as the daemon does (JSON, info) into nowhere: the cost of logging, not its noise."""
    logs.configure(level="info", fmt="json", stream=_Discard())


def populate(server: SimulatorServer, sizes: Sizes) -> list[str]:
    """Fill the simulator with finished runs and `sizes.active` active ones; the active ids."""
    sim = server.sim
    sim.create_runs(
        sizes.runs - sizes.active,
        status=list(_FINISHED_MIX),
        created_ago_seconds=(3_600.0, 30 * 86_400.0),
    )
    active = sim.create_runs(
        sizes.active,
        status=["PROCESSING", "PROCESSING", "PENDING"],
        created_ago_seconds=(0.0, 3_600.0),
    )
    return [run.id for run in active]


@dataclass(frozen=True)
class Change:
    """What `change` did: the statuses to restore, and how many runs it finished."""

    restore: dict[str, str]
    finished: int


def change(server: SimulatorServer, active: Sequence[str], count: int) -> Change:
    """Move `count` active runs on: PROCESSING ones finish, PENDING ones start processing."""
    sim = server.sim
    before: dict[str, str] = {}
    finished = 0
    for index, run_id in enumerate(active[:count]):
        status = sim.status(run_id)
        before[run_id] = status
        if status == "PROCESSING":
            sim.force_status(run_id, _FINISHES[index % len(_FINISHES)])
            finished += 1
        else:
            sim.force_status(run_id, "PROCESSING")
    return Change(restore=before, finished=finished)


def restore(server: SimulatorServer, change: Change) -> None:
    """Put runs back to the statuses `change` found them in."""
    for run_id, status in change.restore.items():
        server.sim.force_status(run_id, status)


def write_config(
    directory: Path, base_url: str, *, channels: dict[str, str] | None = None, **extra: Any
) -> Path:
    """A watcher.yaml for discovery mode against `base_url`, state inside `directory`."""
    config: dict[str, Any] = {
        "dataframer": {"base_url": base_url},
        "state": {"path": str(directory / "watcher.db")},
        "track": {"all": True},
        "channels": channels or {"team": "json://127.0.0.1:9/hook"},
        "health": {"enabled": False},
        "log": {"format": "json", "level": "info"},
        **extra,
    }
    path = directory / "watcher.yaml"
    # JSON is YAML: no need to pull in a YAML writer for this.
    path.write_text(json.dumps(config, indent=2))
    return path


def settings_for(config: Path) -> Settings:
    """Settings from that file alone: the developer's environment must not change the numbers."""
    return load_settings(config, environ={"DATAFRAMER_API_KEY": API_KEY})

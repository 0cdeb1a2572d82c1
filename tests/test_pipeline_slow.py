"""Slow runs through the real pipeline: a hand-written API whose samples the test moves, a
clock moved by hand, a real Store in tmp_path and the policy from a real config."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.support.fakeapi import api_run, settings_for
from watcher.api import DataframerClient
from watcher.cli.views import status_data
from watcher.config import Settings
from watcher.pipeline import Pipeline
from watcher.service.runtime import tick_policy
from watcher.state import Store

T0 = datetime(2026, 11, 1, tzinfo=UTC)
ROUTES = (
    "channels:\n  team: json://127.0.0.1:9/\n  other: json://127.0.0.1:9/x\n"
    "routes:\n  - statuses: [SLOW]\n    flags: [slow]\n    channels: [team]\n"
    "  - channels: [other]\n"
)


class World:
    """Runs the test moves by hand, read by the watcher through its real client."""

    def __init__(self, tmp_path: Path, body: str) -> None:
        ids = ["H1", "H2", "H3", "SLOW1", "FAST1"]
        self.settings: Settings = settings_for(tmp_path, body)
        self.runs: dict[str, dict[str, Any]] = {
            run_id: api_run(
                run_id, "PROCESSING", samples_completed=0, runtime_params={"number_of_samples": 400}
            )
            for run_id in ids
        }
        self.now = T0
        self.store = Store.open(self.settings.state.path)
        self.store.track(ids, T0)  # what Runtime.open does with track.runs

    def handler(self, request: httpx.Request) -> httpx.Response:
        run_id = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if run_id in self.runs:
            return httpx.Response(200, json=self.runs[run_id])
        return httpx.Response(200, json=list(self.runs.values()))

    def tick(self, minutes: float, **samples: int) -> None:
        self.now += timedelta(minutes=minutes)
        for run_id, done in samples.items():
            self.runs[run_id]["samples_completed"] = done

        async def one() -> None:
            transport = httpx.MockTransport(self.handler)
            async with DataframerClient("http://api.test", "key-123456", transport=transport) as c:
                await Pipeline(
                    tick_policy(self.settings), self.store, c, clock=lambda: self.now
                ).tick()

        asyncio.run(one())

    def finish(self, *run_ids: str) -> None:
        for run_id in run_ids:
            self.runs[run_id]["status"] = "SUCCEEDED"

    def deliveries(self) -> list[tuple[str, str, str]]:
        return self.store._db.execute(
            "SELECT channel, title, body FROM deliveries ORDER BY id"
        ).fetchall()

    def slow_events(self) -> list[str]:
        rows = self.store._db.execute("SELECT run_id FROM events WHERE kind = 'slow'")
        return [row[0] for row in rows]


def history(world: World) -> None:
    """Three earlier runs of the spec at 100 samples/min, then finished."""
    world.tick(0)
    world.tick(1, H1=100, H2=100, H3=100, SLOW1=10, FAST1=100)
    world.finish("H1", "H2", "H3")
    world.tick(1, SLOW1=20, FAST1=200)


def test_a_slow_run_gets_one_slow_alert_with_the_comparison(tmp_path: Path) -> None:
    """10 samples/min against a median of 100: one SLOW alert, routed by `flags: [slow]`,
    saying so; the fast run gets none, and the slow one never gets a second."""
    world = World(tmp_path, f"alerts:\n  slow_below: 0.5\n{ROUTES}")
    history(world)
    assert world.slow_events() == []  # the history was only just recorded this tick
    world.tick(1, SLOW1=30, FAST1=300)
    assert world.slow_events() == ["SLOW1"]
    slow = [d for d in world.deliveries() if "SLOW" in d[1]]
    assert [d[0] for d in slow] == ["team"]
    assert slow[0][1] == "🐢 Dataframer run SLOW: invoice-extraction v3"  # no "(slow)" twice
    assert "10 samples/min, a tenth of this spec's median 100/min over 3 runs" in slow[0][2]
    world.tick(1, SLOW1=40, FAST1=400)
    etas = {r["run_id"]: r["eta"] for r in status_data(world.settings)["runs"]}
    # `status --json`: 360 left at 10/min, 0 left at 100/min; finished runs have none.
    assert datetime.fromisoformat(etas["SLOW1"]) > datetime.fromisoformat(etas["FAST1"])
    assert etas["H1"] is None
    world.store.close()
    world.store = Store.open(world.settings.state.path)  # a restart remembers it was told
    world.tick(1, SLOW1=50)
    assert world.slow_events() == ["SLOW1"]


def test_without_slow_below_no_run_is_slow(tmp_path: Path) -> None:
    """The same runs without `alerts.slow_below`: no SLOW alert at all."""
    world = World(tmp_path, ROUTES)
    history(world)
    world.tick(1, SLOW1=30, FAST1=300)
    assert world.slow_events() == []
    assert not [d for d in world.deliveries() if "SLOW" in d[1]]

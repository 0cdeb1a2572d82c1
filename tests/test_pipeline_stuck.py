"""Stuck runs through the real pipeline: the simulator in-process on a clock the test moves,
a real Store in tmp_path, the policy built from a real config by `tick_policy`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from watcher.api import DataframerClient
from watcher.cli.views import history_data, history_text
from watcher.config import Settings, load_settings
from watcher.events import EventKind, Snapshot
from watcher.pipeline import Pipeline, TickSummary
from watcher.service.runtime import tick_policy
from watcher.simulator import ManualClock, Simulator, mock_transport
from watcher.state import Store

KEY = "sim-key-0123456789"
DETAIL = "GET /api/dataframer/runs/{id}/"
LIST = "GET /api/dataframer/runs/"
STUCK_30S = "alerts:\n  stuck:\n    pending_after: 30s\n    no_progress_after: 60s\n"
CHANNELS = "channels:\n  team: json://127.0.0.1:9/\n"


def settings_for(tmp_path: Path, body: str) -> Settings:
    """Settings from a YAML body, the state file in tmp_path."""
    config = tmp_path / "watcher.yaml"
    config.write_text(f"state:\n  path: {tmp_path / 'w.db'}\n{CHANNELS}{body}")
    return load_settings(config, environ={"DATAFRAMER_API_KEY": KEY})


class MovesOnDetailRead(httpx.AsyncBaseTransport):
    """The simulator, except that a run's detail read first runs `move` (the run moving
    between the list and the detail read: the list lagged)."""

    def __init__(self, sim: Simulator, run_id: str, move: Callable[[], None]) -> None:
        self._inner = mock_transport(sim)
        self._path = f"/api/dataframer/runs/{run_id}/"
        self._move: Callable[[], None] | None = move

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == self._path and self._move is not None:
            move, self._move = self._move, None
            move()
        return await self._inner.handle_async_request(request)


class World:
    """The simulator and a watcher pipeline on the same hand-moved clock."""

    def __init__(self, tmp_path: Path, body: str) -> None:
        self.clock = ManualClock()
        self.sim = Simulator(api_key=KEY, clock=self.clock, seed=3)
        self.settings = settings_for(tmp_path, body)
        self.transport: httpx.AsyncBaseTransport = mock_transport(self.sim)
        self.store = Store.open(self.settings.state.path)

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def restart(self) -> None:
        """A new watcher process on the same state file."""
        self.store.close()
        self.store = Store.open(self.settings.state.path)

    def tick(self, after: float = 0.0) -> TickSummary:
        """Move the clock by `after` seconds, then run one tick with a fresh pipeline."""
        self.clock.advance(after)

        async def one() -> TickSummary:
            async with DataframerClient("http://sim.test", KEY, transport=self.transport) as client:
                pipeline = Pipeline(tick_policy(self.settings), self.store, client, clock=self.now)
                return await pipeline.tick()

        return asyncio.run(one())

    def events(self, kind: EventKind = EventKind.STUCK) -> list[Any]:
        return self.store._db.execute(
            "SELECT run_id, from_status, to_status, at, alert FROM events WHERE kind = ?"
            " ORDER BY id",
            (str(kind),),
        ).fetchall()

    def snapshot(self, run_id: str) -> Snapshot:
        return self.store.snapshots()[run_id]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Callable[[str], World]]:
    made: list[World] = []

    def make(body: str) -> World:
        made.append(World(tmp_path, body))
        return made[-1]

    yield make
    for w in made:
        w.store.close()


def test_a_run_pending_past_pending_after_gets_one_stuck_alert_after_a_detail_read(
    world: Callable[[str], World],
) -> None:
    """Discovery: the list shows it still for 30 s; one detail read confirms; one alert."""
    w = world("track:\n  all: true\n" + STUCK_30S)
    run = w.sim.add_run(status="PENDING")
    w.tick()  # the silent baseline
    assert w.tick(after=29).stuck == 0
    assert w.sim.stats.count(DETAIL) == 0
    with capture_logs() as logs:
        summary = w.tick(after=1)
    assert (summary.stuck, summary.alerts, summary.transitions) == (1, 1, {})
    assert (w.sim.stats.count(LIST), w.sim.stats.count(DETAIL)) == (3, 1)
    assert [tuple(r)[:3] for r in w.events()] == [(run.id, "PENDING", "PENDING")]
    (line,) = [entry for entry in logs if entry["event"] == "run_stuck"]
    assert (line["run_id"], line["stuck_for"], line["reminder"]) == (run.id, 30.0, False)
    snapshot = w.snapshot(run.id)
    assert snapshot.stuck
    assert snapshot.stuck_since == snapshot.progress_at
    for _ in range(5):
        assert w.tick(after=30).stuck == 0
    assert w.sim.stats.count(DETAIL) == 1  # no check at all once reported
    lines = history_text(history_data(w.settings, run.id, limit=10), run.id).splitlines()
    (line,) = [entry for entry in lines if "  run " in entry]
    assert line.endswith(f"run {run.id}  STUCK in PENDING  [alert]")


@pytest.mark.parametrize("how", ["status", "samples"])
def test_a_run_the_detail_read_shows_moved_gets_no_alert(
    world: Callable[[str], World], how: str
) -> None:
    """The list shows it still past the threshold, the detail read shows it moved (a new
    status, or one more sample): no alert, and the next tick sees the move."""
    w = world("track:\n  all: true\n" + STUCK_30S)
    if how == "status":
        run = w.sim.add_run(status="PENDING")

        def move() -> None:
            w.sim.force_status(run.id, "PROCESSING")

        wait = 30.0
    else:  # 10 samples over 10,000 s of processing: one more every 1,000 s
        run = w.sim.add_run(
            outcome="SUCCEEDED", pending_seconds=0, processing_seconds=10_000, number_of_samples=10
        )

        def move() -> None:
            w.clock.advance(1_000)

        wait = 60.0
    w.tick()
    before = w.sim.get(run.id).detail(w.clock())["samples_completed"]
    w.transport = MovesOnDetailRead(w.sim, run.id, move)
    with capture_logs() as logs:
        assert w.tick(after=wait).stuck == 0
    assert w.sim.stats.count(DETAIL) == 1
    assert [e["run_id"] for e in logs if e["event"] == "stuck_check_moved"] == [run.id]
    assert w.events() == []
    assert not w.snapshot(run.id).stuck
    w.tick()  # the list now shows the move: the clock starts again from it
    after = w.snapshot(run.id)
    assert after.progress_at == w.now()
    assert (after.status, after.run and after.run.samples_completed) != ("PENDING", before)
    assert w.events() == []


def test_a_failed_detail_read_postpones_the_alert_without_failing_the_tick(
    world: Callable[[str], World],
) -> None:
    """A 503 on the re-read: no alert, a warning, the tick succeeds; the next tick alerts."""
    w = world("track:\n  all: true\n" + STUCK_30S)
    run = w.sim.add_run(status="PENDING")
    w.tick()
    w.sim.faults.add([{"kind": "status", "status": 503, "path": f"/api/dataframer/runs/{run.id}/"}])
    with capture_logs() as logs:
        summary = w.tick(after=40)
    assert summary.stuck == 0
    assert [e["run_id"] for e in logs if e["event"] == "stuck_check_failed"] == [run.id]
    assert w.events() == []
    assert not w.snapshot(run.id).stuck
    assert w.tick(after=1).stuck == 1
    assert len(w.events()) == 1


def test_an_explicit_run_is_not_read_twice_in_one_tick(world: Callable[[str], World]) -> None:
    """Tracked by id, a run is read in detail each tick: that read is the confirmation."""
    w = world(STUCK_30S)
    run = w.sim.add_run(status="PENDING")
    w.store.track([run.id], w.now())
    w.tick()
    assert w.tick(after=31).stuck == 1
    assert (w.sim.stats.count(LIST), w.sim.stats.count(DETAIL)) == (0, 2)  # one per tick


def test_reminders_every_repeat_and_the_final_alert_says_how_long(
    world: Callable[[str], World],
) -> None:
    """repeat 60s: alert at 30 s, reminders at 90 s and 150 s; FAILED at 170 s says 170 s."""
    w = world("track:\n  all: true\nalerts:\n  stuck:\n    pending_after: 30s\n    repeat: 60s\n")
    run = w.sim.add_run(status="PENDING")
    w.tick()
    with capture_logs() as logs:
        for _ in range(16):
            w.tick(after=10)
        w.sim.force_status(run.id, "FAILED")
        final = w.tick(after=10)
    told = [(e["stuck_for"], e["reminder"]) for e in logs if e["event"] == "run_stuck"]
    assert told == [(30.0, False), (90.0, True), (150.0, True)]
    assert final.transitions == {"FAILED": 1}
    (finished,) = [e for e in logs if e["event"] == "run_finished"]
    assert (finished["run_id"], finished["stuck_for"]) == (run.id, 170.0)
    assert not w.snapshot(run.id).stuck


def test_a_restart_mid_episode_sends_no_second_alert_and_keeps_the_reminder_clock(
    world: Callable[[str], World],
) -> None:
    """The stall is in the state file: after a restart, no new alert; the reminder comes
    `repeat` after the last word, not earlier, and the final alert still says it."""
    w = world("track:\n  all: true\nalerts:\n  stuck:\n    pending_after: 30s\n    repeat: 5m\n")
    run = w.sim.add_run(status="PENDING")
    w.tick()
    assert w.tick(after=30).stuck == 1
    w.restart()
    assert w.snapshot(run.id).stuck
    assert [w.tick(after=60).stuck for _ in range(4)] == [0, 0, 0, 0]
    w.restart()
    assert w.tick(after=60).stuck == 1  # 5 min after the alert: the reminder
    w.restart()
    w.sim.force_status(run.id, "PROCESSING")
    w.tick(after=10)  # moved: the stall ended at 340 s
    w.restart()
    w.sim.force_status(run.id, "SUCCEEDED")
    with capture_logs() as logs:
        w.tick(after=100)
    (finished,) = [e for e in logs if e["event"] == "run_finished"]
    assert finished["stuck_for"] == 340.0
    assert len(w.events()) == 2


def test_without_alerts_stuck_nothing_changes(world: Callable[[str], World]) -> None:
    """No `alerts.stuck`: one list request per tick, never a detail read, never a STUCK."""
    w = world("track:\n  all: true\n")
    run = w.sim.add_run(status="PENDING")
    w.tick()
    for _ in range(5):
        assert w.tick(after=3600).stuck == 0
    assert (w.sim.stats.count(LIST), w.sim.stats.count(DETAIL)) == (6, 0)
    assert w.events() == []
    w.sim.force_status(run.id, "SUCCEEDED")
    with capture_logs() as logs:
        w.tick(after=1)
    (finished,) = [e for e in logs if e["event"] == "run_finished"]
    assert "stuck_for" not in finished


def test_a_stuck_alert_is_queued_for_the_channels_its_routes_give_it(
    world: Callable[[str], World],
) -> None:
    """Through route and render to the outbox: a delivery per channel routing STUCK."""
    w = world(
        "track:\n  all: true\n" + STUCK_30S + "routes:\n  - statuses: [STUCK, FAILED]\n"
        "    channels: [team]\n"
    )
    w.sim.add_run(status="PENDING")
    w.tick()
    with capture_logs() as logs:
        w.tick(after=30)
    (line,) = [e for e in logs if e["event"] == "run_stuck"]
    assert line["channels"] == ["team"]
    rows = w.store._db.execute("SELECT channel FROM deliveries").fetchall()
    assert [tuple(r) for r in rows] == [("team",)]

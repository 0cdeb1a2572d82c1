"""The daemon's own logic, in-process on a real runtime: the backoff reschedules the poll job,
a stop lets the tick under way finish and record, and a tick that keeps conflicting with
`track` is a failed tick, not a state file that cannot be written.

The API is the simulator, answered in-process; times are checked against brackets taken
around the event (never against a wall-clock budget), and every wait is bounded."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from tests.support import API_KEY, state_deliveries
from watcher.config import Settings
from watcher.deliver.policy import poll_delay
from watcher.service.daemon import Daemon
from watcher.service.metrics import PREFIX
from watcher.service.sdnotify import Notifier
from watcher.simulator import Simulator, mock_transport
from watcher.state import Store

DETAIL = re.compile(r"^/api/dataframer/runs/[^/]+/$")
NOBODY = "json://127.0.0.1:9/hook"  # a channel nothing listens on: no test here sends


def _settings(tmp_path: Path, **sections: object) -> Settings:
    sections.setdefault("health", {"enabled": False})
    return Settings(
        dataframer={"base_url": "http://sim.test", "api_key": API_KEY},
        state={"path": str(tmp_path / "watcher.db")},
        **sections,
    )


class HookedApi:
    """The simulator in-process, with a hook the test sets to run during each request, and a
    gate that holds detail reads while it is closed."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = mock_transport(sim)
        self.during_request: Callable[[], None] | None = None
        self.gate = asyncio.Event()
        self.gate.set()
        self.held = asyncio.Event()  # a detail read is waiting at the closed gate

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if self.during_request is not None:
            self.during_request()
        if DETAIL.match(request.url.path) and not self.gate.is_set():
            self.held.set()
            await self.gate.wait()
        return self._sim.handle_request(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


@asynccontextmanager
async def running(settings: Settings, api: HookedApi) -> AsyncIterator[Daemon]:
    """A daemon running in a task; stopped (and its exit code checked) on leaving."""
    notifier = Notifier(None)
    transport = api.transport()
    async with Daemon.open(settings, config_path=None, notifier=notifier, transport=transport) as d:
        task = asyncio.create_task(d.run())
        try:
            await until(lambda: d.scheduler.get_job("poll") is not None or task.done())
            yield d
        finally:
            d.stop()
            async with asyncio.timeout(30):
                assert await task == 0


async def until(condition: Callable[[], bool], *, what: str = "the condition") -> None:
    """Wait (at most 30 s: a bound, not a budget) until `condition()` holds."""
    async with asyncio.timeout(30):
        while not condition():
            await asyncio.sleep(0.01)


def _now() -> datetime:
    return datetime.now(UTC)


async def test_a_failing_poll_backs_off_by_rescheduling_the_poll_job(tmp_path: Path) -> None:
    """Each failed tick moves the poll job to its backoff (30 s, 60 s, 120 s from the tick's
    end), where the interval trigger alone would say 30 s from its start; the first good tick
    leaves the job on its interval again."""
    sim = Simulator(api_key=API_KEY)
    sim.faults.add([{"kind": "status", "status": 503, "always": True}])
    settings = _settings(tmp_path, poll={"interval": "30s"}, track={"all": True})
    api = HookedApi(sim)
    with capture_logs() as logs:
        async with running(settings, api) as daemon:
            assert daemon.failures == 1
            job = daemon.scheduler.get_job("poll")
            assert job is not None
            for failures in (2, 3):
                before = _now()
                daemon.scheduler.modify_job("poll", next_run_time=before)  # poll now
                await until(lambda n=failures: daemon.failures == n)
                after = _now()
                delay = timedelta(seconds=poll_delay(30, failures))
                next_run = daemon.scheduler.get_job("poll").next_run_time
                assert before + delay <= next_run <= after + delay

            sim.faults.clear()
            before = _now()
            daemon.scheduler.modify_job("poll", next_run_time=before)
            await until(lambda: daemon.failures == 0)
            after = _now()
            next_run = daemon.scheduler.get_job("poll").next_run_time
            assert before + timedelta(seconds=30) <= next_run <= after + timedelta(seconds=30)
    backoffs = [line["seconds"] for line in logs if line["event"] == "poll_backoff"]
    assert backoffs == [poll_delay(30, n) for n in (1, 2, 3)] == [30, 60, 120]
    assert any(line["event"] == "poll_recovered" for line in logs)


async def test_a_stop_lets_the_tick_under_way_finish_and_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A stop while a tick waits on the API: the daemon waits for that tick, which records its
    alert (left pending for the next start: no send starts after a stop), then stops with
    exit 0; APScheduler cancels nothing on the way out."""
    sim = Simulator(api_key=API_KEY)
    (run,) = sim.create_runs(status="PROCESSING")
    settings = _settings(
        tmp_path, poll={"interval": "100ms"}, track={"all": True}, channels={"hook": NOBODY}
    )
    api = HookedApi(sim)
    caplog.set_level(logging.WARNING, logger="apscheduler")
    with capture_logs() as logs:
        async with Daemon.open(
            settings, config_path=None, notifier=Notifier(None), transport=api.transport()
        ) as daemon:
            task = asyncio.create_task(daemon.run())
            await until(lambda: daemon.monitor.last_tick is not None)  # the silent baseline
            api.gate.clear()
            sim.force_status(run.id, "FAILED")
            async with asyncio.timeout(30):
                await api.held.wait()  # the tick that saw it finish reads its detail
            daemon.stop()
            for _ in range(100):
                await asyncio.sleep(0)
            assert not task.done(), "the daemon stopped before the tick under way ended"
            api.gate.set()
            async with asyncio.timeout(30):
                assert await task == 0
    events = [line["event"] for line in logs]
    assert "tick" in events[events.index("stopping") :], "the tick under way did not finish"
    assert events[-1] == "stopped"
    (delivery,) = state_deliveries(settings.state.path)
    assert (delivery["run_ids"], delivery["status"]) == ([run.id], "pending")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("apscheduler")] == []


async def test_a_tick_that_keeps_conflicting_is_a_failed_tick_not_a_state_file_error(
    tmp_path: Path,
) -> None:
    """`untrack X; track X` lands during every request of the first tick, and its redos: the
    tick fails, but /readyz does not blame the state file (the bug: a StateConflict counted
    as a state-file error). Once the tracking stops, the next poll records the one alert."""
    sim = Simulator(api_key=API_KEY)
    (run,) = sim.create_runs(status="SUCCEEDED")
    settings = _settings(
        tmp_path, poll={"interval": "100ms"}, track={"runs": [run.id]}, channels={"hook": NOBODY}
    )
    api = HookedApi(sim)
    with Store.open(settings.state.path) as cli:

        def retrack() -> None:
            cli.untrack([run.id], datetime.now(UTC))
            cli.track([run.id], datetime.now(UTC))

        api.during_request = retrack
        async with running(settings, api) as daemon:
            assert daemon.failures == 1
            verdict = daemon.monitor.readiness()
            assert not verdict.ok
            assert "state file" not in verdict.reason
            assert "track or untrack kept landing during the tick" in verdict.reason
            assert daemon.monitor.vitals.state_error is None
            failed = {"outcome": "failed"}
            sample = daemon.monitor.metrics.registry.get_sample_value
            assert sample(PREFIX + "ticks_total", failed) == 1

            api.during_request = None
            await until(lambda: daemon.failures == 0)
            assert daemon.monitor.readiness().ok
    (delivery,) = state_deliveries(settings.state.path)
    assert delivery["run_ids"] == [run.id]

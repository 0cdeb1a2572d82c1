"""`wait`'s poll loop in-process: the simulator answers over an httpx transport, the clock is
moved by the sleeps the loop asks for, so backoff and deadlines are checked exactly."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Self

import pytest
from click.testing import CliRunner

from watcher.api import DataframerClient
from watcher.cli import main
from watcher.cli.waiting import WaitResult, wait_for_jobs
from watcher.simulator import Simulator
from watcher.simulator.app import mock_transport
from watcher.wait import Exit, Job, Watch

DETAIL = "GET /api/dataframer/runs/{id}/"


class Recorder:
    """A display that keeps what it was told."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.changes: list[tuple[str, str | None]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def update(self, state: Watch, *, changed: bool) -> None:
        if changed and state.job is not None:
            self.changes.append((state.ref, state.job.status))

    def note(self, line: str) -> None:
        self.notes.append(line)


class Time:
    """A monotonic clock that moves only when the loop sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def run_wait(
    sim: Simulator,
    refs: list[str],
    *,
    interval: float = 1.0,
    give_up_after: float | None = None,
    display: Recorder | None = None,
    clock: Time | None = None,
) -> WaitResult:
    time = clock or Time()
    async with DataframerClient("http://sim", "k", transport=mock_transport(sim)) as client:
        return await wait_for_jobs(
            client,
            refs,
            display or Recorder(),
            interval=interval,
            give_up_after=give_up_after,
            clock=time,
            sleep=time.sleep,
        )


async def test_failed_polls_back_off_doubling_then_return_to_the_interval() -> None:
    """Three 503s: waits of 1, 2 and 4 intervals, each said; then the interval again."""
    sim = Simulator(api_key="k")
    (run,) = sim.create_runs(1, status="PROCESSING")
    sim.faults.add([{"kind": "status", "status": 503, "count": 3}])
    display, clock = Recorder(), Time()
    result = await run_wait(sim, [run.id], give_up_after=8.5, display=display, clock=clock)
    assert result.code is Exit.TIMEOUT  # still PROCESSING at the deadline, API fine by then
    assert clock.sleeps == [1.0, 2.0, 4.0, 1.0, 0.5]  # the last one stops at the deadline
    assert display.notes == [
        "API unreachable (HTTP 503), retrying in 1s",
        "API unreachable (HTTP 503), retrying in 2s",
        "API unreachable (HTTP 503), retrying in 4s",
    ]


async def test_retry_after_is_honoured() -> None:
    """A 429 with Retry-After: 7 waits 7 s, not one interval."""
    sim = Simulator(api_key="k")
    (run,) = sim.create_runs(1, status="SUCCEEDED")
    sim.faults.add([{"kind": "rate_limit", "retry_after": 7}])
    clock = Time()
    result = await run_wait(sim, [run.id], clock=clock)
    assert result.code is Exit.SUCCEEDED
    assert clock.sleeps == [7.0]


async def test_the_api_down_at_the_deadline_is_5() -> None:
    """Failing until the timeout: could not watch, after a last poll at the deadline."""
    sim = Simulator(api_key="k")
    (run,) = sim.create_runs(1, status="PROCESSING")
    sim.faults.add([{"kind": "drop", "always": True}])
    clock = Time()
    result = await run_wait(sim, [run.id], give_up_after=2.0, clock=clock)
    assert result.code is Exit.CANNOT_WATCH
    assert clock.sleeps == [1.0, 1.0]
    assert sim.stats.count(DETAIL) == 3


async def test_a_finished_run_is_not_read_again() -> None:
    """Once a run ended, only the others are polled."""
    sim = Simulator(api_key="k")
    done, going = sim.create_runs(status=["SUCCEEDED", "PROCESSING"])
    clock = Time()
    display = Recorder()
    result = await run_wait(
        sim, [done.id, going.id], give_up_after=3.0, clock=clock, display=display
    )
    assert result.code is Exit.TIMEOUT
    assert sim.stats.count(DETAIL) == 1 + 4  # the finished run once, the other every second
    assert display.changes == [(done.id, "SUCCEEDED"), (going.id, "PROCESSING")]


async def test_a_bug_in_a_read_is_not_taken_for_an_outage() -> None:
    """An exception that is not the API's propagates instead of being retried forever."""

    async def broken(client: DataframerClient, ref: str) -> Job:
        raise RuntimeError("a bug")

    async with DataframerClient("http://sim", "k", transport=mock_transport(Simulator())) as c:
        with pytest.raises(RuntimeError, match="a bug"):
            await wait_for_jobs(
                c, ["abc"], Recorder(), interval=1.0, give_up_after=None, read=broken
            )


def test_help_names_every_exit_code(tmp_path: Path) -> None:
    """`wait --help` is where a script's author looks up the codes."""
    result = CliRunner().invoke(main, ["wait", "--help"])
    assert result.exit_code == 0
    for line in ("0  every run SUCCEEDED", "1  at least one run FAILED", "3  at least one run"):
        assert line in result.output
    assert "4  --timeout passed" in result.output
    assert "5  could not watch" in result.output
    assert "retried forever" in result.output

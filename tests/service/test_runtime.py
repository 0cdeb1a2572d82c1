"""The runtime: one `async with` opens the state file, the API client and the sender inside the
running loop and closes them there, whatever failed; the parts report to the observer they are
given; a reload's settings reach the pipeline as a new frozen policy."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support import API_KEY, WebhookSink
from watcher.config import Settings
from watcher.errors import StateLocked
from watcher.service.health import Vitals
from watcher.service.metrics import PREFIX, Metrics
from watcher.service.runtime import Runtime, open_sender, retry_policy, tick_policy
from watcher.simulator import Simulator, mock_transport
from watcher.state import Store
from watcher.stuck import StuckRules

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _settings(tmp_path: Path, **sections: object) -> Settings:
    return Settings(
        dataframer={"base_url": "http://sim.test", "api_key": API_KEY},
        state={"path": str(tmp_path / "watcher.db")},
        **sections,
    )


def _open_fds(*paths: Path) -> list[str]:
    """This process's file descriptors open on any of `paths` (from /proc)."""
    wanted = {str(path) for path in paths}
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue  # closed while we looked (the listing's own descriptor)
        if target in wanted:
            found.append(target)
    return found


needs_proc = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="reads open descriptors from /proc"
)


@needs_proc
async def test_leaving_the_block_closes_every_part_even_on_an_error(tmp_path: Path) -> None:
    """An error inside the block still closes the API client, stops the sender's threads and
    closes the state file, releasing the daemon lock for the next daemon."""
    settings = _settings(tmp_path)
    db = settings.state.path.absolute()
    opened: list[Runtime] = []

    async def fail_inside() -> None:
        transport = mock_transport(Simulator(api_key=API_KEY))
        async with Runtime.open(settings, transport=transport) as runtime:
            opened.append(runtime)
            assert _open_fds(db)  # the state file is open while the block runs
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_inside()
    (rt,) = opened
    assert _open_fds(db, db.with_name(db.name + ".lock")) == []
    with pytest.raises(RuntimeError, match="client has been closed"):
        await rt.client.list_runs()
    outcome = await rt.sender.send(["json://127.0.0.1:9/"], "title", "body")
    assert outcome.reason == "sender is closed"
    with Store.open(db) as next_daemon:
        next_daemon.acquire_daemon_lock()  # the lock was released


@needs_proc
async def test_a_step_failing_midway_leaves_nothing_open(tmp_path: Path) -> None:
    """Another daemon holds the lock: opening fails at the lock, after the state file was
    opened, and that file is closed again (once the other daemon is gone too, no descriptor
    is left on the file or its lock: SQLite defers closing one while another connection of
    the process holds a lock on the file)."""
    settings = _settings(tmp_path, track={"runs": ["run-1"]})
    db = settings.state.path.absolute()
    with Store.open(db) as other:
        other.acquire_daemon_lock()
        with pytest.raises(StateLocked):
            async with Runtime.open(settings):
                pytest.fail("the block ran without the lock")
    assert _open_fds(db, db.with_name(db.name + ".lock")) == []
    with Store.open(db) as store:
        assert "run-1" not in store.snapshots()  # nothing was written past the failed step


async def test_the_observer_hears_every_api_request_and_delivery_try(
    tmp_path: Path, webhook: WebhookSink
) -> None:
    """The metrics given to `open` count each API request (the key check included) and each
    acked delivery, with nothing wired after construction."""
    sim = Simulator(api_key=API_KEY)
    (run,) = sim.create_runs(status="FAILED")
    settings = _settings(tmp_path, track={"runs": [run.id]}, channels={"hook": webhook.url()})
    vitals = Vitals()
    metrics = Metrics(poll_age=vitals.poll_age, last_ok_wall=lambda: vitals.last_ok_wall)
    async with Runtime.open(settings, observer=metrics, transport=mock_transport(sim)) as rt:
        tick, drained = await rt.cycle()
        requests = rt.client.requests
    assert (tick.alerts, drained.sent) == (1, 1)
    sample: Callable[..., float | None] = metrics.registry.get_sample_value
    assert requests >= 1
    assert sample(PREFIX + "api_request_duration_seconds_count") == requests
    assert sample(PREFIX + "deliveries_total", {"channel": "hook", "outcome": "sent"}) == 1
    assert webhook.run_ids() == [run.id]


def test_the_policy_carries_alerts_stuck_in_seconds_and_none_without_it(tmp_path: Path) -> None:
    """`alerts.stuck` reaches the tick as StuckRules; without it the tick checks nothing."""
    assert tick_policy(_settings(tmp_path)).stuck is None
    stuck = {"pending_after": "30m", "repeat": "2h"}
    policy = tick_policy(_settings(tmp_path, alerts={"stuck": stuck}))
    assert policy.stuck == StuckRules(pending_after=1800.0, no_progress_after=None, repeat=7200.0)


async def test_apply_hands_the_pipeline_a_new_frozen_policy(tmp_path: Path) -> None:
    """`apply` is the one swap: a new frozen TickPolicy for the pipeline, the new channels and
    retry policy for the deliverer; the parts that were opened stay the same objects."""
    old = _settings(tmp_path, channels={"a": "json://127.0.0.1:9/a"})
    new = _settings(
        tmp_path,
        channels={"b": "json://127.0.0.1:9/b"},
        routes=[{"statuses": ["FAILED"], "channels": ["b"]}],
        track={"all": True},
        delivery={"max_runs_per_message": 3, "retry_initial": "2s"},
    )
    async with Runtime.open(old, transport=mock_transport(Simulator(api_key=API_KEY))) as rt:
        client, store, before = rt.client, rt.store, rt.pipeline.policy
        rt.apply(new)
        policy = rt.pipeline.policy
        assert rt.settings is new
        assert (rt.client, rt.store) == (client, store)
    assert before == tick_policy(old)
    assert policy == tick_policy(new)
    assert (policy.channels, policy.track_all, policy.max_runs_per_message) == (("b",), True, 3)
    assert [route.channels for route in policy.routes] == [["b"]]
    assert rt.deliverer.policy == retry_policy(new)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.track_all = False  # type: ignore[misc]


async def test_open_sender_stops_its_threads_on_leaving(tmp_path: Path) -> None:
    """test-notify's sender comes from the same place as the daemon's, and closes on exit."""
    settings = _settings(tmp_path, delivery={"concurrency": 2})
    with open_sender(settings, threads=5) as sender:
        pass
    outcome = await sender.send(["json://127.0.0.1:9/"], "title", "body")
    assert outcome.reason == "sender is closed"

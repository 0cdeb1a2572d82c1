"""SIGHUP: a broken config is rejected, the old one kept; a good one applies without a restart."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from tests.support import API_KEY, WebhookSink, wait_for
from watcher.config import Settings, load_settings
from watcher.logs import SCRUBBER, configure
from watcher.service.daemon import Daemon
from watcher.service.reload import apply_reload, in_force, restart_only_changes
from watcher.service.runtime import Runtime, retry_policy, tick_policy
from watcher.service.sdnotify import Notifier
from watcher.simulator import Simulator, SimulatorServer, mock_transport

NOBODY = "json://127.0.0.1:9/hook"  # a channel nothing listens on: nothing is sent here


def test_a_broken_config_is_rejected_and_the_old_one_kept(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """The daemon logs the one-line error and still alerts through the channel it had."""
    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        track={"all": True},
        channels={"hook": webhook.url()},
    )
    daemon = start_daemon(config)
    daemon.wait_event("started")
    good = config.read_text()
    config.write_text(good.replace("interval: 200ms", "interval: 5 fortnights"))
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_event("reload_rejected")

    run = simulator.sim.create_runs(
        outcomes=["FAILED"], pending_seconds=0.1, processing_seconds=0.2
    )[0]
    wait_for(lambda: webhook.run_ids() == [run.id], what="the alert through the old channel")
    rejected = next(e for e in daemon.events() if e["event"] == "reload_rejected")
    assert "poll.interval" in rejected["error"]
    assert str(config) in rejected["error"]
    assert daemon.count("reloaded") == 0
    assert daemon.terminate() == 0


def test_a_good_config_applies_channels_runs_and_interval(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """From a 1 h interval and channel A to 200 ms, channel B and a newly tracked run: the
    run's alert reaches B soon after SIGHUP, which only a rescheduled poll can do."""
    done = simulator.sim.create_runs(outcomes=["FAILED"], status="FAILED")[0]
    channel_b = WebhookSink().start()
    try:
        config = write_config(
            dataframer={"base_url": simulator.url},
            poll={"interval": "1h"},
            channels={"a": webhook.url()},
        )
        daemon = start_daemon(config)
        daemon.wait_event("started")
        ticks = daemon.count("tick")
        write_config(
            dataframer={"base_url": simulator.url, "timeout": "7s"},  # needs a restart
            poll={"interval": "200ms"},
            track={"runs": [done.id]},
            channels={"b": channel_b.url()},
        )
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_event("reloaded")
        wait_for(lambda: channel_b.run_ids() == [done.id], what="the alert through channel B")
        daemon.wait_event("tick", at_least=ticks + 3)  # the new interval keeps ticking

        reloaded = next(e for e in daemon.events() if e["event"] == "reloaded")
        assert reloaded["channels"] == ["b"]
        assert reloaded["interval"] == 0.2
        assert reloaded["runs_added"] == [done.id]
        partial = next(e for e in daemon.events() if e["event"] == "reload_partial")
        assert partial["not_applied"] == ["dataframer.timeout"]
        assert webhook.posts == []
        assert daemon.terminate() == 0
    finally:
        channel_b.stop()


async def test_apply_reload_in_process(tmp_path: Path, simulator: SimulatorServer) -> None:
    """What needs a restart keeps its old value; the log level and the scrubber follow."""
    old = Settings(
        dataframer={"base_url": simulator.url, "api_key": API_KEY},
        state={"path": str(tmp_path / "a.db")},
        log={"level": "info"},
    )
    new = Settings(
        dataframer={"base_url": simulator.url, "api_key": API_KEY, "timeout": "3s"},
        state={"path": str(tmp_path / "b.db"), "retention": "1d"},
        health={"listen": "127.0.0.1:9999"},
        delivery={"timeout": "5s", "retry_initial": "1s"},
        channels={"t": "json://user:reload-pass-4242@127.0.0.1:9/x"},
        log={"level": "debug"},
    )
    assert restart_only_changes(old, new) == [
        "dataframer.timeout",
        "state.path",
        "health.listen",
        "delivery.timeout",
    ]
    kept = in_force(old, new)
    assert kept.state.path == old.state.path
    assert kept.state.retention == 86_400
    assert kept.delivery.timeout == old.delivery.timeout
    assert kept.delivery.retry_initial == 1.0

    secrets = SCRUBBER.secrets
    root = logging.getLogger()
    handlers, level, structlog_config = root.handlers[:], root.level, structlog.get_config()
    try:
        async with Runtime.open(old) as runtime:
            configure(level="info", fmt="json")
            result = apply_reload(runtime, new)
            assert root.level == logging.DEBUG
            assert "reload-pass-4242" in SCRUBBER.secrets
            assert API_KEY in SCRUBBER.secrets  # the key still in use stays scrubbed
            assert runtime.settings is result.settings
            assert runtime.pipeline.policy == tick_policy(result.settings)
            assert result.not_applied == tuple(restart_only_changes(old, new))
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        SCRUBBER.update(secrets)
        structlog.configure(**structlog_config)


def _values(settings: Settings) -> dict[str, object]:
    """Every single value of every section, by dotted name."""
    sections = ("dataframer", "poll", "state", "track", "delivery", "health", "log")
    return {
        f"{section}.{name}": getattr(getattr(settings, section), name)
        for section in sections
        for name in type(getattr(settings, section)).model_fields
    }


def test_one_table_decides_both_what_is_named_and_what_is_kept(tmp_path: Path) -> None:
    """Whatever changes, the values `in_force` keeps from the old settings are exactly the ones
    `restart_only_changes` names, and every other change applies."""
    old = Settings(
        dataframer={"base_url": "http://a.example.com", "api_key": API_KEY},
        state={"path": str(tmp_path / "a.db")},
    )
    new = Settings(
        dataframer={
            "base_url": "http://b.example.com",
            "api_key": API_KEY,
            "timeout": "3s",
            "max_concurrency": 2,
        },
        poll={"interval": "5s"},
        state={"path": str(tmp_path / "b.db"), "retention": "1d"},
        track={"all": True},
        delivery={"timeout": "5s", "concurrency": 9, "retry_initial": "1s", "horizon": "2h"},
        health={"enabled": False, "listen": "127.0.0.1:9999"},
        log={"level": "debug"},
    )
    before, wanted, kept = _values(old), _values(new), _values(in_force(old, new))
    changed = {name for name in before if before[name] != wanted[name]}
    held = {name for name in changed if kept[name] == before[name]}
    assert held == set(restart_only_changes(old, new))
    assert held == {
        "dataframer.base_url",
        "dataframer.timeout",
        "dataframer.max_concurrency",
        "state.path",
        "health.enabled",
        "health.listen",
        "delivery.timeout",
        "delivery.concurrency",
    }
    assert all(kept[name] == wanted[name] for name in changed - held)
    assert changed - held == {
        "poll.interval",
        "state.retention",
        "track.all",
        "delivery.retry_initial",
        "delivery.horizon",
        "log.level",
    }


@pytest.fixture
def no_watcher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload reads the process environment: keep the developer's out of it."""
    import os

    for name in list(os.environ):
        if name.startswith(("WATCHER_", "DATAFRAMER_")) or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("no_watcher_env")
async def test_a_reload_applies_what_can_change_and_keeps_what_needs_a_restart(
    tmp_path: Path, write_config
) -> None:
    """In-process, from a 1 h interval and channel `a` to 30 s, channel `b`, a route, discovery,
    grouping, a retry setting and a new run, plus two changes that need a restart: the
    pipeline gets the new frozen policy, the deliverer its channels and retry policy, the
    poll comes within one new interval, the run is tracked; the restart-only values and the
    open API client stay."""
    sim = Simulator(api_key=API_KEY)
    (run,) = sim.create_runs(status="PROCESSING")
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY)
    api = {"base_url": "http://sim.test", "api_key_file": str(key_file)}
    config = write_config(dataframer=api, poll={"interval": "1h"}, channels={"a": NOBODY})
    settings = load_settings(config)
    notifier = Notifier(None)
    transport = mock_transport(sim)
    with capture_logs() as logs:
        async with Daemon.open(
            settings, config_path=config, notifier=notifier, transport=transport
        ) as daemon:
            task = asyncio.create_task(daemon.run())
            try:
                async with asyncio.timeout(30):
                    while daemon.scheduler.get_job("poll") is None:
                        await asyncio.sleep(0.01)
                client = daemon.rt.client
                write_config(
                    dataframer={**api, "timeout": "3s"},  # needs a restart
                    poll={"interval": "30s"},
                    track={"all": True, "runs": [run.id]},
                    channels={"b": NOBODY},
                    routes=[{"statuses": ["FAILED"], "channels": ["b"]}],
                    delivery={"timeout": "5s", "retry_initial": "1s", "max_runs_per_message": 5},
                )
                before = datetime.now(UTC)
                daemon.reload()
                async with asyncio.timeout(30):
                    while not any(line["event"] == "reloaded" for line in logs):
                        await asyncio.sleep(0.01)
                after = datetime.now(UTC)
                job = daemon.scheduler.get_job("poll")
                assert job.trigger.interval == timedelta(seconds=30)
                assert before + timedelta(seconds=30) <= job.next_run_time
                assert job.next_run_time <= after + timedelta(seconds=30)
                rt = daemon.rt
                assert rt.pipeline.policy == tick_policy(rt.settings)
                assert rt.pipeline.policy.channels == ("b",)
                assert rt.pipeline.policy.track_all is True
                assert rt.pipeline.policy.max_runs_per_message == 5
                assert rt.deliverer.policy == retry_policy(rt.settings)
                assert rt.deliverer.policy.initial == 1.0
                assert rt.settings.dataframer.timeout == settings.dataframer.timeout
                assert rt.settings.delivery.timeout == settings.delivery.timeout
                assert rt.client is client
                assert run.id in rt.store.snapshots()
            finally:
                daemon.stop()
                assert await task == 0
    partial = next(line for line in logs if line["event"] == "reload_partial")
    assert partial["not_applied"] == ["dataframer.timeout", "delivery.timeout"]
    reloaded = next(line for line in logs if line["event"] == "reloaded")
    assert (reloaded["channels"], reloaded["runs_added"]) == (["b"], [run.id])


@pytest.mark.usefixtures("no_watcher_env")
async def test_a_rejected_reload_changes_nothing(tmp_path: Path, write_config) -> None:
    """In-process: a config that does not load leaves the settings, the policy and the poll
    schedule as they were."""
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY)
    api = {"base_url": "http://sim.test", "api_key_file": str(key_file)}
    config = write_config(dataframer=api, poll={"interval": "1h"}, channels={"a": NOBODY})
    transport = mock_transport(Simulator(api_key=API_KEY))
    with capture_logs() as logs:
        async with Daemon.open(
            load_settings(config), config_path=config, notifier=Notifier(None), transport=transport
        ) as daemon:
            task = asyncio.create_task(daemon.run())
            try:
                async with asyncio.timeout(30):
                    while daemon.scheduler.get_job("poll") is None:
                        await asyncio.sleep(0.01)
                settings, policy = daemon.settings, daemon.rt.pipeline.policy
                planned = daemon.scheduler.get_job("poll").next_run_time
                config.write_text(config.read_text().replace("interval: 1h", "interval: 5 days"))
                daemon.reload()
                async with asyncio.timeout(30):
                    while not any(line["event"] == "reload_rejected" for line in logs):
                        await asyncio.sleep(0.01)
                assert daemon.settings is settings
                assert daemon.rt.pipeline.policy is policy
                assert daemon.scheduler.get_job("poll").next_run_time == planned
            finally:
                daemon.stop()
                assert await task == 0
    assert not any(line["event"] == "reloaded" for line in logs)

"""SIGHUP: a broken config is rejected, the old one kept; a good one applies without a restart."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import structlog

from tests.support import API_KEY, WebhookReceiver, wait_for
from watcher.config import Settings
from watcher.logs import SCRUBBER, configure
from watcher.service.reload import apply_reload, in_force, restart_only_changes
from watcher.service.runtime import Runtime, tick_policy
from watcher.simulator import SimulatorServer


def test_a_broken_config_is_rejected_and_the_old_one_kept(
    simulator: SimulatorServer, webhook: WebhookReceiver, write_config, start_daemon
) -> None:
    """The daemon logs the one-line error and still alerts through the channel it had."""
    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        track={"all": True},
        channels={"hook": webhook.url},
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
    simulator: SimulatorServer, webhook: WebhookReceiver, write_config, start_daemon
) -> None:
    """From a 1 h interval and channel A to 200 ms, channel B and a newly tracked run: the
    run's alert reaches B soon after SIGHUP, which only a rescheduled poll can do."""
    done = simulator.sim.create_runs(outcomes=["FAILED"], status="FAILED")[0]
    channel_b = WebhookReceiver()
    try:
        config = write_config(
            dataframer={"base_url": simulator.url},
            poll={"interval": "1h"},
            channels={"a": webhook.url},
        )
        daemon = start_daemon(config)
        daemon.wait_event("started")
        ticks = daemon.count("tick")
        write_config(
            dataframer={"base_url": simulator.url, "timeout": "7s"},  # needs a restart
            poll={"interval": "200ms"},
            track={"runs": [done.id]},
            channels={"b": channel_b.url},
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

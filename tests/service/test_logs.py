"""Logs fit for journald: JSON lines, a tick id on every line of a tick, run ids, no secrets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from tests.support import API_KEY, WebhookSink, wait_for
from watcher.config import Settings
from watcher.service.daemon import Daemon
from watcher.service.sdnotify import Notifier
from watcher.simulator import SimulatorServer

SUMMARIES = {"tick", "tick_failed", "api_unauthorized"}
HOOK_PASSWORD = "hookpass-5150"
HEADER_TOKEN = "secretvalue-77"


def test_tick_ids_run_ids_and_no_secrets(
    simulator: SimulatorServer, write_config, start_daemon
) -> None:
    """A tick's lines share its id up to its summary; run lines name the run; delivery lines
    name the delivery, channel and runs; the key, a URL password and a header token never
    appear, even when a send fails."""
    webhook = WebhookSink(plan=[500]).start()
    try:
        url = webhook.url(auth=f"watcher:{HOOK_PASSWORD}", query=f"+X-Token={HEADER_TOKEN}")
        config = write_config(
            dataframer={"base_url": simulator.url},
            poll={"interval": "200ms"},
            track={"all": True, "runs": ["0f0f0f0f-dead-4bad-8bad-000000000000"]},
            channels={"hook": url},
            delivery={"retry_initial": "200ms", "retry_max": "1s"},
        )
        daemon = start_daemon(config)
        daemon.wait_event("started")
        runs = simulator.sim.create_runs(
            outcomes=["FAILED", "SUCCEEDED"], pending_seconds=0.1, processing_seconds=0.3
        )
        wait_for(lambda: len(webhook.run_ids()) == 2, what="both alerts, after one refusal")
        simulator.sim.faults.add([{"kind": "status", "status": 503, "count": 1}])
        daemon.wait_event("tick_failed")
        daemon.wait_event("tick", at_least=daemon.count("tick") + 2)
        assert daemon.terminate() == 0
    finally:
        webhook.stop()

    text = daemon.log_path.read_text()
    for secret in (API_KEY, HOOK_PASSWORD, HEADER_TOKEN):
        assert secret not in text
    lines = daemon.events()
    assert len(lines) == len(text.splitlines())  # every line is JSON

    tick_lines = [line for line in lines if "tick" in line]
    assert [line["tick"] for line in tick_lines] == sorted(line["tick"] for line in tick_lines)
    for index, line in enumerate(tick_lines):
        if line["event"] == "poll_backoff":  # logged right after its tick's failure
            assert tick_lines[index - 1]["event"] == "tick_failed"
            assert tick_lines[index - 1]["tick"] == line["tick"]
            continue
        summary = next(later for later in tick_lines[index:] if later["event"] in SUMMARIES)
        assert summary["tick"] == line["tick"], line
    assert {line["tick"] for line in lines if line["event"] in SUMMARIES} == {
        line["tick"] for line in tick_lines
    }
    stage_lines = [
        line
        for line in lines
        if line["logger"] in ("watcher.pipeline", "watcher.fetch", "watcher.api")
    ]
    assert all("tick" in line for line in stage_lines)

    run_lines = [line for line in lines if line["event"].startswith("run_")]
    assert {line["event"] for line in run_lines} >= {"run_finished", "run_gone"}
    assert all("run_id" in line for line in run_lines)
    finished = {line["run_id"] for line in run_lines if line["event"] == "run_finished"}
    assert finished == {run.id for run in runs}

    failing = next(line for line in lines if line["event"] == "channel_failing")
    recovered = next(line for line in lines if line["event"] == "channel_recovered")
    for line in (failing, recovered):
        assert line["channel"] == "hook"
        assert isinstance(line["delivery_id"], int)
        assert set(line["run_ids"]) <= finished
        assert line["run_ids"]
        assert "tick" not in line  # delivery drains the outbox beside the ticks, not in them
    # A pass in which a send failed is not logged as "delivered" (it was not).
    passes = [line for line in lines if line["event"] in ("delivered", "delivery_pass")]
    assert any(line["event"] == "delivery_pass" and line["failed"] == 1 for line in passes)
    assert all(
        line["failed"] == line["dead"] == 0 for line in passes if line["event"] == "delivered"
    )


async def test_a_backoff_does_not_lend_its_tick_id_to_other_jobs(
    tmp_path: Path, simulator: SimulatorServer
) -> None:
    """Rescheduling the poll from inside a tick must not leak that tick's id into the
    scheduler's later jobs (APScheduler's wakeup callback captures the caller's context)."""
    settings = Settings(
        dataframer={"base_url": simulator.url, "api_key": API_KEY},
        state={"path": str(tmp_path / "watcher.db")},
        poll={"interval": "100ms"},
        track={"all": True},
        health={"enabled": False},
    )
    simulator.sim.faults.add([{"kind": "status", "status": 503, "always": True}])
    seen: list[tuple[int, dict[str, object]]] = []
    async with Daemon.open(settings, config_path=None, notifier=Notifier(None)) as daemon:
        running = asyncio.create_task(daemon.run())

        async def probe() -> None:
            seen.append((daemon.failures, structlog.contextvars.get_contextvars()))

        try:
            async with asyncio.timeout(30):  # a bounded wait, not a timing assertion
                while not daemon.scheduler.running:
                    await asyncio.sleep(0.01)
                daemon.scheduler.add_job(probe, "interval", seconds=0.05, id="probe")
                while sum(1 for failures, _ in seen if failures >= 3) < 3:  # after two backoffs
                    await asyncio.sleep(0.05)
        finally:
            daemon.stop()
            assert await running == 0
    assert all("tick" not in context for _, context in seen)


def test_run_logs_at_start_what_check_config_would_warn_about(
    simulator: SimulatorServer, write_config, start_daemon
) -> None:
    """Advice check-config prints as "warning:" lines reaches the daemon's log at start too:
    an operator who never ran check-config still hears of it."""
    config = write_config(
        dataframer={"base_url": simulator.url},
        channels={"a": "json://127.0.0.1:9/a", "b": "json://127.0.0.1:9/b"},
        routes=[{"statuses": ["FAILED"], "channels": ["a"]}],
    )
    daemon = start_daemon(config)
    daemon.wait_event("started")
    assert daemon.terminate() == 0
    warnings = [e["warning"] for e in daemon.events() if e["event"] == "config_warning"]
    assert "channel 'b' is named by no route and receives no alerts" in warnings
    assert all(e["level"] == "warning" for e in daemon.events() if e["event"] == "config_warning")


def test_run_on_a_config_that_can_never_alert_warns_at_start(
    simulator: SimulatorServer, write_config, start_daemon
) -> None:
    """No channel and nothing tracked: the daemon starts (`track` may add runs later) and says
    at start, as check-config does, that it cannot alert as configured."""
    daemon = start_daemon(write_config(dataframer={"base_url": simulator.url}))
    daemon.wait_event("started")
    assert daemon.terminate() == 0
    warnings = " | ".join(e["warning"] for e in daemon.events() if e["event"] == "config_warning")
    assert "no channels are configured" in warnings
    assert "nothing is tracked" in warnings

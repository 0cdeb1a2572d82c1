"""/healthz, /readyz and /metrics over HTTP, and `dataframer-watcher health`, for real."""

from __future__ import annotations

import json
import platform
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import API_KEY, WebhookSink, free_port, http_get, wait_for, watcher_cli
from watcher import __version__
from watcher.config import HealthConfig, Settings
from watcher.service.daemon import Daemon
from watcher.service.monitor import Monitor
from watcher.service.sdnotify import Notifier
from watcher.simulator import SimulatorServer


def scrape(base: str) -> Callable[..., float]:
    """Scrape /metrics with prometheus-client's own parser; returns value(name, **labels)."""
    status, text = http_get(base + "/metrics")
    assert status == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[("dataframer_watcher_" + name, tuple(sorted(labels.items())))]

    return value


def probe(base: str, path: str) -> tuple[int, dict[str, object]]:
    status, body = http_get(base + path)
    return status, json.loads(body)


def test_probes_and_metrics_through_an_api_outage(
    simulator: SimulatorServer,
    webhook: WebhookSink,
    write_config,
    start_daemon,
) -> None:
    """Ready while polls succeed; not ready (503, with the reason) once the last success is
    older than 3 intervals; ready again after the API heals. Live throughout."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    runs = simulator.sim.create_runs(outcomes=["FAILED", "SUCCEEDED"], processing_seconds=60)
    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        track={"all": True},
        channels={"hook": webhook.url()},
        health={"listen": f"127.0.0.1:{port}"},
    )
    daemon = start_daemon(config)
    daemon.wait_event("started")
    simulator.sim.force_status(runs[0].id, "FAILED")  # one transition, one delivery
    wait_for(lambda: len(webhook.posts) == 1, what="the alert")
    wait_for(lambda: probe(base, "/readyz")[0] == 200, what="ready")

    assert probe(base, "/healthz")[0] == 200
    ready = probe(base, "/readyz")[1]
    assert ready["ok"] is True
    assert ready["window"] == pytest.approx(0.6)
    # Retried, not asserted once: a tick the machine delays past 3 x 200 ms is "not ready".
    wait_for(lambda: watcher_cli(config, "health").returncode == 0, what="`health` exit 0")
    wait_for(
        lambda: scrape(base)("deliveries_total", channel="hook", outcome="sent") == 1,
        what="the delivery counted",
    )
    before = scrape(base)
    assert before("ticks_total", outcome="ok") >= 2
    assert before("ticks_total", outcome="failed") == 0
    assert before("runs", kind="run", status="FAILED") == 1
    active = ("PENDING", "PROCESSING")
    assert sum(before("runs", kind="run", status=status) for status in active) == 1
    assert before("transitions_total", kind="run", to_status="FAILED") == 1
    assert before("outbox_pending", channel="hook") == 0
    assert before("outbox_dead", channel="hook") == 0
    assert before("api_request_duration_seconds_count") >= 2
    assert before("seconds_since_last_successful_poll") < 60
    assert before("build_info", python=platform.python_version(), version=__version__) == 1

    simulator.sim.faults.add([{"kind": "status", "status": 503, "always": True}])
    wait_for(lambda: probe(base, "/readyz")[0] == 503, what="not ready")
    status, body = probe(base, "/readyz")
    assert status == 503
    assert body["ok"] is False
    assert "more than 3 intervals of 0.2s" in str(body["reason"])
    assert "HTTP 503" in str(body["last_error"])
    assert probe(base, "/healthz")[0] == 200  # the loop is fine; the API is not
    failing = watcher_cli(config, "health")
    assert failing.returncode == 1
    assert failing.stderr.startswith("dataframer-watcher: not ready: last successful poll")
    assert len(failing.stderr.strip().splitlines()) == 1
    during = scrape(base)
    assert during("ticks_total", outcome="failed") >= 1
    assert during("poll_consecutive_failures") >= 1
    assert during("seconds_since_last_successful_poll") > 0.6

    simulator.sim.faults.clear()
    wait_for(lambda: probe(base, "/readyz")[0] == 200, what="ready again")
    after = scrape(base)
    assert after("poll_consecutive_failures") == 0
    assert after("ticks_total", outcome="ok") > before("ticks_total", outcome="ok")
    assert daemon.terminate() == 0


def test_health_command_without_a_daemon(tmp_path: Path, write_config) -> None:
    """Nobody listening: exit 1 with one line; health disabled: exit 2 (nothing to ask)."""
    port = free_port()
    down = watcher_cli(write_config(health={"listen": f"127.0.0.1:{port}"}), "health", "--live")
    assert down.returncode == 1
    assert down.stderr.startswith(
        f"dataframer-watcher: not live: cannot reach http://127.0.0.1:{port}/healthz"
    )
    assert len(down.stderr.strip().splitlines()) == 1
    off = watcher_cli(write_config("off.yaml", health={"enabled": False}), "health")
    assert off.returncode == 2
    assert "health.enabled is false" in off.stderr


def test_a_taken_port_is_logged_and_the_daemon_runs_on(
    simulator: SimulatorServer, webhook, write_config, start_daemon
) -> None:
    """Another process holds health.listen: one error line, and alerts still flow."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        config = write_config(
            dataframer={"base_url": simulator.url},
            health={"listen": f"127.0.0.1:{port}"},
            poll={"interval": "200ms"},
            channels={"hook": webhook.url()},
        )
        daemon = start_daemon(config)
        daemon.wait_event("started")
        errors = [e for e in daemon.events() if e.get("event") == "health_unavailable"]
        assert len(errors) == 1
        assert errors[0]["level"] == "error"
        assert f"cannot listen on 127.0.0.1:{port}" in errors[0]["error"]
        assert "health.enabled: false" in errors[0]["error"]
        run = simulator.sim.create_runs(outcomes=["FAILED"], status="FAILED")[0]
        tracked = watcher_cli(config, "track", run.id)
        assert tracked.returncode == 0, tracked.stderr
        wait_for(lambda: webhook.run_ids() == [run.id], what="the alert")
        assert daemon.terminate() == 0


@pytest.fixture
async def monitor(tmp_path: Path, simulator: SimulatorServer) -> AsyncIterator[Monitor]:
    """A Monitor on a real runtime, its listener on a free port (no scheduler: we set vitals)."""
    settings = Settings(
        dataframer={"base_url": simulator.url, "api_key": API_KEY},
        state={"path": str(tmp_path / "watcher.db")},
        poll={"interval": "10s"},
    )
    async with Daemon.open(settings, config_path=None, notifier=Notifier(None)) as daemon:
        mon = daemon.monitor
        mon.open_health(HealthConfig(listen="127.0.0.1:0"))
        yield mon
        mon.close()


async def test_probe_verdicts(monitor: Monitor) -> None:
    """Each way to be unwell gives 503 and names itself; unknown paths are 404."""
    assert monitor.health is not None
    base = f"http://127.0.0.1:{monitor.health.port}"
    vitals = monitor.vitals

    assert probe(base, "/healthz")[0] == 200
    status, body = probe(base, "/readyz")
    assert (status, body["reason"]) == (503, "no successful poll yet")

    vitals.heartbeat = time.monotonic() - 42
    status, body = probe(base, "/healthz")
    assert status == 503
    assert body["reason"] == "the scheduler loop has been silent for 42s"
    vitals.heartbeat = time.monotonic()
    vitals.tick_started = time.monotonic() - 700
    status, body = probe(base, "/healthz")
    assert status == 503
    assert body["reason"] == "a poll tick has been running for 700s"
    vitals.tick_started = None

    vitals.last_ok = time.monotonic() - 29  # within 3 x 10 s
    assert probe(base, "/readyz")[0] == 200
    vitals.last_ok = time.monotonic() - 31
    status, body = probe(base, "/readyz")
    assert status == 503
    assert body["reason"].startswith("last successful poll 31s ago")
    vitals.last_ok = time.monotonic()
    vitals.state_error = "cannot write state file x: disk I/O error"
    status, body = probe(base, "/readyz")
    assert status == 503
    assert "disk I/O error" in body["reason"]

    assert probe(base, "/nope")[0] == 404

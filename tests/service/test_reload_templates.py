"""SIGHUP with a broken template: the reload is rejected with the template and its line, and
the daemon goes on alerting with the templates it had."""

from __future__ import annotations

import signal

from tests.support import WebhookSink, wait_for
from watcher.simulator import SimulatorServer


def test_a_broken_template_on_sighup_keeps_the_old_config(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """The new config breaks templates.short.body on its line 2 (and changes alerts.run_url):
    rejected whole, so the next alert still carries the old link."""
    sections = {
        "dataframer": {"base_url": simulator.url},
        "poll": {"interval": "200ms"},
        "track": {"all": True},
        "channels": {"hook": webhook.url()},
        "alerts": {"run_url": "https://old.example/runs/{{ run.id }}"},
        "templates": {"short": {"body": "Run: {{ run.id }}"}},
    }
    config = write_config(**sections)
    daemon = start_daemon(config)
    daemon.wait_event("started")
    write_config(
        **{
            **sections,
            "alerts": {"run_url": "https://new.example/runs/{{ run.id }}"},
            "templates": {"short": {"body": "Run: {{ run.id }}\n{% if x %}never closed"}},
        }
    )
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_event("reload_rejected")
    rejected = next(e for e in daemon.events() if e["event"] == "reload_rejected")
    assert "templates.short.body: the template does not compile: line 2:" in rejected["error"]
    assert str(config) in rejected["error"]

    run = simulator.sim.create_runs(
        outcomes=["SUCCEEDED"], pending_seconds=0.1, processing_seconds=0.2
    )[0]
    wait_for(lambda: webhook.run_ids() == [run.id], what="the alert with the old config")
    [message] = webhook.messages
    assert f"Link: https://old.example/runs/{run.id}" in message.splitlines()
    assert daemon.count("reloaded") == 0
    assert daemon.terminate() == 0

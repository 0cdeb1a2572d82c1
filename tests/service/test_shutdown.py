"""SIGTERM while a scheduled tick is under way: the tick finishes and records, then the daemon
stops (exit 0), and APScheduler cancels nothing of ours on the way out."""

from __future__ import annotations

import signal

from tests.support import WebhookSink, state_deliveries, wait_for
from watcher.simulator import SimulatorServer

DETAIL_ONLY = r"^/api/dataframer/runs/[^/]+/$"


def test_sigterm_during_a_slow_tick_lets_it_finish_and_record(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """A run finishes; the tick that sees it reads its detail, which the simulator holds for
    1.5 s. SIGTERM arrives meanwhile: that tick still completes (its "tick" line is logged
    after "stopping") and records the alert, which stays queued for the next start; exit 0,
    and no job "raised an exception". (Before, APScheduler's shutdown cancelled the tick.)"""
    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "100ms"},
        track={"all": True},
        channels={"hook": webhook.url()},
    )
    daemon = start_daemon(config)
    daemon.wait_event("started")
    stats = simulator.sim.stats
    simulator.sim.faults.add([{"kind": "latency", "seconds": 1.5, "path_regex": DETAIL_ONLY}])
    (run,) = simulator.sim.create_runs(status="FAILED")
    wait_for(
        lambda: stats.snapshot()["faults"].get("latency", 0) >= 1,
        what="the tick's detail read to be held by the simulator",
    )
    daemon.proc.send_signal(signal.SIGTERM)

    assert daemon.terminate() == 0
    events = [line.get("event") for line in daemon.events()]
    stopping = events.index("stopping")
    assert "tick" in events[stopping:], "the tick under way at SIGTERM did not finish"
    assert "raised an exception" not in daemon.log_path.read_text()
    (delivery,) = state_deliveries(config.parent / "state" / "watcher.db")
    assert delivery["run_ids"] == [run.id]
    assert delivery["status"] == "pending"
    assert webhook.posts == []

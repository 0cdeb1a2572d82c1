"""Digests across polls, against the real daemon: a burst of 40 finishes yields, per channel,
`threshold` single messages and one digest naming every other run; a SIGKILL while the rest
waits loses none of them (they are in the state file)."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from tests.support import WebhookSink, run_ids_in, state_deliveries, wait_for
from watcher.simulator import SimulatorServer

BURST = 40
THRESHOLD = 5
CHANNELS = ("a", "b")


def _config(write_config, simulator: SimulatorServer, hooks: dict[str, WebhookSink]) -> Path:
    config: Path = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        track={"all": True},
        channels={name: hook.url() for name, hook in hooks.items()},
        alerts={"digest": {"window": "4s", "threshold": THRESHOLD}},
        delivery={"retry_initial": "200ms", "retry_max": "1s"},
    )
    return config


def _per_message(hook: WebhookSink) -> list[list[str]]:
    return [run_ids_in([post["message"]]) for post in hook.posts]


@pytest.fixture
def hooks() -> dict[str, WebhookSink]:
    made = {name: WebhookSink().start() for name in CHANNELS}
    yield made
    for hook in made.values():
        hook.stop()


@pytest.mark.parametrize("kill", [False, True], ids=["steady", "sigkill-mid-window"])
def test_a_burst_of_40_is_threshold_singles_then_one_digest_per_channel(
    kill: bool, simulator: SimulatorServer, write_config, start_daemon, hooks
) -> None:
    """Forty runs fail at once: each channel gets five messages of one run, then, when the
    window closes, one digest (type failure) naming the other 35 by their full ids; every run
    once per channel. Killed with SIGKILL while the 35 wait, the restarted daemon sends the
    same digest: nothing waiting was lost."""
    sim = simulator.sim
    runs = sim.create_runs(status=["PROCESSING"] * BURST)
    config = _config(write_config, simulator, hooks)
    db = config.parent / "state" / "watcher.db"
    daemon = start_daemon(config)
    daemon.wait_event("started")
    for run in runs:
        sim.force_status(run.id, "FAILED")
    wait_for(
        lambda: all(len(h.posts) >= THRESHOLD for h in hooks.values()),
        what="the first messages of the burst",
    )
    if kill:
        # Every single message acked, the rest waiting in the state file: then the crash.
        wait_for(
            lambda: (
                sum(d["status"] == "sent" for d in state_deliveries(db))
                >= THRESHOLD * len(CHANNELS)
            ),
            what="the singles acked",
        )
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(timeout=10)
        daemon = start_daemon(config)
    wait_for(
        lambda: all(len(h.posts) >= THRESHOLD + 1 for h in hooks.values()),
        timeout=30,
        what="the digest",
    )
    daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
    assert daemon.terminate() == 0
    everyone = {run.id for run in runs}
    for name, hook in hooks.items():
        messages = _per_message(hook)
        assert [len(m) for m in messages] == [1] * THRESHOLD + [BURST - THRESHOLD], name
        assert Counter(r for m in messages for r in m) == Counter(everyone)
        digest = hook.posts[-1]
        assert digest["type"] == "failure"
        assert digest["title"].startswith(f"Digest: {BURST - THRESHOLD} Dataframer runs")

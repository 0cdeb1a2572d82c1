"""Fault injection, crashes: kill -9 at random points of a burst of 200 transitions.

The daemon discovers 200 runs finishing over a few seconds and alerts two webhook channels;
it is killed with SIGKILL several times mid-burst and restarted each time. Afterwards every
(run, channel) alert has arrived at least once (no miss), and the duplicates are no more than
the sends that were in flight at the kills: received by the webhook, not yet acked in the
state file. The numbers are printed (run with `-s`), and the seed, so a failure replays.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    Answer,
    DaemonProcess,
    WebhookSink,
    run_ids_in,
    state_deliveries,
    wait_for,
)
from watcher.simulator import SimulatorServer

RUNS = 200
KILLS = 5
CHANNELS = ("a", "b")


def _settle(hooks: dict[str, WebhookSink]) -> None:
    """Wait (bounded) until the webhooks have taken every request already on its way."""
    last = None
    stable_since = time.monotonic()

    def quiet() -> bool:
        nonlocal last, stable_since
        now = sum(len(hook.requests) for hook in hooks.values())
        if now != last:
            last, stable_since = now, time.monotonic()
        return time.monotonic() - stable_since >= 0.3

    wait_for(quiet, timeout=10, what="the webhooks to go quiet")


def _acked(db: Path) -> set[tuple[str, str]]:
    """(run id, channel) pairs whose delivery the state file records as sent."""
    return {
        (run_id, d["channel"])
        for d in state_deliveries(db)
        if d["status"] == "sent"
        for run_id in d["run_ids"]
    }


def _pairs(post: dict[str, Any], channel: str) -> list[tuple[str, str]]:
    return [(run_id, channel) for run_id in run_ids_in([post["message"]])]


@pytest.mark.timeout(120)
def test_kill_9_mid_burst_misses_nothing_and_duplicates_only_sends_in_flight(
    simulator: SimulatorServer, write_config, start_daemon
) -> None:
    """Each kill may leave a few sends done but unacked, re-sent after the restart: those
    are the only duplicates. Nothing is ever missed."""
    seed = int(os.environ.get("FAULTS_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    hooks = {name: WebhookSink(default=Answer(delay=0.01)).start() for name in CHANNELS}
    try:
        config = write_config(
            dataframer={"base_url": simulator.url},
            poll={"interval": "100ms"},
            track={"all": True},
            channels={name: hook.url() for name, hook in hooks.items()},
            delivery={"retry_initial": "200ms", "retry_max": "1s", "max_runs_per_message": 3},
        )
        db = config.parent / "state" / "watcher.db"
        daemon: DaemonProcess = start_daemon(config)
        daemon.wait_event("started")  # the silent baseline is done
        runs = simulator.sim.create_runs(
            RUNS,
            outcomes={"SUCCEEDED": 0.7, "FAILED": 0.2, "CANCELED": 0.1},
            pending_seconds=(0.1, 1.0),
            processing_seconds=(0.5, 4.0),
        )
        expected = {(run.id, name) for run in runs for name in CHANNELS}

        def received() -> list[tuple[str, str]]:
            return [p for name, h in hooks.items() for post in h.posts for p in _pairs(post, name)]

        # Kill when the webhooks have taken a random share of the alerts, plus a random jitter.
        thresholds = sorted(rng.sample(range(5, len(expected) - 20), KILLS))
        seen_posts = {name: 0 for name in CHANNELS}
        in_flight: list[int] = []
        kill_points: list[int] = []
        for threshold in thresholds:
            wait_for(lambda: len(received()) >= threshold, what=f"{threshold} alerts")  # noqa: B023
            time.sleep(rng.uniform(0, 0.05))
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.kill()
            _settle(hooks)
            acked = _acked(db)
            # Sends in flight at this kill: alerts the webhook took since the last kill whose
            # delivery the state file does not hold as sent. Each is re-sent once after the
            # restart (a duplicate), unless a later kill strikes first.
            flying = 0
            for name, hook in hooks.items():
                for post in hook.posts[seen_posts[name] :]:
                    flying += sum(1 for pair in _pairs(post, name) if pair not in acked)
                seen_posts[name] = len(hook.posts)
            in_flight.append(flying)
            kill_points.append(len(received()))
            daemon = start_daemon(config)

        wait_for(lambda: expected <= set(received()), timeout=60, what="every alert")
        wait_for(
            lambda: all(d["status"] == "sent" for d in state_deliveries(db)),
            what="an empty outbox",
        )
        daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
        assert daemon.terminate() == 0

        counts = Counter(received())
        misses = expected - set(counts)
        duplicates = sum(n - 1 for n in counts.values())
        print(
            f"\n[faults] kill-9 burst (seed {seed}): {RUNS} runs x {len(CHANNELS)} channels,"
            f" {KILLS} kills at {kill_points} alerts received; in flight per kill {in_flight};"
            f" duplicates {duplicates}; misses {len(misses)}"
        )
        assert set(counts) == expected  # nothing missed, nothing invented
        assert misses == set()
        assert duplicates <= sum(in_flight), (duplicates, in_flight, seed)
    finally:
        for hook in hooks.values():
            hook.stop()

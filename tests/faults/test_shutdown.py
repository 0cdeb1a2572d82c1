"""Fault injection, shutdown: SIGTERM while a send hangs, and while a backlog drains.

Promises checked: exit code 0 within the grace period (a bounded wait, with slack), the send
that did not finish stays in the outbox and goes out on the next start, and a stop starts no
new sends, so a backlog cut short by SIGTERM is neither lost nor sent twice.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support import HANG, Answer, WebhookSink, state_deliveries, wait_for
from watcher.simulator import SimulatorServer


def _config(write_config, simulator: SimulatorServer, url: str, **delivery: Any) -> Path:
    return write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "100ms"},
        track={"all": True},
        channels={"hook": url},
        delivery={"retry_initial": "200ms", "retry_max": "1s", **delivery},
    )


def _report(name: str, **numbers: Any) -> None:
    print(f"\n[faults] {name}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))


def test_sigterm_while_a_send_hangs_exits_0_in_the_grace_period_and_keeps_it_pending(
    simulator: SimulatorServer, write_config, start_daemon
) -> None:
    """The webhook holds the request far longer than delivery.timeout (and apprise's own
    read timeout is raised to match): SIGTERM (sent again, with a Ctrl-C, for good measure)
    still ends the daemon within its grace period, exit 0, and the alert goes out once on
    the next start."""
    hook = WebhookSink(plan=[HANG], hang_limit=30).start()
    try:
        # rto/cto: apprise's own socket timeouts, raised so only ours can end the send.
        url = hook.url(query="rto=30&cto=30")
        config = _config(write_config, simulator, url, timeout="1s")
        grace = 1 + 1  # delivery.timeout + 1 s (at most 10 s)
        daemon = start_daemon(config)
        daemon.wait_event("started")
        (run,) = simulator.sim.create_runs(status="FAILED")
        wait_for(lambda: len(hook.requests) >= 1, what="the send to reach the hanging webhook")
        sent_at = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.wait_event("stopping")
        daemon.proc.send_signal(signal.SIGINT)  # impatience changes nothing
        daemon.proc.send_signal(signal.SIGTERM)
        code = daemon.proc.wait(timeout=grace + 5)  # the grace, plus slack
        stop_seconds = time.monotonic() - sent_at
        daemon.kill()  # closes its log
        assert code == 0
        (delivery,) = state_deliveries(config.parent / "state" / "watcher.db")
        assert delivery["status"] in ("pending", "retrying")
        assert hook.posts == []

        again = start_daemon(config)
        wait_for(lambda: hook.run_ids() == [run.id], what="the alert on the next start")
        again.wait_event("tick", at_least=again.count("tick") + 5)
        assert again.terminate() == 0
        assert hook.run_ids() == [run.id]
        _report("sigterm-mid-send", stop_seconds=round(stop_seconds, 3), grace_s=grace)
    finally:
        hook.stop()


def test_sigterm_mid_backlog_starts_no_new_send_and_loses_none(
    simulator: SimulatorServer, write_config, start_daemon
) -> None:
    """A backlog longer than the grace period, one message at a time to a slow webhook:
    SIGTERM lets the send in flight finish and starts no other, so after a restart every
    alert has arrived exactly once."""
    hook = WebhookSink(default=Answer(delay=0.2)).start()
    try:
        config = _config(write_config, simulator, hook.url(), timeout="2s", max_runs_per_message=1)
        daemon = start_daemon(config)
        daemon.wait_event("started")
        runs = simulator.sim.create_runs(16, status="SUCCEEDED")  # 16 x 0.2 s > 2 s grace
        wait_for(lambda: len(hook.posts) >= 2, what="the backlog to start draining")
        assert daemon.terminate() == 0
        stopped_after = len(hook.posts)

        again = start_daemon(config)
        wait_for(lambda: len(set(hook.run_ids())) == len(runs), what="the rest of the backlog")
        again.wait_event("tick", at_least=again.count("tick") + 5)
        assert again.terminate() == 0
        assert Counter(hook.run_ids()) == Counter(run.id for run in runs)
        _report("sigterm-mid-backlog", sent_before_stop=stopped_after, total=len(runs))
    finally:
        hook.stop()

"""Fault injection, channel side: a webhook that answers 500, an SMTP server that is down.

The daemon runs as a real subprocess; the webhook is a real HTTP server behind apprise's
json://, the mail server a real aiosmtpd started late on a port reserved for it. Promises
checked: each alert reaches each channel exactly once after it recovers, a failing channel
never holds back the other, `status` and `history` show what is going on (every attempt with
its reason), dead letters come back with `redeliver`, and the log says "failing" once and
"recovered" once per outage, not a line per attempt.

Recovery times (channel back -> alert received) are printed, not asserted: run with `-s`.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support import (
    HANG,
    DaemonProcess,
    SmtpSink,
    WebhookSink,
    free_port,
    state_deliveries,
    wait_for,
    watcher_cli,
)
from watcher.deliver.sender import Sender
from watcher.simulator import SimulatorServer

ROUTES = [{"statuses": ["FAILED", "CANCELED", "SUCCEEDED"], "channels": ["hook", "mail"]}]


def _config(write_config, simulator: SimulatorServer, hook: str, mail: str, **delivery: Any):
    return write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "100ms"},
        track={"all": True},
        channels={"hook": hook, "mail": mail},
        routes=ROUTES,
        delivery={"retry_initial": "200ms", "retry_max": "1s", **delivery},
    )


def _db(config: Path) -> Path:
    return config.parent / "state" / "watcher.db"


def _failed_attempts(db: Path, channel: str, run_id: str) -> int:
    rows = [d for d in state_deliveries(db) if d["channel"] == channel and run_id in d["run_ids"]]
    return sum(row["attempts"] for row in rows if row["status"] in ("retrying", "dead"))


def _status(config: Path) -> dict[str, Any]:
    result = watcher_cli(config, "status", "--json")
    assert result.returncode == 0, result.stderr
    deliveries: dict[str, Any] = json.loads(result.stdout)["deliveries"]
    return deliveries


def _history(config: Path, run_id: str) -> list[dict[str, Any]]:
    result = watcher_cli(config, "history", run_id, "--json")
    assert result.returncode == 0, result.stderr
    return [e for e in json.loads(result.stdout) if e["kind"] == "delivery"]


def _finish(simulator: SimulatorServer, daemon: DaemonProcess, outcome: str) -> str:
    """A run that the daemon saw under way, then finishing."""
    seen = daemon.count("run_first_seen")
    (run,) = simulator.sim.create_runs(status="PROCESSING")
    daemon.wait_event("run_first_seen", at_least=seen + 1)
    simulator.sim.force_status(run.id, outcome)
    return run.id


def _report(name: str, **numbers: Any) -> None:
    print(f"\n[faults] {name}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))


def test_a_failing_channel_recovers_alone_and_each_alert_arrives_once(
    simulator: SimulatorServer, write_config, start_daemon
) -> None:
    """SMTP down then up; a webhook answering 500 until fixed; a webhook failing its next 3
    attempts. The healthy channel gets each alert at once, the failing one once it is back."""
    hook = WebhookSink().start()
    mail = SmtpSink(free_port())  # reserved, not started: the mail server is down
    try:
        config = _config(write_config, simulator, hook.url(), mail.url)
        db = _db(config)
        daemon = start_daemon(config)
        daemon.wait_event("started")

        # A: the mail server is down; the webhook gets the alert regardless.
        run_a = _finish(simulator, daemon, "FAILED")
        wait_for(lambda: hook.run_ids() == [run_a], what="the webhook alert, mail down")
        wait_for(lambda: _failed_attempts(db, "mail", run_a) >= 2, what="two failed mail tries")
        during = _status(config)
        assert during["mail"]["retrying"] == 1
        assert during["mail"]["sent"] == 0
        assert during["hook"]["sent"] == 1
        mail.start()
        back = time.monotonic()
        wait_for(lambda: mail.run_ids() == [run_a], what="the mail alert once SMTP is up")
        mail_recovery = time.monotonic() - back
        (attempts_a,) = [e for e in _history(config, run_a) if e["channel"] == "mail"]
        assert attempts_a["status"] == "sent"
        *failures, last = attempts_a["attempt_log"]
        assert len(failures) >= 2
        assert last["ok"] is True
        assert all(a["ok"] is False and "connection refused" in a["reason"] for a in failures)

        # B: the webhook answers 500 until fixed; mail gets the alert regardless.
        hook.set_default(500)
        run_b = _finish(simulator, daemon, "CANCELED")
        wait_for(lambda: run_b in mail.run_ids(), what="the mail alert, webhook failing")
        wait_for(lambda: _failed_attempts(db, "hook", run_b) >= 2, what="two failed hook tries")
        assert hook.run_ids() == [run_a]
        during = _status(config)
        assert during["hook"]["retrying"] == 1
        assert during["mail"]["retrying"] == 0
        hook.heal()
        back = time.monotonic()
        wait_for(lambda: run_b in hook.run_ids(), what="the webhook alert once it is fixed")
        hook_recovery = time.monotonic() - back

        # C: the webhook answers 500 to its next three attempts, then takes the alert.
        hook.plan(500, 500, 500)
        run_c = _finish(simulator, daemon, "SUCCEEDED")
        wait_for(lambda: run_c in hook.run_ids() and run_c in mail.run_ids(), what="both C alerts")
        ticks = daemon.count("tick")
        daemon.wait_event("tick", at_least=ticks + 5)  # room for a duplicate to show up
        assert daemon.terminate() == 0

        runs = [run_a, run_b, run_c]
        assert Counter(hook.run_ids()) == Counter(runs)
        assert Counter(mail.run_ids()) == Counter(runs)
        (hook_c,) = [e for e in _history(config, run_c) if e["channel"] == "hook"]
        assert [a["ok"] for a in hook_c["attempt_log"]] == [False, False, False, True]
        assert all("HTTP 500" in a["reason"] for a in hook_c["attempt_log"][:3])

        # One warning as a channel starts failing, one line as it recovers: not one per try.
        events = daemon.events()
        failing = Counter(e["channel"] for e in events if e.get("event") == "channel_failing")
        recovered = Counter(e["channel"] for e in events if e.get("event") == "channel_recovered")
        assert failing == recovered == Counter({"mail": 1, "hook": 2})
        assert all(e["level"] == "warning" for e in events if e.get("event") == "channel_failing")
        tries = sum(d["attempts"] for d in state_deliveries(db))
        assert tries >= len(runs) * 2 + 2 + 2 + 3  # many attempts, two lines per outage
        _report(
            "channel-recovery",
            smtp_recovery_s=round(mail_recovery, 3),
            webhook_recovery_s=round(hook_recovery, 3),
        )
    finally:
        hook.stop()
        mail.stop()


def test_dead_letters_show_in_status_and_history_and_redeliver_sends_them_once(
    simulator: SimulatorServer, write_config, start_daemon
) -> None:
    """Past the horizon a delivery is dead (visible, not retried); `redeliver` requeues it
    and, the channel fixed, it goes out exactly once."""
    hook = WebhookSink(default=500).start()
    mail = SmtpSink(free_port())  # down
    try:
        config = _config(write_config, simulator, hook.url(), mail.url, horizon="1s")
        db = _db(config)
        daemon = start_daemon(config)
        daemon.wait_event("started")
        run_id = _finish(simulator, daemon, "FAILED")
        daemon.wait_event("delivery_dead", at_least=2)
        status = _status(config)
        assert status["hook"]["dead"] == 1
        assert status["mail"]["dead"] == 1
        history = {e["channel"]: e for e in _history(config, run_id)}
        assert history["hook"]["status"] == history["mail"]["status"] == "dead"
        assert all("HTTP 500" in a["reason"] for a in history["hook"]["attempt_log"])
        assert all("connection refused" in a["reason"] for a in history["mail"]["attempt_log"])
        assert len(history["hook"]["attempt_log"]) >= 2

        # Fixed, but dead stays dead until someone says otherwise.
        hook.heal()
        mail.start()
        daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
        assert hook.posts == []
        assert mail.messages == []
        requeued = watcher_cli(config, "redeliver", "--channel", "hook")
        assert requeued.returncode == 0, requeued.stderr
        assert requeued.stdout.strip() == "requeued 1 dead delivery"
        wait_for(lambda: hook.run_ids() == [run_id], what="the redelivered webhook alert")
        assert mail.messages == []  # only the channel asked for
        requeued = watcher_cli(config, "redeliver")
        assert requeued.stdout.strip() == "requeued 1 dead delivery"
        wait_for(lambda: mail.run_ids() == [run_id], what="the redelivered mail alert")
        daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
        assert daemon.terminate() == 0
        assert hook.run_ids() == [run_id]
        assert mail.run_ids() == [run_id]
        assert {d["channel"]: d["status"] for d in state_deliveries(db)} == {
            "hook": "sent",
            "mail": "sent",
        }
    finally:
        hook.stop()
        mail.stop()


def test_a_hung_webhook_stalls_neither_polling_nor_the_other_channel(
    simulator: SimulatorServer, smtp: SmtpSink, write_config, start_daemon
) -> None:
    """The webhook takes every request and never answers (apprise's own read timeout raised
    to match). Each send is abandoned after delivery.timeout, but its thread cannot be
    stopped: retries must not pile up hung threads until the other channel finds none free.
    Polls go on, mail gets each alert at once, the webhook each alert once it answers."""
    hook = WebhookSink(default=HANG, hang_limit=30).start()
    try:
        url = hook.url(query="rto=30&cto=30")
        config = _config(write_config, simulator, url, smtp.url, timeout="500ms", concurrency=2)
        daemon = start_daemon(config)
        daemon.wait_event("started")
        first = _finish(simulator, daemon, "FAILED")
        wait_for(lambda: smtp.run_ids() == [first], what="the first mail alert")
        # More abandoned webhook sends than the sender has threads.
        daemon.wait_event("channel_failing")
        wait_for(lambda: _failed_attempts(_db(config), "hook", first) >= 3, what="3 tries")
        ticks = daemon.count("tick")
        second = _finish(simulator, daemon, "SUCCEEDED")  # needs polls to go on
        wait_for(lambda: smtp.run_ids() == [first, second], what="the second mail alert")
        assert daemon.count("tick") > ticks
        assert hook.posts == []  # still hung
        hook.heal()
        back = time.monotonic()
        wait_for(lambda: Counter(hook.run_ids()) == Counter([first, second]), what="webhook")
        recovery = time.monotonic() - back
        daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
        assert daemon.terminate() == 0
        assert Counter(hook.run_ids()) == Counter([first, second])
        assert Counter(smtp.run_ids()) == Counter([first, second])
        reasons = {
            a["reason"]
            for e in _history(config, first)
            if e["channel"] == "hook"
            for a in e["attempt_log"]
            if not a["ok"]
        }
        assert "timed out after 0.5s" in reasons
        _report("hung-webhook", webhook_recovery_s=round(recovery, 3), reasons=sorted(reasons))
    finally:
        hook.stop()


async def test_retries_to_a_hung_url_hold_at_most_one_sender_thread() -> None:
    """Two threads, a URL that never answers tried three times, then a healthy URL: it gets a
    thread (before, each abandoned try kept one and the healthy send found none free)."""
    hung = WebhookSink(default=HANG, hang_limit=10).start()
    healthy = WebhookSink().start()
    sender = Sender(concurrency=2, timeout=0.3)
    try:
        outcomes = [await sender.send([hung.url(query="rto=30")], "t", "x") for _ in range(3)]
        assert [o.reason for o in outcomes] == [
            "timed out after 0.3s",
            "an earlier send to it is still hanging",
            "an earlier send to it is still hanging",
        ]
        assert len(hung.requests) == 1
        assert (await sender.send([healthy.url()], "t", "y")).ok
        hung.heal()
        assert (await sender.send([hung.url(query="rto=30")], "t", "z")).ok
    finally:
        sender.close()
        hung.stop()
        healthy.stop()

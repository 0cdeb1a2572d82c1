"""End to end: the daemon as a real subprocess against the simulator, SMTP and a webhook."""

from __future__ import annotations

import signal
from collections import Counter

from tests.support import API_KEY, SmtpSink, WebhookSink, cli, run_ids_in, statuses_in, wait_for
from watcher.simulator import SimulatorServer

ROUTES = [
    {"statuses": ["FAILED", "CANCELED"], "channels": ["hook", "mail"]},
    {"statuses": ["SUCCEEDED"], "channels": ["hook"]},
]


def _config(write_config, simulator, webhook, smtp, **extra):
    return write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        track={"all": True},
        channels={"hook": webhook.url(), "mail": smtp.url},
        routes=ROUTES,
        delivery={"retry_initial": "200ms", "retry_max": "1s"},
        **extra,
    )


def test_every_finished_run_alerted_once_per_routed_channel(
    simulator: SimulatorServer, webhook: WebhookSink, smtp: SmtpSink, write_config, start_daemon
) -> None:
    """Discovery: each new run's terminal status reaches exactly the routed channels, once."""
    old = simulator.sim.create_runs(outcomes=["SUCCEEDED", "FAILED"], status=None)
    for run in old:
        simulator.sim.force_status(run.id, run.plan.outcome)
    daemon = start_daemon(_config(write_config, simulator, webhook, smtp))
    daemon.wait_event("started")
    runs = simulator.sim.create_runs(
        outcomes=["SUCCEEDED", "SUCCEEDED", "FAILED", "CANCELED"],
        pending_seconds=[0.1, 0.3],
        processing_seconds=[0.2, 0.8],
    )
    outcome = {run.id: run.plan.outcome for run in runs}
    wait_for(lambda: len(webhook.run_ids()) >= 4 and len(smtp.run_ids()) >= 2, what="alerts")
    ticks = daemon.count("tick")
    daemon.wait_event("tick", at_least=ticks + 5)  # time enough for any duplicate to show up
    assert daemon.terminate() == 0
    assert API_KEY not in daemon.log_path.read_text()

    hook_ids = Counter(webhook.run_ids())
    mail_ids = Counter(smtp.run_ids())
    assert hook_ids == Counter(
        outcome.keys()
    )  # every new run once; the baseline's finished runs never
    assert mail_ids == Counter(r for r, o in outcome.items() if o in ("FAILED", "CANCELED"))
    for run_id, lines in statuses_in(p["message"] for p in webhook.posts).items():
        assert lines == [f"PROCESSING → {outcome[run_id]}"]


def test_restart_in_the_middle_resends_nothing_and_misses_nothing(
    simulator: SimulatorServer, webhook: WebhookSink, smtp: SmtpSink, write_config, start_daemon
) -> None:
    """Runs that finish while the daemon is down are alerted after restart; none twice."""
    config = _config(write_config, simulator, webhook, smtp)
    first = start_daemon(config)
    first.wait_event("started")
    early = simulator.sim.create_runs(
        outcomes=["SUCCEEDED", "FAILED"], pending_seconds=0.1, processing_seconds=0.2
    )
    late = simulator.sim.create_runs(
        outcomes=["SUCCEEDED", "CANCELED", "FAILED"], pending_seconds=0.1, processing_seconds=60
    )
    wait_for(lambda: len(webhook.run_ids()) >= 2, what="the early alerts")
    assert first.terminate(signal.SIGTERM) == 0
    for run in late:  # they finish while no watcher runs
        simulator.sim.force_status(run.id, run.plan.outcome)
    second = start_daemon(config)
    wait_for(lambda: len(webhook.run_ids()) >= 5 and len(smtp.run_ids()) >= 3, what="late alerts")
    second.wait_event("tick", at_least=second.count("tick") + 5)
    assert second.terminate() == 0

    expected = {run.id: run.plan.outcome for run in early + late}
    assert Counter(webhook.run_ids()) == Counter(expected.keys())
    assert Counter(smtp.run_ids()) == Counter(
        r for r, o in expected.items() if o in ("FAILED", "CANCELED")
    )


def test_second_daemon_on_the_same_state_exits_1(
    simulator: SimulatorServer, webhook: WebhookSink, smtp: SmtpSink, write_config, start_daemon
) -> None:
    """One daemon per state file: the second says who holds it and exits 1."""
    config = _config(write_config, simulator, webhook, smtp)
    first = start_daemon(config)
    first.wait_event("started")
    second = start_daemon(config)
    assert second.proc.wait(timeout=30) == 1
    output = second.log_path.read_text().strip()
    assert len(output.splitlines()) == 1
    assert "already using state file" in output
    assert str(first.proc.pid) in output
    assert first.proc.poll() is None
    assert first.terminate() == 0


def test_unauthorized_at_start_exits_1_naming_the_base_url(
    simulator: SimulatorServer, webhook: WebhookSink, smtp: SmtpSink, write_config, start_daemon
) -> None:
    """A wrong key: one line naming the base URL, exit 1, and the key never printed."""
    config = _config(write_config, simulator, webhook, smtp)
    daemon = start_daemon(config, api_key="wrong-key-abcdef")
    assert daemon.proc.wait(timeout=30) == 1
    output = daemon.log_path.read_text()
    errors = [line for line in output.splitlines() if line.startswith("dataframer-watcher:")]
    assert len(errors) == 1
    assert simulator.url in errors[0]
    assert "wrong-key-abcdef" not in output
    assert API_KEY not in output


def test_explicitly_tracked_finished_run_is_announced_once(
    simulator: SimulatorServer, webhook: WebhookSink, smtp: SmtpSink, write_config, start_daemon
) -> None:
    """`track` while the daemon runs: a run already finished is announced exactly once."""
    import subprocess
    import sys

    from tests.support import clean_env

    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        channels={"hook": webhook.url()},
    )
    done = simulator.sim.create_runs(outcomes=["FAILED"], status="FAILED")[0]
    daemon = start_daemon(config)
    daemon.wait_event("started")
    tracked = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), "track", done.id],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert tracked.returncode == 0, tracked.stderr
    wait_for(lambda: len(webhook.posts) >= 1, what="the alert")
    daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
    assert daemon.terminate() == 0
    assert webhook.run_ids() == [done.id]
    assert "FAILED" in webhook.posts[0]["title"]


def test_wrong_key_with_nothing_to_poll_still_exits_1(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """No tracked run and no discovery: the start-up key check still refuses a wrong key."""
    config = write_config(dataframer={"base_url": simulator.url}, channels={"hook": webhook.url()})
    daemon = start_daemon(config, api_key="wrong-key-abcdef")
    assert daemon.proc.wait(timeout=30) == 1
    output = daemon.log_path.read_text()
    assert simulator.url in output
    assert "wrong-key-abcdef" not in output


def test_each_alert_carries_its_notify_type_and_a_group_the_worst(
    simulator: SimulatorServer, webhook: WebhookSink, write_config
) -> None:
    """apprise's notify type, as a webhook receives it: SUCCEEDED is success, FAILED failure,
    CANCELED warning; one message covering several runs takes the worst type among them."""
    sim = simulator.sim
    runs = sim.create_runs(status=["PROCESSING"] * 5)
    config = write_config(
        dataframer={"base_url": simulator.url},
        track={"all": True},
        channels={"hook": webhook.url()},
    )
    env = {"DATAFRAMER_API_KEY": API_KEY}

    def once() -> None:
        result = cli("--config", str(config), "once", cwd=config.parent, env=env)
        assert result.returncode == 0, result.stderr

    once()  # the silent baseline: five runs under way
    for run, status in zip(runs[:3], ("SUCCEEDED", "CANCELED", "FAILED"), strict=True):
        sim.force_status(run.id, status)
        once()
    sim.force_status(runs[3].id, "SUCCEEDED")
    sim.force_status(runs[4].id, "CANCELED")
    once()  # both in one poll: one message

    types = [(post["type"], len(run_ids_in([post["message"]]))) for post in webhook.posts]
    assert types == [("success", 1), ("warning", 1), ("failure", 1), ("warning", 2)]

"""The operator commands as a real host runs them: no channel tokens needed to look, clear
words in `status` and `history`, no state file made by looking, test alerts sent at once,
and a readable reason when the API cannot be reached."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support import API_KEY, WebhookSink, cli, free_port, wait_for, write
from watcher.simulator import SimulatorServer

UNKNOWN = "0badc0de-0000-4000-8000-000000000001"


def test_commands_that_never_send_need_no_channel_tokens(tmp_path: Path) -> None:
    """`${VAR}` tokens live only in the daemon's environment (systemd): status, history, track,
    untrack, redeliver and health work without them; check-config still insists on them."""
    config = write(
        tmp_path / "watcher.yaml",
        yaml.safe_dump(
            {
                "state": {"path": str(tmp_path / "state" / "watcher.db")},
                "channels": {
                    "team": "slack://${SLACK_TOKEN_A}/${SLACK_TOKEN_B}/${SLACK_TOKEN_C}/#ml-runs"
                },
                "health": {"listen": f"127.0.0.1:{free_port()}"},
            }
        ),
    )
    commands: list[list[str]] = [
        ["track", UNKNOWN],
        ["status"],
        ["status", "--json"],
        ["history"],
        ["history", UNKNOWN, "--json"],
        ["redeliver"],
        ["redeliver", "--channel", "team"],
        ["untrack", UNKNOWN],
    ]
    for command in commands:
        result = cli("--config", str(config), *command, cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr)
        assert "SLACK_TOKEN" not in result.stderr, command
    health = cli("--config", str(config), "health", "--timeout", "2", cwd=tmp_path)
    assert health.returncode == 1, health.stderr  # no daemon: not ready, but the config loaded
    assert "not ready" in health.stderr
    assert "SLACK_TOKEN" not in health.stderr
    checked = cli(
        "--config", str(config), "check-config", cwd=tmp_path, env={"DATAFRAMER_API_KEY": "k" * 8}
    )
    assert checked.returncode == 2
    assert "SLACK_TOKEN_A" in checked.stderr


def test_status_words_gone_never_seen_samples_and_absolute_state(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink
) -> None:
    """A run that 404'd before it was ever seen is `GONE (never seen)`, samples read
    `N ok, M failed`, and the state file is named by its absolute path."""
    config = write(
        tmp_path / "watcher.yaml",
        yaml.safe_dump(
            {
                "dataframer": {"base_url": simulator.url},
                "state": {"path": "state/watcher.db"},  # relative: to the working directory
                "channels": {"hook": webhook.url()},
                "health": {"enabled": False},
                "log": {"format": "json"},
            }
        ),
    )
    (finished,) = simulator.sim.create_runs(outcomes=["SUCCEEDED"])
    simulator.sim.force_status(finished.id, "SUCCEEDED")
    assert cli("--config", str(config), "track", finished.id, UNKNOWN, cwd=tmp_path).returncode == 0
    once = cli("--config", str(config), "once", cwd=tmp_path, env={"DATAFRAMER_API_KEY": API_KEY})
    assert once.returncode == 0, once.stderr

    data = json.loads(cli("--config", str(config), "status", "--json", cwd=tmp_path).stdout)
    state = str(tmp_path.resolve() / "state" / "watcher.db")
    assert data["state"] == state
    by_id = {run["run_id"]: run for run in data["runs"]}
    assert by_id[UNKNOWN]["gone"] is True
    assert by_id[UNKNOWN]["status"] is None
    done = by_id[finished.id]
    text = cli("--config", str(config), "status", cwd=tmp_path).stdout
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()}
    assert "GONE (never seen)" in lines[UNKNOWN]
    assert "None" not in text
    samples = f"{done['samples_completed'] or 0} ok, {done['samples_failed'] or 0} failed"
    assert samples in lines[finished.id]

    # With no state file yet, the path shown is absolute too.
    fresh = write(tmp_path / "fresh.yaml", "state:\n  path: elsewhere/w.db\n")
    empty = cli("--config", str(fresh), "status", cwd=tmp_path)
    assert str(tmp_path.resolve() / "elsewhere" / "w.db") in empty.stdout


def test_untrack_without_a_state_file_creates_nothing(tmp_path: Path) -> None:
    """untrack before anything was tracked: each id "not tracked", exit 0, no file or dir."""
    state_dir = tmp_path / "state"
    config = write(tmp_path / "watcher.yaml", f"state:\n  path: {state_dir / 'watcher.db'}\n")
    result = cli("--config", str(config), "untrack", UNKNOWN, "run-2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{UNKNOWN}: not tracked", "run-2: not tracked"]
    assert not state_dir.exists()
    # track is the one that creates it.
    assert cli("--config", str(config), "track", UNKNOWN, cwd=tmp_path).returncode == 0
    assert (state_dir / "watcher.db").exists()


def test_history_of_a_run_without_history_names_it(tmp_path: Path) -> None:
    """history RUN_ID with nothing recorded says so for that run; without an id, generically."""
    config = write(tmp_path / "watcher.yaml", f"state:\n  path: {tmp_path / 'w.db'}\n")
    before = cli("--config", str(config), "history", UNKNOWN, cwd=tmp_path)
    assert before.returncode == 0
    assert before.stdout.strip() == f"no history for run {UNKNOWN}"
    cli("--config", str(config), "track", UNKNOWN, cwd=tmp_path)
    tracked = cli("--config", str(config), "history", UNKNOWN, cwd=tmp_path)
    assert tracked.stdout.strip() == f"no history for run {UNKNOWN}"
    assert cli("--config", str(config), "history", cwd=tmp_path).stdout.strip() == "no history yet"


@pytest.fixture
def barrier_sink() -> Iterator[WebhookSink]:
    """A sink that answers no post until six wait at once: channels sent one after another
    never get there (the first send times out waiting)."""
    with WebhookSink(barrier=6) as sink:
        yield sink


def test_test_notify_sends_to_every_channel_at_once(
    tmp_path: Path, barrier_sink: WebhookSink
) -> None:
    """Six channels (above delivery.concurrency) are all in flight together: a receiver that
    answers only once all six are waiting sees every one, and each is reported in order."""
    names = [f"ch{i}" for i in range(6)]
    config = write(
        tmp_path / "watcher.yaml",
        yaml.safe_dump(
            {
                "channels": {name: barrier_sink.url(name) for name in names},
                "delivery": {"timeout": "20s", "concurrency": 2},
            }
        ),
    )
    result = cli("--config", str(config), "test-notify", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"{name}: ok" for name in names]
    assert sorted(r.path for r in barrier_sink.requests) == [f"/{name}" for name in names]


def test_once_against_an_unreachable_api_says_why(tmp_path: Path) -> None:
    """once with nothing listening at the base URL: exit 1, "connection refused", not the
    name of an httpx class."""
    base_url = f"http://127.0.0.1:{free_port()}"
    config = write(
        tmp_path / "watcher.yaml",
        yaml.safe_dump(
            {
                "dataframer": {"base_url": base_url},
                "state": {"path": str(tmp_path / "w.db")},
                "track": {"all": True},
                "health": {"enabled": False},
                "log": {"format": "json"},
            }
        ),
    )
    result = cli("--config", str(config), "once", cwd=tmp_path, env={"DATAFRAMER_API_KEY": API_KEY})
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("dataframer-watcher: ")
    assert base_url in last
    assert "connection refused" in last
    assert "ConnectError" not in result.stderr
    assert API_KEY not in result.stderr + result.stdout


def test_a_channel_removed_from_the_config_says_so_in_history_status_and_redeliver(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink
) -> None:
    """A channel dropped from the config: its queued alert dies with the reason in plain
    `history` (not only in --json), `status` marks the channel, and `redeliver` says why it
    cannot requeue to it instead of "no channel named"."""
    sim = simulator.sim
    (run,) = sim.create_runs(status=["PROCESSING"])
    broken = f"json://127.0.0.1:{free_port()}/hook"
    base = {
        "dataframer": {"base_url": simulator.url},
        "state": {"path": str(tmp_path / "w.db")},
        "track": {"all": True},
        "delivery": {"retry_initial": "100ms", "retry_max": "100ms"},
        "health": {"enabled": False},
        "log": {"format": "json"},
    }
    config = tmp_path / "watcher.yaml"
    env = {"DATAFRAMER_API_KEY": API_KEY}

    def once(channels: dict[str, str]) -> None:
        write(config, yaml.safe_dump({**base, "channels": channels}))
        cli("--config", str(config), "once", cwd=tmp_path, env=env)

    once({"a": webhook.url(), "b": broken})  # the baseline
    sim.force_status(run.id, "FAILED")
    once({"a": webhook.url(), "b": broken})  # a gets it, b refuses
    assert webhook.run_ids() == [run.id]

    def dead() -> bool:
        once({"a": webhook.url()})  # b is gone from the config
        return "given up:" in cli("--config", str(config), "history", cwd=tmp_path).stdout

    wait_for(dead, what="b's delivery to be given up")
    history = cli("--config", str(config), "history", cwd=tmp_path).stdout
    assert "given up: channel 'b' is no longer configured" in history
    status = cli("--config", str(config), "status", cwd=tmp_path).stdout
    assert "  b: 0 sent, 0 pending, 0 retrying, 1 dead (no longer configured" in status
    assert json.loads(cli("--config", str(config), "status", "--json", cwd=tmp_path).stdout)[
        "removed_channels"
    ] == ["b"]
    one = cli("--config", str(config), "redeliver", "--channel", "B", cwd=tmp_path)
    assert one.returncode == 2
    assert one.stderr.strip() == (
        "dataframer-watcher: channel 'b' is no longer configured, so its 1 dead delivery"
        " cannot be requeued: add it back under `channels:` first"
    )
    every = cli("--config", str(config), "redeliver", cwd=tmp_path)
    assert every.returncode == 0
    assert every.stdout.splitlines() == [
        "requeued 0 dead deliveries",
        "1 dead delivery for channel 'b' stays dead: it is no longer configured",
    ]
    assert cli("--config", str(config), "redeliver", "--channel", "c", cwd=tmp_path).returncode == 2


def test_status_shortens_a_long_spec_name_and_json_keeps_it(
    tmp_path: Path, simulator: SimulatorServer
) -> None:
    """A 300-character spec name does not stretch every line of the table; --json has it all."""
    name = "invoice-" + "x" * 292
    (run,) = simulator.sim.create_runs(status=["PROCESSING"], spec_name=name)
    config = write(
        tmp_path / "watcher.yaml",
        yaml.safe_dump(
            {
                "dataframer": {"base_url": simulator.url},
                "state": {"path": str(tmp_path / "w.db")},
                "track": {"runs": [run.id]},
                "health": {"enabled": False},
                "log": {"format": "json"},
            }
        ),
    )
    env = {"DATAFRAMER_API_KEY": API_KEY}
    assert cli("--config", str(config), "once", cwd=tmp_path, env=env).returncode == 0
    table = cli("--config", str(config), "status", cwd=tmp_path).stdout.splitlines()
    assert max(len(line) for line in table) < 160
    assert "  invoice-" + "x" * 31 + "…  PROCESSING" in table[1]
    data = json.loads(cli("--config", str(config), "status", "--json", cwd=tmp_path).stdout)
    assert data["runs"][0]["spec_name"] == name


def test_once_exits_1_when_a_send_failed_and_says_what_is_queued(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink
) -> None:
    """A cron user must see it: a refused send makes `once` exit 1 with one line naming how
    many failed and on which channels they wait for a retry; when all went out, exit 0."""
    sim = simulator.sim
    (run,) = sim.create_runs(status=["PROCESSING"])
    config = write(
        tmp_path / "watcher.yaml",
        yaml.safe_dump(
            {
                "dataframer": {"base_url": simulator.url},
                "state": {"path": str(tmp_path / "w.db")},
                "track": {"all": True},
                "channels": {"ok": webhook.url(), "down": f"json://127.0.0.1:{free_port()}/x"},
                "health": {"enabled": False},
                "log": {"format": "json"},
            }
        ),
    )
    env = {"DATAFRAMER_API_KEY": API_KEY}
    baseline = cli("--config", str(config), "once", cwd=tmp_path, env=env)
    assert baseline.returncode == 0, baseline.stderr
    sim.force_status(run.id, "FAILED")
    result = cli("--config", str(config), "once", cwd=tmp_path, env=env)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "dataframer-watcher: 1 delivery failed this run (queued for retry per channel:"
        " down: 1); see `history` for why"
    )
    assert webhook.run_ids() == [run.id]


def _many_runs(db: Path) -> None:
    """A state file with 5 active runs and 300 finished ones (every third FAILED), each a
    minute newer than the one before."""
    from datetime import UTC, datetime, timedelta

    from watcher.events import Snapshot, Source, TickRecord
    from watcher.models import Run
    from watcher.state import Store

    start = datetime(2026, 11, 1, tzinfo=UTC)
    snaps = []
    for i in range(305):
        status = "PROCESSING" if i >= 300 else ("FAILED" if i % 3 == 0 else "SUCCEEDED")
        at = start + timedelta(minutes=i)
        run = Run.model_validate({"id": f"run-{i:03d}", "status": status, "spec_name": "s"})
        snaps.append(Snapshot(run.id, Source.DISCOVERED, status, at, at, at, run=run))
    with Store.open(db) as store:
        store.record(TickRecord(start, tuple(snaps), (), ()))


def test_status_stays_readable_with_many_runs_and_filters_as_asked(tmp_path: Path) -> None:
    """Without a filter: every active run and the 20 newest finished, then one line counting
    the rest; --active, --status (repeatable, any case) and --limit choose; --json lists all."""
    db = tmp_path / "w.db"
    _many_runs(db)
    config = write(tmp_path / "watcher.yaml", f"state:\n  path: {db}\n")

    def status(*args: str) -> list[str]:
        result = cli("--config", str(config), "status", *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return [
            line.split()[0] for line in result.stdout.splitlines()[1:] if line.startswith("run-")
        ]

    default = status()
    assert default[:5] == [f"run-{i}" for i in (304, 303, 302, 301, 300)]  # active, newest first
    assert default[5:] == [f"run-{i:03d}" for i in range(299, 279, -1)]  # the 20 newest finished
    text = cli("--config", str(config), "status", cwd=tmp_path).stdout
    assert "… and 280 more not shown (94 FAILED, 186 SUCCEEDED)" in text
    assert status("--active") == [f"run-{i}" for i in (304, 303, 302, 301, 300)]
    failed = status("--status", "failed")
    assert failed == [f"run-{i:03d}" for i in range(297, -1, -3)]
    assert set(status("--status", "FAILED", "--status", "PROCESSING")) == set(failed) | {
        f"run-{i}" for i in range(300, 305)
    }
    assert status("--limit", "3") == ["run-304", "run-303", "run-302"]
    data = json.loads(cli("--config", str(config), "status", "--json", cwd=tmp_path).stdout)
    assert len(data["runs"]) == 305
    assert data["not_shown"] == {}

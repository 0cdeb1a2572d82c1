"""The command line as users meet it: exit codes, one-line errors, no secrets, working views."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support import API_KEY, ROOT, WebhookSink, cli, free_port, write
from watcher.simulator import SimulatorServer

SECRET_KEY = "sk-live-0123456789abcdef"
SECRET_PASSWORD = "hunter2-pass-word"
SECRET_TOKEN = "tok-abcdef-9876543210"


BAD_CONFIGS = {
    "invalid-yaml": ("poll:\n  interval: [30s\n", "watcher.yaml"),
    "unknown-key": ("poll:\n  intervall: 30s\n", "poll.intervall"),
    "unknown-section": ("polling:\n  interval: 30s\n", "polling"),
    "route-missing-channel": (
        "channels:\n  team: json://127.0.0.1:9/x\nroutes:\n  - statuses: [FAILED]\n"
        "    channels: [pager]\n",
        "pager",
    ),
    "negative-interval": ("poll:\n  interval: -5s\n", "poll.interval"),
    "bad-duration-unit": ("poll:\n  interval: 5 fortnights\n", "poll.interval"),
    "bad-status": (
        "channels:\n  team: json://127.0.0.1:9/x\nroutes:\n  - statuses: [EXPLODED]\n"
        "    channels: [team]\n",
        "EXPLODED",
    ),
    "unreadable-api-key-file": (
        "dataframer:\n  api_key_file: /nonexistent/dataframer-key\n",
        "/nonexistent/dataframer-key",
    ),
    "top-level-list": ("- a\n- b\n", "watcher.yaml"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_is_one_line_exit_2(name: str, tmp_path: Path) -> None:
    """Each bad config: exit 2, one line on stderr naming the file and the field, no traceback."""
    text, must_name = BAD_CONFIGS[name]
    config = write(tmp_path / "watcher.yaml", text)
    # An API key in the environment would win over api_key_file, hiding that case.
    env = {} if "api_key_file" in text else {"DATAFRAMER_API_KEY": SECRET_KEY}
    result = cli(
        "--config",
        str(config),
        "check-config",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(config) in lines[0]
    assert must_name in lines[0]
    assert SECRET_KEY not in result.stderr + result.stdout


def test_missing_api_key_is_exit_2(tmp_path: Path) -> None:
    """No key anywhere: one line saying how to give one, exit 2."""
    config = write(tmp_path / "watcher.yaml", "poll:\n  interval: 30s\n")
    result = cli("--config", str(config), "check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "DATAFRAMER_API_KEY" in result.stderr


def test_missing_named_config_file_is_exit_2(tmp_path: Path) -> None:
    """--config naming a file that does not exist is an error, not a silent default."""
    result = cli("--config", str(tmp_path / "nope.yaml"), "check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_usage_is_exit_2(tmp_path: Path) -> None:
    """Unknown commands, missing arguments and bad run ids exit 2."""
    assert cli("frobnicate", cwd=tmp_path).returncode == 2
    assert cli("track", cwd=tmp_path).returncode == 2
    bad_id = cli("track", "../../etc/passwd", cwd=tmp_path)
    assert bad_id.returncode == 2
    assert "not a run id" in bad_id.stderr


def test_check_config_redacts_every_secret(tmp_path: Path) -> None:
    """check-config shows the effective config with the key, passwords and tokens masked."""
    config = write(
        tmp_path / "watcher.yaml",
        "channels:\n"
        f'  hook: "json://user:{SECRET_PASSWORD}@127.0.0.1:9/x?+X-Token={SECRET_TOKEN}"\n'
        f'  mail: "mailto://u:${{MAIL_PASSWORD}}@127.0.0.1:2525?from=a@example.com&to=b@example.com"\n'
        '  slack: "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ml-runs"\n',
    )
    result = cli(
        "--config",
        str(config),
        "check-config",
        cwd=tmp_path,
        env={"DATAFRAMER_API_KEY": SECRET_KEY, "MAIL_PASSWORD": SECRET_PASSWORD + "x"},
    )
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["dataframer"]["api_key"] == "***"
    assert set(shown["channels"]) == {"hook", "mail", "slack"}
    everything = result.stdout + result.stderr
    for secret in (SECRET_KEY, SECRET_PASSWORD, SECRET_TOKEN, "TIiajkdnlazkcOXrIdevi7FQ"):
        assert secret not in everything


def test_default_config_file_is_read_from_the_working_directory(tmp_path: Path) -> None:
    """Without --config, ./watcher.yaml is used when present."""
    write(tmp_path / "watcher.yaml", "poll:\n  interval: 7s\n")
    result = cli("check-config", cwd=tmp_path, env={"DATAFRAMER_API_KEY": SECRET_KEY})
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["poll"]["interval"] == "7s"


def test_environment_overrides_yaml(tmp_path: Path) -> None:
    """WATCHER_SECTION__KEY beats the file; DATAFRAMER_BASE_URL is honoured."""
    config = write(tmp_path / "watcher.yaml", "poll:\n  interval: 7s\n")
    result = cli(
        "--config",
        str(config),
        "check-config",
        cwd=tmp_path,
        env={
            "DATAFRAMER_API_KEY": SECRET_KEY,
            "WATCHER_POLL__INTERVAL": "9s",
            "DATAFRAMER_BASE_URL": "http://127.0.0.1:1234",
        },
    )
    shown = yaml.safe_load(result.stdout)
    assert shown["poll"]["interval"] == "9s"
    assert shown["dataframer"]["base_url"] == "http://127.0.0.1:1234"


def test_example_config_is_valid_and_documents_every_key(tmp_path: Path) -> None:
    """config/watcher.example.yaml loads, and names every key check-config prints."""
    example = Path(__file__).parents[2] / "config" / "watcher.example.yaml"
    result = cli(
        "--config",
        str(example),
        "check-config",
        cwd=tmp_path,
        env={"DATAFRAMER_API_KEY": SECRET_KEY},
    )
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    text = example.read_text()
    for section, keys in shown.items():
        assert f"\n{section}:" in "\n" + text
        if isinstance(keys, dict) and section != "channels":
            for key in keys:
                documented = re.search(rf"^\s+(# )?{key}:", text, re.MULTILINE)
                assert documented, f"{section}.{key} is not documented"


def test_readme_config_runs(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink
) -> None:
    """The README's minimal config loads (channels pointed at local servers) and `once` works."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    data = yaml.safe_load(block)
    assert set(data) >= {"channels", "routes", "track"}
    key_file = write(tmp_path / "key", API_KEY + "\n")
    data["dataframer"] = {"api_key_file": str(key_file), "base_url": simulator.url}
    data["channels"] = {name: webhook.url() for name in data["channels"]}
    data["state"] = {"path": str(tmp_path / "state.db")}
    data["health"] = {"enabled": False}
    config = write(tmp_path / "watcher.yaml", yaml.safe_dump(data))
    assert cli("--config", str(config), "check-config", cwd=tmp_path).returncode == 0
    result = cli("--config", str(config), "once", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def _sim_config(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink, **extra: object
) -> Path:
    data: dict[str, object] = {
        "dataframer": {"base_url": simulator.url},
        "state": {"path": str(tmp_path / "state" / "watcher.db")},
        "channels": {"hook": webhook.url()},
        "health": {"enabled": False},
        "log": {"format": "json"},
    }
    data.update(extra)
    return write(tmp_path / "watcher.yaml", yaml.safe_dump(data))


def test_track_once_status_history(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink
) -> None:
    """track -> once -> status/history show the run, its transition and the delivery."""
    config = _sim_config(tmp_path, simulator, webhook)
    finished, running = simulator.sim.create_runs(outcomes=["SUCCEEDED", "FAILED"])
    simulator.sim.force_status(finished.id, "SUCCEEDED")
    simulator.sim.force_status(running.id, "PROCESSING")
    env = {"DATAFRAMER_API_KEY": API_KEY}
    tracked = cli("--config", str(config), "track", finished.id, running.id, cwd=tmp_path)
    assert tracked.returncode == 0, tracked.stderr
    assert f"{finished.id}: added" in tracked.stdout
    again = cli("--config", str(config), "track", finished.id, cwd=tmp_path)
    assert "already tracked" in again.stdout

    once = cli("--config", str(config), "once", cwd=tmp_path, env=env)
    assert once.returncode == 0, once.stderr
    assert webhook.run_ids() == [finished.id]
    assert API_KEY not in once.stderr + once.stdout

    status = cli("--config", str(config), "status", "--json", cwd=tmp_path)
    data = json.loads(status.stdout)
    by_id = {run["run_id"]: run for run in data["runs"]}
    assert by_id[finished.id]["status"] == "SUCCEEDED"
    assert by_id[running.id]["status"] == "PROCESSING"
    assert by_id[finished.id]["spec_name"] == finished.spec_name
    assert data["deliveries"]["hook"]["sent"] == 1
    text = cli("--config", str(config), "status", cwd=tmp_path).stdout
    assert finished.id in text
    assert "SUCCEEDED" in text
    assert "hook: 1 sent" in text

    history = json.loads(
        cli("--config", str(config), "history", finished.id, "--json", cwd=tmp_path).stdout
    )
    kinds = [entry["kind"] for entry in history]
    assert kinds == ["delivery", "event"] or set(kinds) == {"delivery", "event"}
    delivery = next(e for e in history if e["kind"] == "delivery")
    assert delivery["status"] == "sent"
    assert delivery["attempt_log"][0]["ok"] is True
    assert finished.id in cli("--config", str(config), "history", cwd=tmp_path).stdout

    untracked = cli("--config", str(config), "untrack", running.id, cwd=tmp_path)
    assert f"{running.id}: untracked" in untracked.stdout
    after = json.loads(cli("--config", str(config), "status", "--json", cwd=tmp_path).stdout)
    assert running.id not in {run["run_id"] for run in after["runs"]}
    # In words the README and --help use: not "unmuted" or "re-armed".
    back = cli("--config", str(config), "track", running.id, cwd=tmp_path)
    assert back.stdout.strip() == f"{running.id}: tracked again"
    help_text = cli("track", "--help", cwd=tmp_path).stdout
    readme = (ROOT / "README.md").read_text()
    assert "tracked again" in " ".join(help_text.split())
    assert "tracked again" in readme


def test_status_without_state_file_is_empty(tmp_path: Path) -> None:
    """status and history before the first run: empty answers, exit 0."""
    config = write(tmp_path / "watcher.yaml", f"state:\n  path: {tmp_path / 'none.db'}\n")
    status = cli("--config", str(config), "status", "--json", cwd=tmp_path)
    assert status.returncode == 0
    assert json.loads(status.stdout)["runs"] == []
    assert cli("--config", str(config), "history", cwd=tmp_path).stdout.strip() == "no history yet"


def test_corrupt_state_file_is_exit_1_and_untouched(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink
) -> None:
    """A state file that is not SQLite: one line naming it, exit 1, bytes unchanged."""
    config = _sim_config(tmp_path, simulator, webhook)
    state = tmp_path / "state" / "watcher.db"
    state.parent.mkdir()
    state.write_bytes(b"this is not a database" * 100)
    for command in (["once"], ["status"], ["track", "abc-123"]):
        result = cli(
            "--config", str(config), *command, cwd=tmp_path, env={"DATAFRAMER_API_KEY": API_KEY}
        )
        assert result.returncode == 1, (command, result.stderr)
        assert str(state) in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert state.read_bytes() == b"this is not a database" * 100


def test_once_with_wrong_key_is_exit_1(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink
) -> None:
    """once with a refused key: one line naming the base URL, exit 1, no key printed."""
    config = _sim_config(tmp_path, simulator, webhook, track={"all": True})
    result = cli(
        "--config", str(config), "once", cwd=tmp_path, env={"DATAFRAMER_API_KEY": SECRET_KEY}
    )
    assert result.returncode == 1
    assert simulator.url in result.stderr
    assert SECRET_KEY not in result.stderr + result.stdout


def test_test_notify_reports_each_channel(tmp_path: Path, webhook: WebhookSink, smtp) -> None:
    """test-notify: ok for the live channels, FAILED with a reason for the dead one, exit 1."""
    dead_port = free_port()
    config = write(
        tmp_path / "watcher.yaml",
        yaml.safe_dump(
            {
                "channels": {
                    "hook": webhook.url(),
                    "mail": smtp.url,
                    "dead": f"json://user:{SECRET_PASSWORD}@127.0.0.1:{dead_port}/x",
                },
                "delivery": {"timeout": "5s"},
            }
        ),
    )
    result = cli("--config", str(config), "test-notify", cwd=tmp_path)
    assert result.returncode == 1
    lines = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines())
    assert lines["hook"] == "ok"
    assert lines["mail"] == "ok"
    assert lines["dead"].startswith("FAILED")
    assert SECRET_PASSWORD not in result.stdout + result.stderr
    assert len(webhook.posts) == 1
    assert len(smtp.messages) == 1

    one = cli("--config", str(config), "test-notify", "--channel", "HOOK", cwd=tmp_path)
    assert one.returncode == 0
    assert one.stdout.strip() == "hook: ok"
    unknown = cli("--config", str(config), "test-notify", "--channel", "nope", cwd=tmp_path)
    assert unknown.returncode == 2
    assert "nope" in unknown.stderr


def test_help_lists_every_command(tmp_path: Path) -> None:
    """--help names every command of the README's commands table, and nothing the table lacks."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("| command | does |", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"^\| `([a-z-]+)", table, re.MULTILINE))
    documented |= set(re.findall(r"/ `([a-z-]+) ", table))
    assert {"run", "once", "track", "untrack", "mute", "unmute", "mutes", "render"} <= documented
    out = cli("--help", cwd=tmp_path).stdout
    listed = set(re.findall(r"^  ([a-z][a-z-]+)\s", out.split("Commands:", 1)[1], re.MULTILINE))
    assert listed == documented


def test_readme_config_reference_names_every_key(tmp_path: Path) -> None:
    """The README's config reference table has a row for every key check-config prints."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme.split("### Config reference", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_.<>\[\]]+)` \|", table, re.MULTILINE))
    result = cli("check-config", cwd=tmp_path, env={"DATAFRAMER_API_KEY": SECRET_KEY})
    shown = yaml.safe_load(result.stdout)
    for section, keys in shown.items():
        if section == "channels":
            assert "channels.<name>" in documented
        elif section == "routes":
            assert {"routes[].statuses", "routes[].channels", "routes[].specs"} <= documented
        else:
            for key in keys:
                assert f"{section}.{key}" in documented, f"{section}.{key} missing from README"

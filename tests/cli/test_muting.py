"""`mute`, `unmute`, `mutes` as users run them: ids to type back, one-line errors, and a
muted alert that shows in `history` instead of going out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support import API_KEY, WebhookSink, cli, wait_for, write
from watcher.simulator import SimulatorServer
from watcher.simulator.sink import run_ids_in


def _config(tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink) -> Path:
    return write(
        tmp_path / "watcher.yaml",
        yaml.safe_dump(
            {
                "dataframer": {"base_url": simulator.url},
                "state": {"path": str(tmp_path / "w.db")},
                "track": {"all": True},
                "channels": {"team": webhook.url()},
                "health": {"enabled": False},
                "log": {"format": "json"},
            }
        ),
    )


def test_a_muted_spec_is_suppressed_shown_in_history_and_unmuted(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink
) -> None:
    """`mute --spec` prints the id; the next poll's alert for that spec is not sent and
    `history` says which mute suppressed it; `mutes` lists it; `unmute` ends it."""
    sim = simulator.sim
    (noisy,) = sim.create_runs(status=["PROCESSING"], spec_name="spam-detector")
    (other,) = sim.create_runs(status=["PROCESSING"], spec_name="invoice-extraction")
    config = _config(tmp_path, simulator, webhook)
    env = {"DATAFRAMER_API_KEY": API_KEY}

    def run(*args: str) -> tuple[int, str, str]:
        result = cli("--config", str(config), *args, cwd=tmp_path, env=env)
        return result.returncode, result.stdout, result.stderr

    assert run("once")[0] == 0  # the baseline
    code, out, err = run("mute", "--spec", "spam-*", "--for", "2h", "--reason", "too chatty")
    assert code == 0, err
    mute_id = out.strip()
    assert re.fullmatch(r"m-[0-9a-f]{6}", mute_id)
    assert "muted spec 'spam-*' until " in err
    listed = json.loads(run("mutes", "--json")[1])
    assert [(m["id"], m["scope"], m["pattern"], m["reason"]) for m in listed] == [
        (mute_id, "spec", "spam-*", "too chatty")
    ]
    assert mute_id in run("mutes")[1]

    sim.force_status(noisy.id, "FAILED")
    sim.force_status(other.id, "FAILED")
    assert run("once")[0] == 0
    assert webhook.run_ids() == [other.id]
    history = run("history", noisy.id)[1]
    assert f"alert to team: suppressed by mute {mute_id}" in history
    entry = next(
        e for e in json.loads(run("history", noisy.id, "--json")[1]) if e["kind"] == "alert"
    )
    assert (entry["status"], entry["why"]) == ("suppressed", mute_id)

    assert run("unmute", mute_id)[1].strip() == f"{mute_id}: unmuted (spec 'spam-*')"
    assert run("unmute", mute_id)[1].strip() == f"{mute_id}: already over (spec 'spam-*')"
    assert run("mutes")[1].strip() == "no mutes in force"
    assert mute_id in run("mutes", "--all")[1]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["mute", "--for", "1h"], "exactly one of --spec GLOB, --run RUN_ID, --channel NAME"),
        (["mute", "--spec", "a*", "--run", "r-1", "--for", "1h"], "exactly one of"),
        (["mute", "--spec", "a*", "--for", "soon"], "--for: invalid duration 'soon'"),
        (["mute", "--spec", "a*", "--for", "400d"], "at most 365d"),
        (["mute", "--channel", "nope", "--for", "1h"], "no channel named 'nope'"),
        (["mute", "--run", "../etc", "--for", "1h"], "not a run id"),
        (["mute", "--spec", "a*"], "--for"),
        (["unmute", "m-000000"], "no mute 'm-000000'"),
    ],
)
def test_bad_mute_usage_is_one_line_exit_2(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink, args: list[str], says: str
) -> None:
    """Each mistake: exit 2, one line on stderr saying what is wrong, nothing stored."""
    config = _config(tmp_path, simulator, webhook)
    result = cli("--config", str(config), *args, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert says in result.stderr
    assert result.stdout == ""


def test_a_mute_set_while_the_daemon_runs_takes_effect_from_its_next_poll(
    tmp_path: Path, simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """`mute --run` and `mute --channel`, typed while `run` is up, silence the daemon's very
    next poll: the muted alerts are suppressed (history says by which mute), the rest go out,
    and `unmute` lets the next ones through again."""
    sim = simulator.sim
    quiet_run, loud_run, later_run, after_run = sim.create_runs(
        status=["PROCESSING"] * 4, spec_name="nightly"
    )
    config = write_config(
        dataframer={"base_url": simulator.url, "api_key_file": None},
        poll={"interval": "500ms"},
        track={"all": True},
        channels={"team": webhook.url(), "pager": webhook.url("pager")},
    )
    env = {"DATAFRAMER_API_KEY": API_KEY}

    def ids_at(path: str) -> list[str]:
        return run_ids_in(r.message for r in webhook.accepted if r.path == path)

    def run(*args: str) -> str:
        result = cli("--config", str(config), *args, cwd=tmp_path, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    daemon = start_daemon(config)
    daemon.wait_event("tick")  # the silent baseline
    run_mute = run("mute", "--run", quiet_run.id.upper(), "--for", "1h").strip()
    pager_mute = run("mute", "--channel", "PAGER", "--for", "1h").strip()
    # The first poll after the mutes were written (the mutes are read by every tick).
    daemon.wait_event("tick", at_least=daemon.count("tick") + 1)
    sim.force_status(quiet_run.id, "FAILED")
    sim.force_status(loud_run.id, "FAILED")
    daemon.wait_event("alert_suppressed", at_least=3)  # quiet_run to both, loud_run to pager
    wait_for(lambda: loud_run.id in ids_at("/hook"), what="the unmuted run's alert")

    run("unmute", pager_mute)
    daemon.wait_event("tick", at_least=daemon.count("tick") + 1)
    sim.force_status(later_run.id, "SUCCEEDED")
    wait_for(lambda: ids_at("/pager") == [later_run.id], what="pager again")
    run("unmute", run_mute)
    daemon.wait_event("tick", at_least=daemon.count("tick") + 1)
    sim.force_status(after_run.id, "CANCELED")
    wait_for(lambda: after_run.id in ids_at("/pager"), what="the last alert")
    assert daemon.terminate() == 0

    assert quiet_run.id not in webhook.run_ids()
    assert sorted(ids_at("/hook")) == sorted([loud_run.id, later_run.id, after_run.id])
    history = run("history", quiet_run.id)
    # Each of its two alerts names the mute that silenced it.
    assert f"alert to team: suppressed by mute {run_mute}" in history
    assert f"alert to pager: suppressed by mute {pager_mute}" in history
    assert f"suppressed by mute {pager_mute}" in run("history", loud_run.id)

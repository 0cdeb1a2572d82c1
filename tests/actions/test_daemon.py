"""Actions end to end: the watcher as a real process against the simulator, real programs,
real signals. Waits are on conditions (a file, a log line), never on time."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support import API_KEY, DaemonProcess, WebhookSink, cli, wait_for
from watcher.simulator import SimulatorServer, file_content


def _blocking_script(tmp_path: Path) -> list[str]:
    """Counts its runs; the first blocks until `release` exists (bounded), the others exit 0."""
    script = tmp_path / "act.py"
    script.write_text(
        "import os, sys, time\n"
        f"log, release = {str(tmp_path / 'runs.log')!r}, {str(tmp_path / 'release')!r}\n"
        "with open(log, 'a') as f:\n    f.write(f'{os.getpid()}\\n')\n"
        "if len(open(log).read().splitlines()) == 1:\n"
        "    deadline = time.monotonic() + 120\n"
        "    while not os.path.exists(release) and time.monotonic() < deadline:\n"
        "        time.sleep(0.05)\n"
    )
    return [sys.executable, str(script)]


def _runs(tmp_path: Path) -> int:
    log = tmp_path / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_sigkill_during_an_action_reruns_it_once_after_restart(
    tmp_path: Path,
    simulator: SimulatorServer,
    write_config: Callable[..., Path],
    start_daemon: Callable[..., DaemonProcess],
) -> None:
    """The daemon dies (SIGKILL) while the action runs; the next daemon records that attempt
    as interrupted and runs the action once more, then never again."""
    run = simulator.sim.add_run(outcome="SUCCEEDED", number_of_samples=5, created_ago_seconds=1e4)
    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        track={"runs": [run.id]},
        routes=[{"statuses": ["SUCCEEDED"], "actions": [{"exec": _blocking_script(tmp_path)}]}],
    )
    first = start_daemon(config)
    try:
        wait_for(lambda: _runs(tmp_path) == 1, what="the action to start")
        first.kill()
        second = start_daemon(config)
        second.wait_event("action_done")
        second.wait_event("tick", at_least=second.count("tick") + 5)  # room for a repeat
        assert _runs(tmp_path) == 2
        assert second.count("action_interrupted") == 1
        assert second.terminate() == 0
    finally:
        (tmp_path / "release").touch()  # the first run, orphaned by the kill, ends too
    done = cli("--config", str(config), "history", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (action,) = [e for e in json.loads(done.stdout) if e["kind"] == "action"]
    assert (action["status"], action["attempts"]) == ("done", 2)
    assert [(a["ok"], a["reason"]) for a in action["attempt_log"]] == [
        (False, "interrupted: the watcher stopped while the action ran"),
        (True, None),
    ]


def test_once_alerts_runs_and_downloads_and_shows_it_all(
    tmp_path: Path,
    simulator: SimulatorServer,
    webhook: WebhookSink,
    write_config: Callable[..., Path],
) -> None:
    """A finished run tracked: `once` sends its alert, runs its exec action with the run on
    stdin and saves its files; `status` and `history` show both actions done; the key
    appears nowhere."""
    run = simulator.sim.add_run(outcome="SUCCEEDED", number_of_samples=20, created_ago_seconds=1e4)
    seen = tmp_path / "seen.json"
    program = tmp_path / "ingest.py"
    program.write_text(
        "import json, os, sys\n"
        "seen = {'run': json.load(sys.stdin), 'id': os.environ['DATAFRAMER_RUN_ID']}\n"
        f"json.dump(seen, open({str(seen)!r}, 'w'))\n"
        "print('ingested', os.environ['DATAFRAMER_RUN_ID'])\n"
    )
    config = write_config(
        dataframer={"base_url": simulator.url},
        track={"runs": [run.id]},
        channels={"hook": webhook.url()},
        routes=[
            {
                "statuses": ["SUCCEEDED"],
                "channels": ["hook"],
                "actions": [{"exec": [sys.executable, str(program)]}, {"download": "files"}],
            }
        ],
    )
    env = {"DATAFRAMER_API_KEY": API_KEY}
    once = cli("--config", str(config), "once", cwd=tmp_path, env=env)
    assert once.returncode == 0, once.stderr
    assert webhook.run_ids() == [run.id]
    assert json.loads(seen.read_text())["id"] == run.id
    assert json.loads(seen.read_text())["run"]["status"] == "SUCCEEDED"
    detail = simulator.sim.detail(run.id)
    for file in detail["generated_files"]:
        saved = tmp_path / "files" / run.id / file["path"]
        assert saved.read_bytes() == file_content(file["id"], file["size_bytes"])
    assert simulator.sim.stats.files()["with_authorization"] == 0
    status = cli("--config", str(config), "status", "--json", cwd=tmp_path)
    assert json.loads(status.stdout)["actions"] == {
        "pending": 0,
        "retrying": 0,
        "done": 2,
        "dead": 0,
        "suppressed": 0,
    }
    text = cli("--config", str(config), "status", cwd=tmp_path).stdout
    assert "actions: 2 done, 0 pending, 0 retrying, 0 dead" in text
    history = cli("--config", str(config), "history", run.id, cwd=tmp_path).stdout
    assert f"exec {sys.executable}: done after 1 attempt(s)  run: {run.id}" in history
    assert f"download to {tmp_path / 'files'}: done after 1 attempt(s)" in history
    again = cli("--config", str(config), "once", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert "action_started" not in again.stderr  # done is done
    assert API_KEY not in once.stdout + once.stderr + again.stderr + history


def test_once_exits_1_naming_a_failed_action(
    tmp_path: Path, simulator: SimulatorServer, write_config: Callable[..., Path]
) -> None:
    """A cron job sees that an action failed: exit 1 and one line, the action still queued."""
    run = simulator.sim.add_run(outcome="FAILED", number_of_samples=5, created_ago_seconds=1e4)
    config = write_config(
        dataframer={"base_url": simulator.url},
        track={"runs": [run.id]},
        routes=[{"statuses": ["FAILED"], "actions": [{"exec": [sys.executable, "-c", "exit(4)"]}]}],
    )
    once = cli("--config", str(config), "once", cwd=tmp_path, env={"DATAFRAMER_API_KEY": API_KEY})
    assert once.returncode == 1
    assert once.stderr.splitlines()[-1] == (
        "dataframer-watcher: 1 action failed this run (1 queued for retry); see `history` for why"
    )


def test_sigterm_during_an_action_kills_it_after_the_grace_and_runs_it_at_next_start(
    tmp_path: Path,
    simulator: SimulatorServer,
    write_config: Callable[..., Path],
    start_daemon: Callable[..., DaemonProcess],
) -> None:
    """A stop gives running actions their grace period, then kills the program's group and
    records the attempt as interrupted (exit 0); the next start runs the action again."""
    run = simulator.sim.add_run(outcome="SUCCEEDED", number_of_samples=5, created_ago_seconds=1e4)
    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        track={"runs": [run.id]},
        routes=[{"statuses": ["SUCCEEDED"], "actions": [{"exec": _blocking_script(tmp_path)}]}],
    )
    first = start_daemon(config)
    wait_for(lambda: _runs(tmp_path) == 1, what="the action to start")
    assert first.terminate(timeout=60) == 0
    assert first.count("actions_cut_short") == 1
    pid = int((tmp_path / "runs.log").read_text().split()[0])
    wait_for(lambda: not Path(f"/proc/{pid}").exists() or _zombie(pid), what="the program to die")
    history = json.loads(cli("--config", str(config), "history", "--json", cwd=tmp_path).stdout)
    (action,) = [e for e in history if e["kind"] == "action"]
    assert action["status"] == "retrying"
    assert action["last_error"] == "interrupted: the watcher stopped while the action ran"
    second = start_daemon(config)
    second.wait_event("action_done")
    assert second.count("action_interrupted") == 0  # the stop recorded it already
    assert second.terminate() == 0
    assert _runs(tmp_path) == 2


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_a_slow_action_holds_back_neither_polls_nor_sends(
    tmp_path: Path,
    simulator: SimulatorServer,
    webhook: WebhookSink,
    write_config: Callable[..., Path],
    start_daemon: Callable[..., DaemonProcess],
) -> None:
    """While one run's action blocks, another run's finish is seen and alerted."""
    slow = simulator.sim.add_run(outcome="SUCCEEDED", number_of_samples=5, created_ago_seconds=1e4)
    other = simulator.sim.add_run(outcome="FAILED", processing_seconds=3600)
    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        track={"runs": [slow.id, other.id]},
        channels={"hook": webhook.url()},
        routes=[
            {"statuses": ["SUCCEEDED"], "actions": [{"exec": _blocking_script(tmp_path)}]},
            {"statuses": ["FAILED"], "channels": ["hook"]},
        ],
    )
    daemon = start_daemon(config)
    try:
        wait_for(lambda: _runs(tmp_path) == 1, what="the slow action to start")
        simulator.sim.force_status(other.id, "FAILED")
        wait_for(lambda: webhook.run_ids() == [other.id], what="the other run's alert")
        assert not (tmp_path / "release").exists()  # the action was blocked all along
        assert _runs(tmp_path) == 1
    finally:
        (tmp_path / "release").touch()
    daemon.wait_event("action_done")
    assert daemon.terminate() == 0
    history = json.loads(cli("--config", str(config), "history", "--json", cwd=tmp_path).stdout)
    (action,) = [e for e in history if e["kind"] == "action"]
    assert (action["action"], action["status"]) == (f"exec {sys.executable}", "done")
    assert action["run_ids"] == [slow.id]

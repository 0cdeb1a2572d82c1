"""Actions on jobs of every kind: routes chosen by `kinds`, the program told the job's kind
and full reference, downloads under the reference for the kinds that have files. The daemon
is a real process against the simulator, which finishes the jobs on its own clock."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

from tests.support import API_KEY, START, DaemonProcess, ManualClock, cli
from watcher.actions.download import storage_client
from watcher.actions.runner import ActionRunner
from watcher.api import DataframerClient
from watcher.deliver.policy import RetryPolicy
from watcher.events import Event, EventKind, PlannedAction, Snapshot, Source, TickRecord
from watcher.simulator import SimulatorServer, file_content
from watcher.state import Store

ENV = {"DATAFRAMER_API_KEY": API_KEY}


def _recorder(tmp_path: Path) -> tuple[list[str], Path]:
    """A program that appends what it was given (environment, stdin) as one JSON line."""
    seen = tmp_path / "seen.jsonl"
    script = tmp_path / "record.py"
    script.write_text(
        "import json, os, sys\n"
        "names = ('DATAFRAMER_RUN_ID', 'DATAFRAMER_RUN_KIND', 'DATAFRAMER_RUN_STATUS',"
        " 'DATAFRAMER_SPEC_NAME', 'DATAFRAMER_API_KEY')\n"
        "line = {'env': {n: os.environ.get(n) for n in names}, 'stdin': json.load(sys.stdin)}\n"
        f"with open({str(seen)!r}, 'a') as f:\n"
        "    f.write(json.dumps(line) + '\\n')\n"
    )
    return [sys.executable, str(script)], seen


def test_actions_follow_the_route_kinds_and_name_the_job_by_its_reference(
    tmp_path: Path,
    simulator: SimulatorServer,
    write_config: Callable[..., Path],
    start_daemon: Callable[..., DaemonProcess],
) -> None:
    """A route with `kinds: [evaluation]` runs its program for the evaluation only, with its
    kind, full reference and detail read; a download on anonymization and red-team runs saves
    the anonymization's files under its reference, byte for byte and without the key, and
    is done with nothing to fetch for the red-team run, which has no files."""
    sim = simulator.sim
    timing = {"pending_seconds": 1.0, "processing_seconds": 1.5}
    run = sim.add_run(status="SUCCEEDED", number_of_samples=20)
    evaluation = sim.add_evaluation(run.id, outcome="SUCCEEDED", **timing)
    red = sim.add_red_team_run(outcome="FAILED", **timing)
    anon = sim.add_anonymization_run(outcome="SUCCEEDED", **timing)
    refs = [f"evaluation:{evaluation.id}", f"red-team:{red.id}", f"anonymization:{anon.id}"]
    argv, seen = _recorder(tmp_path)
    files = tmp_path / "files"
    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        track={"runs": [run.id, *refs]},
        routes=[
            {"kinds": ["evaluation"], "statuses": ["SUCCEEDED"], "actions": [{"exec": argv}]},
            {"kinds": ["anonymization", "red_team"], "actions": [{"download": str(files)}]},
        ],
    )
    daemon = start_daemon(config)
    daemon.wait_event("action_done", at_least=3, timeout=120)
    daemon.wait_event("tick", at_least=daemon.count("tick") + 3)  # room for one too many
    assert daemon.terminate() == 0
    assert daemon.count("action_done") == 3

    (line,) = [json.loads(text) for text in seen.read_text().splitlines()]
    assert line["env"] == {
        "DATAFRAMER_RUN_ID": refs[0],
        "DATAFRAMER_RUN_KIND": "evaluation",
        "DATAFRAMER_RUN_STATUS": "SUCCEEDED",
        "DATAFRAMER_SPEC_NAME": "",  # an evaluation has no spec
        "DATAFRAMER_API_KEY": None,
    }
    assert (line["stdin"]["id"], line["stdin"]["status"]) == (evaluation.id, "SUCCEEDED")
    assert line["stdin"]["run_id"] == run.id

    detail = sim.detail(anon.id, "anonymization")
    assert detail["anonymized_files"], "the simulator's anonymization produced files"
    for index, file in enumerate(detail["anonymized_files"]):
        saved = files / refs[2] / file["path"]
        assert saved.read_bytes() == file_content(f"{anon.id}/{index}", file["size_in_bytes"])
    assert sorted(p.name for p in files.iterdir()) == [refs[2]]  # nothing for the red-team run
    assert sim.stats.files()["with_authorization"] == 0
    assert sim.stats.files()["served"] == len(detail["anonymized_files"])

    history = cli("--config", str(config), "history", "--json", refs[1], cwd=tmp_path, env=ENV)
    assert history.returncode == 0, history.stderr
    (action,) = [e for e in json.loads(history.stdout) if e["kind"] == "action"]
    assert (action["status"], action["attempts"], action["run_ids"]) == ("done", 1, [refs[1]])
    assert API_KEY not in daemon.log_path.read_text()


def test_a_job_queued_without_its_data_is_read_by_its_reference_for_the_program(
    tmp_path: Path, simulator: SimulatorServer
) -> None:
    """When the alert kept no copy of the job, the program still gets its detail read, from
    the kind's own path (an evaluation here), and the reference in its environment."""
    sim = simulator.sim
    run = sim.add_run(status="SUCCEEDED", number_of_samples=20)
    evaluation = sim.add_evaluation(run.id, status="SUCCEEDED")
    ref = f"evaluation:{evaluation.id}"
    argv, seen = _recorder(tmp_path)
    event = Event(ref, EventKind.TRANSITION, "PROCESSING", "SUCCEEDED", START, True)
    snap = Snapshot(ref, Source.EXPLICIT, "SUCCEEDED", START, START, START)
    planned = PlannedAction(0, "exec", {"exec": argv}, "exec record", "evaluation")
    clock = ManualClock(START)

    async def drain(store: Store) -> None:
        async with (
            DataframerClient(simulator.url, API_KEY) as api,
            storage_client(timeout=10, user_agent="test") as storage,
        ):
            policy = RetryPolicy(initial=1.0, cap=2.0, horizon=3600.0)
            runner = ActionRunner(
                store, api, storage, policy=policy, clock=clock, secrets=lambda: [API_KEY]
            )
            assert await runner.run_due() == 1

    with Store.open(tmp_path / "w.db") as store:
        store.record(TickRecord(START, (snap,), (event,), (), actions=(planned,)))
        asyncio.run(drain(store))
        assert store.action_counts()["done"] == 1
    (line,) = [json.loads(text) for text in seen.read_text().splitlines()]
    assert (line["env"]["DATAFRAMER_RUN_ID"], line["env"]["DATAFRAMER_RUN_KIND"]) == (
        ref,
        "evaluation",
    )
    assert (line["stdin"]["id"], line["stdin"]["run_id"]) == (evaluation.id, run.id)

"""The actions' drain against real things: a real state file, real programs, the simulator's
file endpoints and storage over HTTP. Time is a hand-moved clock; nothing waits on time."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.support import API_KEY, START, ManualClock
from watcher.actions.download import storage_client
from watcher.actions.plan import label
from watcher.actions.runner import ActionRunner
from watcher.api import DataframerClient
from watcher.config.actions import ActionConfig
from watcher.deliver.policy import RetryPolicy
from watcher.events import Event, EventKind, PlannedAction, Snapshot, Source, TickRecord
from watcher.models import Run
from watcher.simulator import SimulatorServer, file_content
from watcher.state import HistoryEntry, Store

POLICY = RetryPolicy(initial=1.0, cap=2.0, horizon=3600.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "state" / "w.db") as opened:
        yield opened


def _queue(store: Store, run: Run, *actions: dict[str, Any], muted_by: str | None = None) -> None:
    """Record a tick in which `run` finished and its route asked for `actions`."""
    event = Event(run.id, EventKind.TRANSITION, "PROCESSING", run.status, START, True, run=run)
    snap = Snapshot(run.id, Source.EXPLICIT, run.status, START, START, START, run=run)
    planned = []
    for action in actions:
        config = ActionConfig.model_validate(action)
        spec = config.spec()
        planned.append(
            PlannedAction(0, config.kind, spec, label(config.kind, spec), "run", muted_by)
        )
    store.record(TickRecord(START, (snap,), (event,), (), actions=tuple(planned)))


def _finished(simulator: SimulatorServer, samples: int = 60) -> Run:
    sim_run = simulator.sim.add_run(
        outcome="SUCCEEDED", number_of_samples=samples, created_ago_seconds=1e4
    )
    return Run.model_validate(simulator.sim.detail(sim_run.id))


@asynccontextmanager
async def _runner(
    store: Store, simulator: SimulatorServer, clock: Callable[[], datetime], **options: Any
) -> AsyncIterator[ActionRunner]:
    async with (
        DataframerClient(simulator.url, API_KEY) as api,
        storage_client(timeout=10, user_agent="test") as storage,
    ):
        yield ActionRunner(
            store,
            api,
            storage,
            policy=options.pop("policy", POLICY),
            clock=clock,
            secrets=lambda: [API_KEY],
            **options,
        )


def _drive(
    store: Store,
    simulator: SimulatorServer,
    clock: ManualClock,
    rounds: int,
    step: float = 10.0,
    **options: Any,
) -> None:
    """`rounds` drains, the clock moved `step` seconds after each (past any backoff)."""

    async def go() -> None:
        async with _runner(store, simulator, clock, **options) as runner:
            for _ in range(rounds):
                await runner.run_due()
                clock.advance(step)

    asyncio.run(go())


def _actions(store: Store) -> list[HistoryEntry]:
    return [e for e in store.history() if e.kind == "action"]


def _counting_script(tmp_path: Path, body: str) -> list[str]:
    """A program that counts its runs in a file (one line each), then does `body`."""
    script = tmp_path / "act.py"
    script.write_text(
        "import os, sys, json\n"
        f"log = {str(tmp_path / 'runs.log')!r}\n"
        "with open(log, 'a') as f:\n    f.write('run\\n')\n"
        "n = len(open(log).read().splitlines())\n" + body
    )
    return [sys.executable, str(script)]


def _runs(tmp_path: Path) -> int:
    log = tmp_path / "runs.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_an_action_that_fails_twice_then_succeeds_runs_three_times_and_is_done_once(
    tmp_path: Path, store: Store, simulator: SimulatorServer
) -> None:
    """Two failed attempts are retried after the backoff; the third succeeds, is recorded
    done once, and no later drain runs the action again."""
    argv = _counting_script(tmp_path, "sys.exit(0 if n >= 3 else 1)\n")
    run = _finished(simulator)
    _queue(store, run, {"exec": argv})
    clock = ManualClock(START)
    _drive(store, simulator, clock, rounds=8)
    assert _runs(tmp_path) == 3
    (entry,) = _actions(store)
    assert (entry.status, entry.attempts, entry.run_ids) == ("done", 3, (run.id,))
    assert [a.ok for a in entry.attempt_log] == [False, False, True]
    assert entry.attempt_log[0].reason == "exited with code 1"
    assert store.action_counts()["done"] == 1
    assert store.due_actions(clock()) == []


def test_a_failing_action_is_dead_lettered_after_the_horizon_and_can_be_requeued(
    tmp_path: Path, store: Store, simulator: SimulatorServer
) -> None:
    """Tried with backoff until its first attempt is `horizon` old, then dead (logged);
    never run while dead; `redeliver` requeues it with a fresh horizon."""
    argv = _counting_script(
        tmp_path, "print('cannot reach the warehouse', file=sys.stderr)\nsys.exit(2)\n"
    )
    _queue(store, _finished(simulator), {"exec": argv})
    clock = ManualClock(START)
    policy = RetryPolicy(initial=1.0, cap=2.0, horizon=30.0)
    with capture_logs() as logs:
        _drive(store, simulator, clock, rounds=8, policy=policy)
    assert _runs(tmp_path) == 4  # at 0s, 10s, 20s, and 30s: the horizon
    (entry,) = _actions(store)
    assert (entry.status, entry.attempts) == ("dead", 4)
    assert entry.last_error == "exited with code 2: cannot reach the warehouse"
    assert [e["event"] for e in logs].count("action_dead") == 1
    assert store.action_counts()["dead"] == 1
    assert store.requeue_dead_actions(clock()) == 1
    _drive(store, simulator, clock, rounds=1, policy=policy)
    assert _runs(tmp_path) == 5


def test_a_slow_action_times_out_as_a_failed_attempt(
    tmp_path: Path, store: Store, simulator: SimulatorServer
) -> None:
    """The timeout ends the attempt (the program is killed) and it is retried later."""
    argv = _counting_script(tmp_path, "import time\ntime.sleep(600)\n")
    _queue(store, _finished(simulator), {"exec": argv, "timeout": "500ms"})
    _drive(store, simulator, ManualClock(START), rounds=1)
    (entry,) = _actions(store)
    assert (entry.status, entry.attempts) == ("retrying", 1)
    assert entry.last_error == "timed out after 500ms (its process group was killed)"


def test_the_program_gets_the_run_on_stdin_and_an_environment_without_the_key(
    tmp_path: Path, store: Store, simulator: SimulatorServer
) -> None:
    """stdin is the run's detail JSON; the environment names the run and holds no key,
    though the daemon's own has it."""
    out = tmp_path / "seen.json"
    argv = _counting_script(
        tmp_path,
        "seen = {'stdin': json.load(sys.stdin), 'env': dict(os.environ)}\n"
        f"json.dump(seen, open({str(out)!r}, 'w'))\n",
    )
    run = _finished(simulator)
    _queue(store, run, {"exec": argv})
    environ = {"PATH": "/usr/bin:/bin", "DATAFRAMER_API_KEY": API_KEY, "LANG": "C.UTF-8"}
    _drive(store, simulator, ManualClock(START), rounds=1, environ=environ)
    seen = json.loads(out.read_text())
    assert seen["stdin"]["id"] == run.id
    assert [f["id"] for f in seen["stdin"]["generated_files"]] == [
        f.id for f in run.generated_files or []
    ]
    env = seen["env"]
    assert "DATAFRAMER_API_KEY" not in env
    assert API_KEY not in json.dumps(env)
    assert env["DATAFRAMER_RUN_ID"] == run.id
    assert env["DATAFRAMER_RUN_KIND"] == "run"
    assert env["DATAFRAMER_RUN_STATUS"] == "SUCCEEDED"
    assert env["DATAFRAMER_SPEC_NAME"] == run.spec_name
    assert env["LANG"] == "C.UTF-8"


def test_a_secret_the_program_prints_never_reaches_the_log_or_history(
    tmp_path: Path, store: Store, simulator: SimulatorServer
) -> None:
    """Output goes to the log as `action_output`, and the reason to history, both scrubbed."""
    argv = _counting_script(
        tmp_path,
        f"print('token', {API_KEY!r})\n"
        f"print('bad key', {API_KEY!r}, file=sys.stderr)\nsys.exit(1)\n",
    )
    _queue(store, _finished(simulator), {"exec": argv})
    with capture_logs() as logs:
        _drive(store, simulator, ManualClock(START), rounds=1)
    (output,) = [e for e in logs if e["event"] == "action_output"]
    assert output["stdout"] == "token ***\n"
    assert API_KEY not in repr(logs)
    (entry,) = _actions(store)
    assert entry.last_error == "exited with code 1: bad key ***"


def test_a_muted_action_is_recorded_as_suppressed_and_never_runs(
    tmp_path: Path, store: Store, simulator: SimulatorServer
) -> None:
    """A mute on the run's spec keeps its action in history, never run."""
    argv = _counting_script(tmp_path, "")
    _queue(store, _finished(simulator), {"exec": argv}, muted_by="m-abc123")
    _drive(store, simulator, ManualClock(START), rounds=2)
    assert _runs(tmp_path) == 0
    (entry,) = _actions(store)
    assert (entry.status, entry.why) == ("suppressed", "m-abc123")
    assert store.action_counts()["suppressed"] == 1


def _files(run: Run, base: Path) -> dict[Path, bytes]:
    """Where each generated file must land, with the bytes the simulator serves for it."""
    return {
        base / run.id / str(f.path): file_content(str(f.id), int(f.size_bytes or 0))
        for f in run.generated_files or []
    }


def test_downloads_are_byte_for_byte_and_never_carry_the_api_key(
    tmp_path: Path, store: Store, simulator: SimulatorServer
) -> None:
    """Each generated file lands under DIR/RUN_ID/ with its folders, exactly as served; the
    storage saw no Authorization header and no key; no temporary file is left."""
    run = _finished(simulator)
    base = tmp_path / "files"
    _queue(store, run, {"download": str(base)})
    _drive(store, simulator, ManualClock(START), rounds=2)
    expected = _files(run, base)
    assert len(expected) == 3
    for path, content in expected.items():
        assert path.read_bytes() == content
    assert sorted(p for p in base.rglob("*") if p.is_file()) == sorted(expected)
    stats = simulator.sim.stats.files()
    assert stats["requests"] == 3
    assert stats["with_authorization"] == 0
    assert stats["with_api_key"] == 0
    (entry,) = _actions(store)
    assert (entry.status, entry.attempts) == ("done", 1)


def test_a_retry_fetches_only_the_files_not_saved_yet(
    tmp_path: Path, store: Store, simulator: SimulatorServer
) -> None:
    """The storage fails the second file once: the retry saves it and the third, and does
    not fetch the first again."""
    run = _finished(simulator)
    base = tmp_path / "files"
    _queue(store, run, {"download": str(base)})
    simulator.sim.faults.add(
        [{"kind": "status", "status": 503, "path_regex": r"/_files/.*samples\.csv"}]
    )
    _drive(store, simulator, ManualClock(START), rounds=3)
    (entry,) = _actions(store)
    assert (entry.status, entry.attempts) == ("done", 2)
    assert entry.attempt_log[0].reason == "the file storage answered HTTP 503 for samples.csv"
    assert simulator.sim.stats.files()["requests"] == 4  # jsonl, csv (503), csv, report
    for path, content in _files(run, base).items():
        assert path.read_bytes() == content


def test_a_file_of_another_size_than_announced_is_not_kept(
    tmp_path: Path, store: Store, simulator: SimulatorServer
) -> None:
    """A file whose size differs from what the API said fails the attempt; no partial or
    temporary file stays in its place."""
    run = _finished(simulator)
    files = [dict(f.model_dump()) for f in run.generated_files or []]
    files[0]["size_bytes"] += 1
    wrong = run.model_copy(
        update={"generated_files": [type(run.generated_files[0]).model_validate(f) for f in files]}
    )  # type: ignore[index]
    base = tmp_path / "files"
    _queue(store, wrong, {"download": str(base)})
    _drive(store, simulator, ManualClock(START), rounds=1)
    (entry,) = _actions(store)
    size = files[0]["size_bytes"]
    assert entry.last_error == f"samples.jsonl has {size - 1} bytes, the API announced {size}"
    assert [p for p in base.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("name", ["../../escape.txt", "/etc/passwd", "a/../../b", ""])
def test_a_file_name_that_leaves_the_directory_is_refused(
    tmp_path: Path, store: Store, simulator: SimulatorServer, name: str
) -> None:
    """A name from the API that climbs out of DIR/RUN_ID/ is refused; nothing is written."""
    run = Run.model_validate(
        {
            "id": "r-evil",
            "status": "SUCCEEDED",
            "generated_files": [{"id": "f", "path": name, "size_bytes": 1}],
        }
    )
    base = tmp_path / "box" / "files"
    _queue(store, run, {"download": str(base)})
    _drive(store, simulator, ManualClock(START), rounds=1)
    (entry,) = _actions(store)
    assert entry.last_error is not None
    assert entry.last_error.startswith("refusing file name")
    assert [p for p in tmp_path.rglob("*") if p.is_file() and "state" not in p.parts] == []
    assert simulator.sim.stats.files()["requests"] == 0

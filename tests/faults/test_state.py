"""Fault injection, the state file: damaged, old, read-only mid-run, and pruned.

Promises checked against the daemon as a real subprocess: a file that is not a (sound)
watcher state file stops `run` with one line naming it, untouched; a v1 file is migrated and
its pending alert goes out; a state file that stops taking writes makes ticks fail and retry,
sends nothing it could not ack, loses nothing already recorded, and carries on once writable;
retention prunes finished runs only once their deliveries are done, and never re-announces
them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support import (
    ROOT,
    SmtpSink,
    WebhookSink,
    can_make_immutable,
    free_port,
    immutable,
    state_deliveries,
    wait_for,
)
from watcher.api import DataframerClient
from watcher.clock import utcnow
from watcher.config import load_settings
from watcher.deliver import Deliverer, RetryPolicy
from watcher.deliver.sender import Sender
from watcher.errors import StateError
from watcher.pipeline import Pipeline
from watcher.service.runtime import Runtime, tick_policy
from watcher.simulator import SimulatorServer
from watcher.state import Store
from watcher.state.schema import CURRENT_VERSION


def _config(write_config, simulator: SimulatorServer, channels: dict[str, str], **extra: Any):
    extra.setdefault("track", {"all": True})
    return write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        channels=channels,
        delivery={"retry_initial": "200ms", "retry_max": "1s"},
        **extra,
    )


def _report(name: str, **numbers: Any) -> None:
    print(f"\n[faults] {name}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))


# -- a file that is not a sound state file ---------------------------------------------------


def _sound_state(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("CREATE TABLE filler (x)")
    conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 200)
    conn.commit()
    conn.close()


def _truncated(path: Path) -> None:
    shutil.copy(ROOT / "tests" / "data" / "state-v1.db", path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _trampled(path: Path) -> None:
    shutil.copy(ROOT / "tests" / "data" / "state-v1.db", path)
    with path.open("r+b") as f:  # a page in the middle overwritten: a disk or a bad copy
        f.seek(4096 * 2)
        f.write(b"\xde\xad\xbe\xef" * 1024)


@pytest.mark.parametrize(
    "make",
    [
        lambda p: p.write_text("runs:\n  - not a database\n" * 40),
        lambda p: p.write_bytes(os.urandom(16384)),
        _truncated,
        _trampled,
    ],
    ids=["text", "random-bytes", "truncated-sqlite", "trampled-page"],
)
def test_run_on_a_damaged_state_file_exits_1_naming_it_and_leaves_it_alone(
    make, simulator: SimulatorServer, write_config, start_daemon, tmp_path: Path
) -> None:
    """One line on stderr naming the path, exit 1, the same bytes, nothing left beside it."""
    db = tmp_path / "state" / "watcher.db"
    db.parent.mkdir()
    make(db)
    before = db.read_bytes()
    config = _config(write_config, simulator, {})
    daemon = start_daemon(config)
    assert daemon.proc.wait(timeout=30) == 1
    output = daemon.log_path.read_text().strip().splitlines()
    assert len(output) == 1, output
    assert output[0].startswith("dataframer-watcher: state file ")
    assert str(db) in output[0]
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["watcher.db"]


# -- an old schema -----------------------------------------------------------------------------


def test_a_v1_state_file_is_migrated_and_its_pending_alerts_go_out(
    simulator: SimulatorServer, write_config, start_daemon, tmp_path: Path
) -> None:
    """The v1 fixture holds run-b's FAILED alert pending for "oncall" and retrying for
    "team" (run-a's alert was sent): the daemon upgrades the file and sends exactly those."""
    db = tmp_path / "state" / "watcher.db"
    db.parent.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "state-v1.db", db)
    team, oncall = WebhookSink().start(), WebhookSink().start()
    try:
        config = _config(
            write_config, simulator, {"team": team.url(), "oncall": oncall.url()}, track={}
        )
        daemon = start_daemon(config)
        daemon.wait_event("started")
        wait_for(lambda: team.posts and oncall.posts, what="run-b's alerts")
        daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
        assert daemon.terminate() == 0
    finally:
        team.stop()
        oncall.stop()
    for hook in (team, oncall):
        (post,) = hook.posts
        assert post["title"] == "FAILED: invoices"
        assert "run-b" in post["message"]
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == CURRENT_VERSION
        runs = dict(conn.execute("SELECT run_id, status FROM runs"))
    finally:
        conn.close()
    assert runs == {"run-a": "SUCCEEDED", "run-b": "FAILED", "run-c": "PROCESSING"}
    assert {d["id"]: d["status"] for d in state_deliveries(db)} == {1: "sent", 2: "sent", 3: "sent"}


# -- a state file that stops taking writes ----------------------------------------------------


async def test_delivery_sends_nothing_it_could_not_ack(tmp_path: Path) -> None:
    """The outbox is readable but takes no write: the drain fails before any send. (Before,
    each pass sent the due message, failed to ack it, and sent it again the next second.)"""
    db = tmp_path / "watcher.db"
    shutil.copy(ROOT / "tests" / "data" / "state-v1.db", db)
    Store.open(db).close()  # migrated: two deliveries of run-b are due
    hook = WebhookSink().start()
    config = tmp_path / "watcher.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "dataframer": {"base_url": "http://127.0.0.1:9"},
                "state": {"path": str(db)},
                "channels": {"team": hook.url(), "oncall": hook.url()},
            }
        )
    )
    settings = load_settings(config, environ={"DATAFRAMER_API_KEY": "k-123456"})
    conn = sqlite3.connect(
        f"{db.as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
    )
    # A connection that cannot write, in a store that believes it can: a file system that
    # refuses writes (read-only remount, full disk) under an open daemon.
    store = Store(db, conn, readonly=False)
    sender = Sender(concurrency=2, timeout=5)
    client = DataframerClient(settings.dataframer.base_url, "k-123456")
    deliverer = Deliverer(
        store, sender, settings.channels, policy=RetryPolicy(1, 2, 60), clock=utcnow
    )
    pipeline = Pipeline(tick_policy(settings), store, client, clock=utcnow)
    runtime = Runtime(settings, store, client, sender, deliverer, pipeline)
    try:
        assert len(store.due_deliveries(utcnow())) == 2
        for _ in range(3):
            with pytest.raises(StateError, match="readonly"):
                await runtime.drain_all()
        assert hook.requests == []
    finally:
        await client.aclose()
        sender.close()
        store.close()
        hook.stop()
    with Store.open(db) as writable:  # nothing was lost: both still due
        assert len(writable.due_deliveries(utcnow())) == 2


def test_a_state_file_that_stops_taking_writes_fails_ticks_sends_nothing_and_recovers(
    simulator: SimulatorServer, write_config, start_daemon, tmp_path: Path
) -> None:
    """The state file turns read-only under a running daemon (chattr +i: as a disk remounted
    read-only would). Ticks fail and back off; a due retry is NOT sent, since its ack could
    not be recorded (it would go out again on every pass); nothing recorded is lost; once
    writable, both the retry and the transition that happened meanwhile go out once."""
    if not can_make_immutable(tmp_path):
        pytest.skip("needs root and a file system with chattr +i to make a file read-only")
    hook = WebhookSink(default=500).start()
    try:
        # At debug level each refused delivery pass shows (only the first is a warning).
        config = _config(
            write_config, simulator, {"hook": hook.url()}, log={"format": "json", "level": "debug"}
        )
        db = config.parent / "state" / "watcher.db"
        daemon = start_daemon(config)
        daemon.wait_event("started")
        first, second = simulator.sim.create_runs(2, status="PROCESSING")
        daemon.wait_event("run_first_seen", at_least=2)
        simulator.sim.force_status(first.id, "FAILED")
        daemon.wait_event("channel_failing")  # first's alert is queued and retrying
        recorded = state_deliveries(db)

        with immutable(db, db.with_name(db.name + "-wal")):
            failed = daemon.count("tick_failed")
            simulator.sim.force_status(second.id, "CANCELED")
            daemon.wait_event("tick_failed", at_least=failed + 2)
            hook.heal()  # the retry is due within a second or so; its ack cannot be written
            passes = daemon.count("deliver_failed")
            daemon.wait_event("deliver_failed", at_least=passes + 3)
            assert hook.posts == [], "sent what could not be acked"
            refused = [e for e in daemon.events() if e.get("event") == "deliver_failed"]
            assert [e["level"] for e in refused[:2]] == ["warning", "debug"]
            assert daemon.proc.poll() is None
            writable_at = time.monotonic()
        wait_for(lambda: len(hook.posts) >= 2, what="both alerts once writable")
        daemon.wait_event("deliver_recovered")
        recovery = time.monotonic() - writable_at
        daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
        assert daemon.terminate() == 0
    finally:
        hook.stop()
    assert Counter(hook.run_ids()) == Counter([first.id, second.id])
    after = {d["id"]: d for d in state_deliveries(db)}
    for row in recorded:  # nothing recorded before the fault was lost
        assert after[row["id"]]["run_ids"] == row["run_ids"]
    assert {d["status"] for d in after.values()} == {"sent"}
    backoffs = [e["seconds"] for e in daemon.events() if e.get("event") == "poll_backoff"]
    assert backoffs
    assert max(backoffs) <= 2.0
    _report("state-read-only", recovery_s=round(recovery, 3), backoffs=backoffs)


def test_run_refuses_to_start_on_a_state_file_it_cannot_write(
    simulator: SimulatorServer, write_config, start_daemon, tmp_path: Path
) -> None:
    """Started on a file that takes no writes (a read-only mount, another user's file), `run`
    refuses as `once` does: exit 1, one line saying it cannot write the state file. Once the
    file is writable, a new start records and alerts what happened meanwhile."""
    if not can_make_immutable(tmp_path):
        pytest.skip("needs root and a file system with chattr +i to make a file read-only")
    hook = WebhookSink().start()
    try:
        config = _config(write_config, simulator, {"hook": hook.url()})
        db = config.parent / "state" / "watcher.db"
        first = start_daemon(config)
        first.wait_event("started")
        assert first.terminate() == 0
        (run,) = simulator.sim.create_runs(status="FAILED")
        with immutable(db):
            refused = start_daemon(config)
            assert refused.proc.wait(timeout=30) == 1
        output = refused.log_path.read_text()
        assert f"dataframer-watcher: cannot write state file {db}" in output
        assert "started" not in {line.get("event") for line in refused.events()}
        daemon = start_daemon(config)
        wait_for(lambda: hook.run_ids() == [run.id], what="the alert once writable")
        assert daemon.terminate() == 0
    finally:
        hook.stop()
    assert hook.run_ids() == [run.id]


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_state_file_deleted_or_replaced_under_the_daemon_stops_it_with_exit_1(
    how: str, simulator: SimulatorServer, write_config, start_daemon, tmp_path: Path
) -> None:
    """The state file removed (or swapped for another) while `run` is up: within a poll the
    daemon logs an error naming the file and exits 1, so the supervisor restarts it on the
    file that is there; it never goes on writing into a file nobody else can open."""
    config = _config(write_config, simulator, {"hook": "json://127.0.0.1:9/x"})
    db = config.parent / "state" / "watcher.db"
    daemon = start_daemon(config)
    daemon.wait_event("tick", at_least=2)
    if how == "deleted":
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            path.unlink(missing_ok=True)
    else:
        other = tmp_path / "other.db"
        Store.open(other).close()
        os.replace(other, db)
    assert daemon.proc.wait(timeout=30) == 1
    (line,) = [e for e in daemon.events() if e["event"] == "state_file_replaced"]
    assert line["level"] == "error"
    assert line["state"] == str(db)
    assert ("deleted" if how == "deleted" else "replaced") in line["error"]


# -- retention --------------------------------------------------------------------------------


def test_retention_prunes_delivered_runs_keeps_undelivered_ones_and_never_realerts(
    simulator: SimulatorServer, write_config, start_daemon, tmp_path: Path
) -> None:
    """retention: 1s, and the daemon prunes 5 s after start: the run whose alert was sent
    is pruned (a tombstone: discovery does not announce it again), the run whose mail is
    still retrying is kept with its events until that mail goes out."""
    hook = WebhookSink().start()
    mail = SmtpSink(free_port())  # down for now
    try:
        db = tmp_path / "state" / "watcher.db"
        config = _config(
            write_config,
            simulator,
            {"hook": hook.url(), "mail": mail.url},
            state={"path": str(db), "retention": "1s"},
            routes=[
                {"statuses": ["SUCCEEDED"], "channels": ["hook"]},
                {"statuses": ["FAILED"], "channels": ["hook", "mail"]},
            ],
        )
        daemon = start_daemon(config)
        daemon.wait_event("started")
        done, stuck = simulator.sim.create_runs(2, status="PROCESSING")
        daemon.wait_event("run_first_seen", at_least=2)
        simulator.sim.force_status(done.id, "SUCCEEDED")
        simulator.sim.force_status(stuck.id, "FAILED")
        wait_for(lambda: set(hook.run_ids()) == {done.id, stuck.id}, what="the webhook alerts")
        daemon.wait_event("pruned", timeout=30)
        conn = sqlite3.connect(db)
        try:
            rows = {
                run_id: (run_json is None, pruned_at is not None)
                for run_id, run_json, pruned_at in conn.execute(
                    "SELECT run_id, run_json, pruned_at FROM runs"
                )
            }
            events = Counter(r for (r,) in conn.execute("SELECT run_id FROM events"))
        finally:
            conn.close()
        assert rows[done.id] == (True, True)  # a tombstone
        assert rows[stuck.id] == (False, False)
        assert events[done.id] == 0
        assert events[stuck.id] == 2  # first seen, then FAILED
        daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
        mail.start()
        wait_for(lambda: mail.run_ids() == [stuck.id], what="the mail alert")
        daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
        assert daemon.terminate() == 0
        assert Counter(hook.run_ids()) == Counter([done.id, stuck.id])  # none re-announced
        assert mail.run_ids() == [stuck.id]
    finally:
        hook.stop()
        with contextlib.suppress(Exception):  # started late, or never
            mail.stop()

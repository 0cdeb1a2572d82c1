"""Opening the state file: creation, refusal of bad files, migration, read-only files, the lock."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support import can_make_immutable, immutable, pending_deliveries
from watcher.errors import StateError, StateLocked
from watcher.events import (
    Attempt,
    Event,
    EventKind,
    Notification,
    NotifyType,
    Snapshot,
    Source,
    TickRecord,
)
from watcher.models import Run
from watcher.state import Store
from watcher.state.schema import CURRENT_VERSION

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
V1_FIXTURE = Path(__file__).parents[1] / "data" / "state-v1.db"


def dump(path: Path) -> list[str]:
    """The schema and rows of a file as SQL text, read without writing to it."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def user_version(path: Path) -> int:
    """The schema version, read through a separate read-only connection."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    finally:
        conn.close()


def finished_tick(run_id: str = "run-1", status: str = "FAILED") -> TickRecord:
    """A tick that saw one run finish and queued one alert for it."""
    run = Run(id=run_id, status=status, spec_name="invoices")
    return TickRecord(
        at=NOW,
        snapshots=(Snapshot(run_id, Source.EXPLICIT, status, NOW, NOW, NOW, run=run),),
        events=(Event(run_id, EventKind.FIRST_SEEN, None, status, NOW, alert=True, run=run),),
        notifications=(Notification("team", (0,), f"{status}: invoices", f"Run {run_id}"),),
    )


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """A state file with one finished run and one pending delivery, closed again."""
    path = tmp_path / "state" / "watcher.db"
    with Store.open(path) as store:
        store.record(finished_tick())
    return path


def test_open_creates_parent_dirs_and_an_empty_current_schema(tmp_path: Path) -> None:
    """A missing file (and its missing directories) is created at the current version."""
    path = tmp_path / "a" / "b" / "watcher.db"
    with Store.open(path) as store:
        assert store.path == path
        assert store.snapshots() == {}
        assert pending_deliveries(store) == 0
        assert not store.baseline_done
    assert user_version(path) == CURRENT_VERSION


def test_open_without_create_names_the_missing_file(tmp_path: Path) -> None:
    """create=False never makes a file: the CLI's status on a fresh machine says so."""
    path = tmp_path / "nowhere.db"
    with pytest.raises(
        StateError, match=r"no state file at .*nowhere\.db \(has the watcher run yet\?\)"
    ):
        Store.open(path, create=False)
    assert not path.exists()


def test_an_empty_file_is_initialised(tmp_path: Path) -> None:
    """A zero-byte file (e.g. made by `touch`) is a new database, not a corrupt one."""
    path = tmp_path / "watcher.db"
    path.touch()
    with Store.open(path, create=False) as store:
        store.record(finished_tick())
    assert user_version(path) == CURRENT_VERSION


def test_a_path_that_cannot_be_created_is_one_clear_line(tmp_path: Path) -> None:
    """A parent that is a file (or unwritable) gives a StateError, not an OSError."""
    (tmp_path / "plain-file").write_text("")
    path = tmp_path / "plain-file" / "watcher.db"
    with pytest.raises(StateError, match=f"cannot create state file {path}: .* not a directory"):
        Store.open(str(path))  # type: ignore[arg-type]
    deeper = tmp_path / "plain-file" / "sub" / "watcher.db"
    with pytest.raises(StateError, match=f"cannot create state file {deeper}: Not a directory"):
        Store.open(deeper)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    """state.path pointing at a directory is a clear error."""
    with pytest.raises(StateError, match=f"state file {tmp_path} is a directory"):
        Store.open(tmp_path)


def _garbage_page(path: Path, page: int | None = None) -> None:
    """A real state file with one page of noise (the middle one by default) under its header."""
    _big_store(path)
    data = bytearray(path.read_bytes())
    start = (len(data) // 8192 if page is None else page - 1) * 4096
    data[start : start + 4096] = random.Random(1).randbytes(4096)
    path.write_bytes(bytes(data))


def _garbage_index(path: Path) -> None:
    """Noise on page 4, the runs index's root: opening reads fine, only quick_check notices."""
    _garbage_page(path, 4)


def _truncated(path: Path) -> None:
    """A real state file cut in half."""
    _big_store(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _big_store(path: Path) -> None:
    """A real state file large enough that damage lands on data pages."""
    runs = tuple(
        Snapshot(f"run-{i}", Source.DISCOVERED, "PROCESSING", NOW, NOW, NOW, run=Run(id=f"run-{i}"))
        for i in range(300)
    )
    with Store.open(path) as store:
        store.record(TickRecord(at=NOW, snapshots=runs, events=(), notifications=()))


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        (
            "random bytes",
            lambda p: p.write_bytes(random.Random(0).randbytes(8192)),
            "not a database",
        ),
        ("text", lambda p: p.write_text("state:\n  path: here\n" * 50), "not a database"),
        ("truncated", _truncated, "malformed"),
        ("garbage data page", _garbage_page, "malformed"),
        ("garbage index page", _garbage_index, "corrupt: "),
    ],
)
def test_a_file_we_cannot_read_is_refused_and_left_untouched(
    tmp_path: Path, name: str, make: Callable[[Path], None], reason: str
) -> None:
    """Never migrate or overwrite what we failed to read: one line naming the path, same bytes."""
    path = tmp_path / "watcher.db"
    make(path)
    before = path.read_bytes()
    listing = sorted(os.listdir(tmp_path))
    with pytest.raises(StateError) as caught:
        Store.open(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"state file {path} is not a watcher state file (")
    assert message.endswith("move it aside or point state.path elsewhere")
    assert reason in message
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == listing, f"{name}: files left beside it"


def test_another_applications_sqlite_file_is_refused(tmp_path: Path) -> None:
    """A valid SQLite file that is not ours (version 0 with tables) is not adopted."""
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StateError, match="another application's tables"):
        Store.open(path)
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused(store_path: Path) -> None:
    """A file written by a newer watcher is not downgraded or touched."""
    conn = sqlite3.connect(store_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = store_path.read_bytes()
    with pytest.raises(StateError, match=f"state file {store_path} has schema version 99, newer"):
        Store.open(store_path)
    assert store_path.read_bytes() == before


def test_v1_fixture_migrates_to_current_keeping_everything(tmp_path: Path) -> None:
    """The committed v1 file opens as current with its runs, events and deliveries intact."""
    path = tmp_path / "state-v1.db"
    shutil.copyfile(V1_FIXTURE, path)
    assert user_version(path) == 1
    with Store.open(path) as store:
        snaps = store.snapshots()
        assert sorted(snaps) == ["run-a", "run-b", "run-c"]
        (run_json,) = store._db.execute(
            "SELECT run_json FROM runs WHERE run_id = 'run-a'"
        ).fetchone()
        assert json.loads(run_json)["queue"] == "gpu"  # extra fields survive
        assert snaps["run-c"].source is Source.DISCOVERED
        sent_in_v1 = store.history("run-a")[0]
        assert (sent_in_v1.status, sent_in_v1.attempts) == ("sent", 1)
        assert sent_in_v1.finished_at == datetime(2026, 11, 1, 10, 5, tzinfo=UTC)
        assert not any(s.muted for s in snaps.values())  # new column, defaulted
        assert store.baseline_done
        assert store.delivery_counts() == {
            "team": {"pending": 0, "retrying": 1, "sent": 1, "dead": 0},
            "oncall": {"pending": 1, "retrying": 0, "sent": 0, "dead": 0},
        }
        later = datetime(2026, 11, 1, 10, 7, tzinfo=UTC)
        due = store.due_deliveries(later)
        assert [(d.id, d.channel, d.run_ids, d.attempts) for d in due] == [
            (2, "team", ("run-b",), 1),
            (3, "oncall", ("run-b",), 0),
        ]
        assert due[0].delivered_to == frozenset()
        # Queued before notify types were kept: sent as information, as they would have been.
        assert {d.notify_type for d in due} == {NotifyType.INFO}
        store.record_attempt(
            Attempt(
                2, later, ok=True, reason=None, delivered_to=frozenset({"k"}), next_attempt_at=None
            )
        )
        history = store.history("run-b")
        assert [(h.kind, h.id) for h in history] == [
            ("delivery", 3),
            ("delivery", 2),
            ("event", 5),
            ("event", 2),
        ]
        assert history[1].status == "sent"
        assert history[1].finished_at == later
        assert [a.ok for a in history[1].attempt_log] == [True]
    assert user_version(path) == CURRENT_VERSION


def test_v1_fixture_is_what_its_script_writes(tmp_path: Path) -> None:
    """The committed file and tests/data/make_state_v1.py have not drifted apart."""
    spec = importlib.util.spec_from_file_location(
        "make_state_v1", V1_FIXTURE.with_name("make_state_v1.py")
    )
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rebuilt, committed = tmp_path / "rebuilt.db", tmp_path / "committed.db"
    script.main(rebuilt)
    shutil.copyfile(V1_FIXTURE, committed)  # even a read-only look leaves -wal/-shm files behind
    assert dump(rebuilt) == dump(committed)


def test_v1_fixture_is_refused_read_only_rather_than_half_read(shared_dir: Path) -> None:
    """An old file we may not write cannot be migrated: say so instead of misreading it."""
    path = shared_dir / "ro" / "state-v1.db"
    path.parent.mkdir()
    shutil.copyfile(V1_FIXTURE, path)
    message = _as_reader(path, lambda p: Store.open(p).close())
    assert message == (
        f"state file {path} needs upgrading from schema v1 to v{CURRENT_VERSION} but is"
        " read-only;"
        " run the watcher once with write access"
    )


# -- read-only files ------------------------------------------------------------------------------


def _as_reader(
    path: Path, read: Callable[[Path], object], *, file_mode: int = 0o444, dir_mode: int = 0o555
) -> object:
    """Run `read(path)` in a forked process, with the file and its directory chmod-ed.

    Root writes through any permission bits, so as root the child also drops to nobody.
    Returns what `read` returned, or the message of the StateError it raised.
    """
    path.chmod(file_mode)
    path.parent.chmod(dir_mode)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(rfd)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            try:
                out: object = {"returned": read(path)}
            except StateError as exc:
                out = {"raised": str(exc)}
            except BaseException as exc:
                out = {"crashed": repr(exc)}
            os.write(wfd, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    try:
        with os.fdopen(rfd, "rb") as pipe:
            report = json.loads(pipe.read() or b"{}")
        os.waitpid(pid, 0)
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)
    assert "crashed" not in report, report["crashed"]
    return report.get("returned", report.get("raised"))


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can enter (pytest's tmp_path is private to us)."""
    with tempfile.TemporaryDirectory(prefix="watcher-state-") as name:
        os.chmod(name, 0o755)  # noqa: S103 (a private temporary directory, removed after)
        yield Path(name)


@pytest.mark.parametrize(
    ("file_mode", "dir_mode"),
    [(0o444, 0o555), (0o444, 0o777), (0o666, 0o555)],
    ids=["both read-only", "file read-only", "directory read-only"],
)
def test_read_only_state_file_reads_but_refuses_writes_losing_nothing(
    shared_dir: Path, file_mode: int, dir_mode: int
) -> None:
    """A file we may not write still serves status/history; record fails with one line."""
    path = shared_dir / "state" / "watcher.db"
    with Store.open(path) as store:
        store.record(finished_tick())
        before = store.snapshots()

    def read_then_write(p: Path) -> object:
        with Store.open(p, create=False) as ro:
            seen = [
                sorted(ro.snapshots()),
                [r.run_id for r in ro.status_rows()],
                len(ro.history()),
                pending_deliveries(ro),
                ro.get_meta("last_tick_at"),
            ]
            try:
                ro.record(finished_tick("run-2"))
            except StateError as exc:
                return [*seen, str(exc)]
            return seen

    assert _as_reader(path, read_then_write, file_mode=file_mode, dir_mode=dir_mode) == [
        ["run-1"],
        ["run-1"],
        2,
        1,
        NOW.isoformat(timespec="microseconds"),
        f"cannot write state file {path}: attempt to write a readonly database",
    ]
    with Store.open(path) as store:
        assert store.snapshots() == before
        assert pending_deliveries(store) == 1


# -- the daemon lock ------------------------------------------------------------------------------

_HOLDER = """
import sys, time
from pathlib import Path
from watcher.state import Store
store = Store.open(Path(sys.argv[1]))
store.acquire_daemon_lock()
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_held_by_another_process_names_its_pid_and_dies_with_it(store_path: Path) -> None:
    """A second daemon is refused with the holder's pid; kill -9 of the holder frees the lock."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(store_path)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            with Store.open(store_path) as store:
                with pytest.raises(StateLocked) as caught:
                    store.acquire_daemon_lock()
                assert str(caught.value) == (
                    f"another dataframer-watcher (pid {holder.pid}) is already using"
                    f" state file {store_path}"
                )
                holder.send_signal(signal.SIGKILL)
                holder.wait(timeout=10)
                store.acquire_daemon_lock()
                assert (store_path.parent / "watcher.db.lock").read_text() == f"{os.getpid()}\n"
        finally:
            holder.kill()


def test_lock_is_released_by_close_and_cli_stores_need_none(store_path: Path) -> None:
    """close() frees the lock; a store that never asks for it (the CLI) works alongside."""
    daemon = Store.open(store_path)
    daemon.acquire_daemon_lock()
    daemon.acquire_daemon_lock()  # idempotent for its holder
    with Store.open(store_path) as cli:
        assert cli.track(["run-9"], NOW) == {"run-9": "added"}
        with pytest.raises(StateLocked):
            cli.acquire_daemon_lock()
        daemon.close()
        cli.acquire_daemon_lock()
    daemon.close()  # twice is fine


def test_a_committed_tick_survives_kill_9(tmp_path: Path) -> None:
    """The outbox promise: once record() returns, a SIGKILL loses nothing and leaves no lock."""
    path = tmp_path / "watcher.db"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child dies by SIGKILL right after the commit
        try:
            store = Store.open(path)
            store.acquire_daemon_lock()
            store.record(finished_tick("run-k"))
            os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGKILL
    assert (tmp_path / "watcher.db-wal").stat().st_size > 0  # the tick lives only in the WAL
    with Store.open(path) as store:
        store.acquire_daemon_lock()
        assert store.snapshots()["run-k"].status == "FAILED"
        assert [d.run_ids for d in store.due_deliveries(NOW)] == [("run-k",)]


def test_v3_folds_channel_names_of_queued_deliveries(tmp_path: Path) -> None:
    """A delivery queued for 'Team' before names became case-insensitive still finds 'team'."""
    path = tmp_path / "state-v1.db"
    shutil.copyfile(V1_FIXTURE, path)
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE deliveries SET channel = 'Team'")
    conn.close()
    with Store.open(path) as store:
        channels = {row[0] for row in store._db.execute("SELECT channel FROM deliveries")}
    assert channels == {"team"}


@contextmanager
def _refusing_writes(path: Path) -> Iterator[None]:
    """`path` refuses writes for the block: chmod for a user, chattr +i for root (whom
    permissions do not stop)."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(mode)
    else:
        with immutable(path):
            yield


def test_a_read_only_state_directory_names_the_lock_file_and_the_directory(
    tmp_path: Path,
) -> None:
    """The daemon cannot create its lock file beside the state file: the error names the lock
    file and the directory that refused it, not only the state file."""
    if os.geteuid() == 0 and not can_make_immutable(tmp_path):
        pytest.skip("as root, needs chattr +i to make a directory refuse writes")
    directory = tmp_path / "state"
    path = directory / "w.db"
    Store.open(path).close()
    with (
        _refusing_writes(directory),
        Store.open(path) as store,
        pytest.raises(StateError) as caught,
    ):
        store.acquire_daemon_lock()
    message = str(caught.value)
    assert f"{path}.lock" in message
    assert f"the directory {directory} refused it" in message
    assert "\n" not in message

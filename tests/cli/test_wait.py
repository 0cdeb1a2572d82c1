"""`wait` as scripts and people run it: a real subprocess against the simulator over HTTP.

Every exit code (0, 1, 3, 4, 5, 2), piped (plain lines) and on a pseudo-terminal (rich's live
display), a failing API mid-wait, Ctrl-C, and the API key never in the output. Runs are pinned
at a status and moved on only once the subprocess has polled them: no timing assumption.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support import API_KEY, clean_env, free_port, wait_for
from watcher.simulator import SimulatorServer

DETAIL = "GET /api/dataframer/runs/{id}/"
Start = Callable[..., "Waiting"]


class Waiting:
    """`python -m watcher wait ARGS` running, its output in files (or a pty) read as it grows."""

    def __init__(
        self,
        args: tuple[str, ...],
        *,
        cwd: Path,
        env: dict[str, str],
        out: Path,
        terminal: bool = False,
    ) -> None:
        self._out, self._err = out / "stdout", out / "stderr"
        command = [sys.executable, "-m", "watcher", "wait", *args]
        self._screen: list[bytes] = []
        self._reader: threading.Thread | None = None
        if terminal:
            primary, secondary = pty.openpty()
            self.proc = subprocess.Popen(
                command, cwd=cwd, env=env, stdin=secondary, stdout=secondary, stderr=secondary
            )
            os.close(secondary)
            self._reader = threading.Thread(target=self._read_pty, args=(primary,), daemon=True)
            self._reader.start()
        else:
            with self._out.open("wb") as stdout, self._err.open("wb") as stderr:
                self.proc = subprocess.Popen(
                    command,
                    cwd=cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                )

    def _read_pty(self, fd: int) -> None:
        try:
            while chunk := os.read(fd, 65536):
                self._screen.append(chunk)
        except OSError:  # EIO: the child closed its side
            pass
        finally:
            os.close(fd)

    @property
    def screen(self) -> str:
        """All the pty showed so far (escape sequences and all)."""
        return b"".join(self._screen).decode("utf-8", errors="replace")

    @property
    def stdout(self) -> str:
        return self._out.read_text() if self._out.exists() else ""

    @property
    def stderr(self) -> str:
        return self._err.read_text() if self._err.exists() else ""

    def finish(self, timeout: float = 45.0) -> int:
        """Wait for the exit code; the key must appear nowhere in what it printed."""
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=10)
        for text in (self.stdout, self.stderr, self.screen):
            assert API_KEY not in text
            assert "Traceback" not in text, text
        return code

    def alive(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"wait exited {self.proc.returncode}: {self.stderr}")
        return True


@pytest.fixture
def start(simulator: SimulatorServer, tmp_path: Path) -> Iterator[Start]:
    """Start `wait` subprocesses against the simulator, in an empty directory with no config."""
    started: list[Waiting] = []

    def begin(*args: str, terminal: bool = False, **env: str) -> Waiting:
        cwd = tmp_path / f"cwd-{len(started)}"
        cwd.mkdir()
        environment = clean_env(
            DATAFRAMER_API_KEY=API_KEY,
            DATAFRAMER_BASE_URL=simulator.url,
            COLUMNS="200",
            TERM="xterm-256color",
        )
        environment.update(env)
        waiting = Waiting(args, cwd=cwd, env=environment, out=cwd, terminal=terminal)
        started.append(waiting)
        return waiting

    yield begin
    for waiting in started:
        if waiting.proc.poll() is None:
            waiting.proc.kill()
            waiting.proc.wait()


def runs(simulator: SimulatorServer, *statuses: str) -> list[str]:
    """Runs pinned at these statuses (pinned PROCESSING ones stay put until forced on)."""
    return [run.id for run in simulator.sim.create_runs(status=list(statuses))]


def polled(simulator: SimulatorServer, waiting: Waiting, reads: int) -> None:
    """Wait until the subprocess made at least `reads` detail reads."""
    wait_for(
        lambda: waiting.alive() and simulator.sim.stats.count(DETAIL) >= reads,
        what=f"{reads} detail reads",
    )


def finish_runs(simulator: SimulatorServer, statuses: dict[str, str]) -> None:
    for run_id, status in statuses.items():
        simulator.sim.force_status(run_id, status)


# -- the exit codes -----------------------------------------------------------------------


def test_exit_0_when_every_run_succeeds_with_a_line_per_change(
    simulator: SimulatorServer, start: Start
) -> None:
    """Piped: one line per run when first seen, none for polls that saw nothing new, one when
    it finishes, and a closing line; exit 0."""
    first, second = runs(simulator, "PROCESSING", "PROCESSING")
    waiting = start(first, second, "--interval", "100ms")
    polled(simulator, waiting, 8)  # at least four polls of each
    finish_runs(simulator, {first: "SUCCEEDED", second: "SUCCEEDED"})
    assert waiting.finish() == 0, waiting.stderr
    lines = waiting.stdout.splitlines()
    for run_id in (first, second):
        mine = [line for line in lines if line.startswith(run_id)]
        assert [line.split(" ")[1] for line in mine] == ["PROCESSING", "SUCCEEDED"]
        assert "(100%)" in mine[-1]
    assert lines[-1] == "all 2 runs SUCCEEDED"
    assert waiting.stderr == ""


@pytest.mark.parametrize(
    ("statuses", "code", "named"),
    [
        (("SUCCEEDED", "FAILED"), 1, "FAILED"),
        (("CANCELED", "FAILED"), 1, "FAILED"),
        (("SUCCEEDED", "CANCELED"), 3, "CANCELED"),
    ],
)
def test_exit_code_by_how_the_runs_ended(
    simulator: SimulatorServer, start: Start, statuses: tuple[str, str], code: int, named: str
) -> None:
    """1 when one FAILED (whatever else), 3 when one CANCELED and none FAILED; the closing
    line names the runs behind it."""
    running = runs(simulator, "PROCESSING", "PROCESSING")
    waiting = start(*running, "--interval", "100ms")
    polled(simulator, waiting, 2)
    finish_runs(simulator, dict(zip(running, statuses, strict=True)))
    assert waiting.finish() == code, waiting.stderr
    culprit = running[statuses.index(named)]
    assert waiting.stdout.splitlines()[-1] == f"1 of 2 runs {named}: {culprit}"


def test_runs_already_finished_end_the_wait_at_once(
    simulator: SimulatorServer, start: Start
) -> None:
    """Nothing to wait for: the verdict on the first poll."""
    done = runs(simulator, "SUCCEEDED", "SUCCEEDED")
    assert start(*done).finish() == 0


def test_exit_4_when_the_timeout_passes(simulator: SimulatorServer, start: Start) -> None:
    """A run still going at --timeout: exit 4, naming it."""
    (run_id,) = runs(simulator, "PROCESSING")
    waiting = start(run_id, "--timeout", "300ms", "--interval", "100ms")
    assert waiting.finish() == 4, waiting.stderr
    assert waiting.stdout.splitlines()[-1] == f"timed out after 300ms; still running: {run_id}"


def test_exit_5_for_an_unknown_run(simulator: SimulatorServer, start: Start) -> None:
    """A 404 on the first read: exit 5 at once, one line naming the id."""
    (known,) = runs(simulator, "PROCESSING")
    unknown = "00000000-0000-4000-8000-000000000001"
    waiting = start(known, unknown)
    assert waiting.finish() == 5
    assert waiting.stderr.strip().splitlines() == [
        f"dataframer-watcher: {unknown}: no such run (the API answers 404)"
    ]


def test_exit_5_when_a_run_disappears_mid_wait(simulator: SimulatorServer, start: Start) -> None:
    """A run deleted while watched: exit 5, a line saying it disappeared."""
    (run_id,) = runs(simulator, "PROCESSING")
    waiting = start(run_id, "--interval", "100ms")
    polled(simulator, waiting, 2)
    simulator.sim.delete(run_id)
    assert waiting.finish() == 5
    assert f"{run_id} disappeared" in waiting.stderr


def test_exit_5_when_the_key_is_refused(simulator: SimulatorServer, start: Start) -> None:
    """401: exit 5 at once with the reason, and the wrong key is not printed either."""
    (run_id,) = runs(simulator, "PROCESSING")
    wrong = "sk-wrong-key-0123456789"
    waiting = start(run_id, DATAFRAMER_API_KEY=wrong)
    assert waiting.finish() == 5
    assert "rejected the API key" in waiting.stderr
    assert wrong not in waiting.stderr + waiting.stdout


def test_exit_5_when_the_api_stays_down_past_the_timeout(
    simulator: SimulatorServer, start: Start
) -> None:
    """Every read 503 until --timeout: retried with a line each time, then exit 5."""
    (run_id,) = runs(simulator, "PROCESSING")
    simulator.sim.faults.add([{"kind": "status", "status": 503, "always": True}])
    waiting = start(run_id, "--timeout", "1s", "--interval", "100ms")
    assert waiting.finish() == 5
    assert "API unreachable (HTTP 503), retrying in" in waiting.stdout
    assert waiting.stdout.splitlines()[-1] == f"could not watch after 1s; unfinished: {run_id}"


def test_exit_5_when_nothing_listens(tmp_path: Path, start: Start) -> None:
    """Connection refused until --timeout: exit 5, the reason in words."""
    waiting = start(
        "3c90c3cc-0d44-4b50-8888-8dd25736052a",
        "--timeout",
        "500ms",
        "--interval",
        "100ms",
        DATAFRAMER_BASE_URL=f"http://127.0.0.1:{free_port()}",
    )
    assert waiting.finish() == 5
    assert "API unreachable (connection refused), retrying in" in waiting.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "missing argument 'RUN_ID...'"),
        (("not a run id",), "not a run id: 'not a run id'"),
        (("abc", "--timeout", "5 fortnights"), "invalid duration '5 fortnights'"),
        (("abc", "--timeout", "-1s"), "must not be negative"),
        (("abc", "--interval", "0s"), "--interval must be at least 100ms (got '0s')"),
        (("abc", "--interval", "10ms"), "--interval must be at least 100ms (got '10ms')"),
    ],
)
def test_exit_2_for_bad_usage(start: Start, args: tuple[str, ...], message: str) -> None:
    """No id, a bad id, a bad duration: one line on stderr, exit 2, nothing polled."""
    waiting = start(*args)
    assert waiting.finish() == 2
    lines = waiting.stderr.strip().splitlines()
    assert len(lines) == 1, waiting.stderr
    assert lines[0].startswith("dataframer-watcher: ")
    assert message in lines[0]


def test_exit_2_without_an_api_key(start: Start) -> None:
    """No key anywhere is a config problem: exit 2, one line saying where to put it."""
    waiting = start("abc", DATAFRAMER_API_KEY="")
    assert waiting.finish() == 2
    assert "no Dataframer API key" in waiting.stderr


# -- what it shows ------------------------------------------------------------------------


def test_the_api_failing_mid_wait_is_retried_and_the_run_still_succeeds(
    simulator: SimulatorServer, start: Start
) -> None:
    """5xx mid-wait: a retry line, then back to watching once it clears; exit 0."""
    (run_id,) = runs(simulator, "PROCESSING")
    waiting = start(run_id, "--interval", "100ms")
    polled(simulator, waiting, 1)
    simulator.sim.faults.add([{"kind": "status", "status": 502, "always": True}])
    wait_for(lambda: waiting.alive() and "API unreachable" in waiting.stdout, what="a retry line")
    simulator.sim.faults.clear()
    finish_runs(simulator, {run_id: "SUCCEEDED"})
    assert waiting.finish() == 0, waiting.stderr
    assert "API unreachable (HTTP 502), retrying in" in waiting.stdout
    assert waiting.stdout.splitlines()[-1] == "the run SUCCEEDED"


def test_a_rate_limit_is_honoured_and_said(simulator: SimulatorServer, start: Start) -> None:
    """429 with Retry-After: a retry line, then the run's verdict."""
    (run_id,) = runs(simulator, "SUCCEEDED")
    simulator.sim.faults.add([{"kind": "rate_limit", "retry_after": 1, "count": 1}])
    waiting = start(run_id, "--interval", "100ms")
    assert waiting.finish() == 0
    assert "API unreachable (rate limited), retrying in 1s" in waiting.stdout


def test_json_prints_the_final_runs_on_stdout(simulator: SimulatorServer, start: Start) -> None:
    """--json: stdout is one JSON array of the runs as the API last answered (the lines go
    to stderr, so a script can pipe stdout to jq)."""
    ok, failed = runs(simulator, "SUCCEEDED", "FAILED")
    waiting = start(ok, failed, "--json")
    assert waiting.finish() == 1
    data = json.loads(waiting.stdout)
    assert [(item["id"], item["kind"], item["status"]) for item in data] == [
        (ok, "run", "SUCCEEDED"),
        (failed, "run", "FAILED"),
    ]
    assert "runtime_params" in data[0]
    assert f"{failed} FAILED" in waiting.stderr


def test_on_a_terminal_it_draws_live_progress(simulator: SimulatorServer, start: Start) -> None:
    """On a pty: rich's live display (cursor control, a bar, the full id, a percentage)."""
    (run_id,) = runs(simulator, "PROCESSING")
    waiting = start(run_id, "--interval", "100ms", terminal=True)
    polled(simulator, waiting, 2)
    wait_for(lambda: waiting.alive() and "(0%)" in waiting.screen, what="the live display")
    finish_runs(simulator, {run_id: "SUCCEEDED"})
    assert waiting.finish() == 0
    screen = waiting.screen
    assert "\x1b[?25l" in screen  # rich hides the cursor while it redraws in place
    assert "━" in screen  # a bar
    assert run_id in screen
    assert "(100%)" in screen
    assert "the run SUCCEEDED" in screen


@pytest.mark.parametrize(
    ("sig", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
    ids=["ctrl-c", "sigterm"],
)
def test_a_signal_ends_it_cleanly(
    simulator: SimulatorServer, start: Start, sig: int, code: int, word: str
) -> None:
    """Ctrl-C mid-wait: exit 130; SIGTERM (a cancelled CI job): 143; one line, no traceback
    (finish() checks there is none)."""
    (run_id,) = runs(simulator, "PROCESSING")
    waiting = start(run_id, "--interval", "100ms")
    polled(simulator, waiting, 1)
    waiting.proc.send_signal(sig)
    assert waiting.finish() == code
    assert waiting.stderr.strip() == f"dataframer-watcher: {word}"


def test_ctrl_c_on_a_terminal_gives_the_cursor_back(
    simulator: SimulatorServer, start: Start
) -> None:
    """The live display hides the cursor; an interrupted wait shows it again."""
    (run_id,) = runs(simulator, "PROCESSING")
    waiting = start(run_id, "--interval", "100ms", terminal=True)
    wait_for(lambda: waiting.alive() and "\x1b[?25l" in waiting.screen, what="the live display")
    waiting.proc.send_signal(signal.SIGINT)
    assert waiting.finish() == 130
    assert waiting.screen.rindex("\x1b[?25h") > waiting.screen.rindex("\x1b[?25l")


def test_it_needs_no_state_file_nor_writable_directory(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    """With a config naming a state file: nothing created, in the state dir or the cwd."""
    (run_id,) = runs(simulator, "SUCCEEDED")
    cwd = tmp_path / "readonly"
    cwd.mkdir()
    state = tmp_path / "state" / "watcher.db"
    (cwd / "watcher.yaml").write_text(
        f"dataframer:\n  base_url: {simulator.url}\nstate:\n  path: {state}\n"
    )
    cwd.chmod(0o555)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "watcher", "wait", run_id],
            cwd=cwd,
            env=clean_env(DATAFRAMER_API_KEY=API_KEY),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        cwd.chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert not state.parent.exists()
    assert sorted(p.name for p in cwd.iterdir()) == ["watcher.yaml"]
    assert API_KEY not in result.stdout + result.stderr


def test_a_reader_that_leaves_early_costs_no_traceback(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    """`wait ID | head -1`: the pipe closes after the first line; wait still waits and exits
    with the run's verdict, with nothing on stderr."""
    (run_id,) = runs(simulator, "PROCESSING")
    errors = tmp_path / "stderr"
    with errors.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "wait", run_id, "--interval", "100ms"],
            cwd=tmp_path,
            env=clean_env(DATAFRAMER_API_KEY=API_KEY, DATAFRAMER_BASE_URL=simulator.url),
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().decode().startswith(f"{run_id} PROCESSING")
        proc.stdout.close()
        finish_runs(simulator, {run_id: "SUCCEEDED"})
        assert proc.wait(timeout=45) == 0
        assert errors.read_text() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_password_in_the_base_url_is_never_printed(
    simulator: SimulatorServer, start: Start
) -> None:
    """Errors name the API's URL; a password in it is masked there too."""
    (run_id,) = runs(simulator, "PROCESSING")
    password = "base-url-pass-0123456789"
    host = simulator.url.removeprefix("http://")
    waiting = start(
        run_id,
        "--timeout",
        "300ms",
        "--interval",
        "100ms",
        DATAFRAMER_BASE_URL=f"http://user:{password}@{host}",
        DATAFRAMER_API_KEY="sk-refused-0123456789",
    )
    assert waiting.finish() == 5
    assert "rejected the API key" in waiting.stderr
    assert password not in waiting.stdout + waiting.stderr


def test_every_kind_of_job_is_waited_for_by_its_reference(
    simulator: SimulatorServer, start: Start
) -> None:
    """`wait evaluation:ID red-team:ID anonymization:ID`: each read from its own path until
    it ends; the exit code takes the worst (the red-team run FAILED), lines and --json carry
    each job's kind and full reference."""
    sim = simulator.sim
    run = sim.add_run(status="SUCCEEDED", number_of_samples=30)
    timing = {"pending_seconds": 0.5, "processing_seconds": 1.0}
    evaluation = sim.add_evaluation(run.id, outcome="SUCCEEDED", **timing)
    red = sim.add_red_team_run(outcome="FAILED", **timing)
    anon = sim.add_anonymization_run(outcome="SUCCEEDED", **timing)
    refs = [f"evaluation:{evaluation.id}", f"red-team:{red.id}", f"anonymization:{anon.id}"]
    typed = [refs[0], f"red_team:{red.id.upper()}", refs[2]]
    waiting = start(*typed, "--interval", "100ms", "--json")
    assert waiting.finish() == 1, waiting.stderr
    final = json.loads(waiting.stdout)
    assert [(job["kind"], job["status"]) for job in final] == [
        ("evaluation", "SUCCEEDED"),
        ("red_team", "FAILED"),
        ("anonymization", "SUCCEEDED"),
    ]
    lines = waiting.stderr.splitlines()
    for ref in refs:
        assert any(line.startswith(ref) for line in lines), (ref, lines)
    assert lines[-1] == f"1 of 3 runs FAILED: {refs[1]}"

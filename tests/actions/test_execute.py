"""exec: a real program, no shell, the run's JSON on stdin, a timeout that kills its group."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from tests.support import wait_for
from watcher.actions.execute import OUTPUT_LIMIT, run_exec

SECRET = "sk-live-0123456789abcdef"


def _script(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "action.py"
    path.write_text("import os, sys, json, time, subprocess\n" + body)
    return [sys.executable, str(path)]


def _run(argv: list[str], *, stdin: bytes = b"{}", seconds: float = 30.0, env=None):
    return asyncio.run(
        run_exec(argv, stdin=stdin, env=env or dict(os.environ), seconds=seconds, secrets=[SECRET])
    )


def test_exit_zero_is_done_and_the_program_reads_the_run_on_stdin(tmp_path: Path) -> None:
    """The program gets the bytes on stdin, its argv as given (no shell: `$HOME` stays
    literal), and exit 0 is success."""
    argv = _script(tmp_path, "print(json.load(sys.stdin)['id'], sys.argv[1:])\n")
    result = _run([*argv, "$HOME", "a b"], stdin=b'{"id": "r-1"}')
    assert result.ok
    assert result.reason is None
    assert result.stdout == "r-1 ['$HOME', 'a b']\n"


def test_a_failing_exit_names_its_code_and_the_end_of_stderr(tmp_path: Path) -> None:
    """Anything but 0 is a failed attempt: the code and stderr's tail, on one line."""
    argv = _script(
        tmp_path,
        "print('x' * 500, file=sys.stderr)\n"
        "print('no disk\\nleft', file=sys.stderr)\nsys.exit(3)\n",
    )
    result = _run(argv)
    assert not result.ok
    assert result.exit_code == 3
    assert result.reason is not None
    assert result.reason.startswith("exited with code 3: …")
    assert result.reason.endswith("no disk left")
    assert "\n" not in result.reason


def test_a_program_that_cannot_start_is_a_failed_attempt(tmp_path: Path) -> None:
    """A missing or non-executable program fails the attempt with the reason, no crash."""
    missing = _run([str(tmp_path / "nope")])
    assert not missing.ok
    assert missing.reason == f"cannot start {str(tmp_path / 'nope')!r}: No such file or directory"
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program")
    refused = _run([str(plain)])
    assert refused.reason == f"cannot start {str(plain)!r}: Permission denied"


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """At the timeout the program and the child it started are killed, not left behind."""
    pid_file = tmp_path / "child.pid"
    argv = _script(
        tmp_path,
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(600)\n",
    )
    result = _run(argv, seconds=1.0)
    assert not result.ok
    assert result.timed_out
    assert result.reason == "timed out after 1s (its process group was killed)"
    child = int(pid_file.read_text())

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        # A zombie until init reaps it: dead all the same.
        return Path(f"/proc/{child}/stat").read_text().split()[2] == "Z"

    wait_for(gone, what="the grandchild to die")


def test_output_is_bounded_and_scrubbed(tmp_path: Path) -> None:
    """Only the end of a long output is kept (its size is counted); a secret never shows."""
    argv = _script(
        tmp_path,
        "sys.stdout.write('a' * 100_000 + ' key=' + sys.argv[1] + '\\n')\n"
        "sys.stderr.write('refused ' + sys.argv[1] + '\\n')\nsys.exit(1)\n",
    )
    result = _run([*argv, SECRET])
    assert result.stdout_bytes == 100_000 + len(f" key={SECRET}\n")
    assert len(result.stdout) <= OUTPUT_LIMIT
    assert result.stdout.endswith(" key=***\n")
    assert SECRET not in result.stdout + result.stderr + (result.reason or "")
    assert result.reason == "exited with code 1: refused ***"


def test_a_program_that_ignores_stdin_is_fine(tmp_path: Path) -> None:
    """A large JSON the program never reads neither blocks nor fails the attempt."""
    argv = _script(tmp_path, "sys.exit(0)\n")
    assert _run(argv, stdin=b"x" * 1_000_000).ok


def test_cancelling_the_attempt_kills_the_program(tmp_path: Path) -> None:
    """On shutdown the attempt is cancelled: the program does not outlive it."""
    pid_file = tmp_path / "pid"
    argv = _script(
        tmp_path, f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(600)\n"
    )

    async def scenario() -> None:
        task = asyncio.ensure_future(run_exec(argv, stdin=b"{}", env=dict(os.environ), seconds=600))
        while not pid_file.exists() or not pid_file.read_text():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

"""An `exec` action: the program run with its arguments (no shell), the run's JSON on stdin.

asyncio's subprocesses, so a slow action never blocks a send or a tick. The child starts in
a session (and process group) of its own, so a timeout, or the daemon stopping, kills the
whole group: a shell script's own children go with it. Exit 0 is success; anything else is
a failed attempt whose reason is the exit code and the tail of stderr. Output is kept
bounded (the last `OUTPUT_LIMIT` bytes of each stream), scrubbed of every known secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from watcher.config.durations import format_duration
from watcher.redact import redact_text

__all__ = ["OUTPUT_LIMIT", "ExecResult", "run_exec"]

OUTPUT_LIMIT = 8192  # bytes of each stream kept for the log: the end, where errors are
_REASON_LIMIT = 300  # characters of stderr in a failure reason (one line)
# After the program exits, how long its streams may stay open (a child it left behind holds
# them) before the group is killed: the outcome is known, the output is a courtesy.
_DRAIN_AFTER_EXIT = 2.0


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What one run of the program came to: `ok` on exit 0; `reason` why not; its output's
    tails (scrubbed) and total sizes."""

    ok: bool
    reason: str | None
    exit_code: int | None
    stdout: str
    stderr: str
    stdout_bytes: int
    stderr_bytes: int
    timed_out: bool = False


async def _tail(stream: asyncio.StreamReader | None, totals: list[int], slot: int) -> bytes:
    """Read a stream to its end, keeping its last OUTPUT_LIMIT bytes.

    Hand-written because `Process.communicate()` keeps all of the output in memory, and a
    chatty action must not grow the daemon without bound."""
    kept = bytearray()
    if stream is None:
        return b""
    while chunk := await stream.read(65536):
        totals[slot] += len(chunk)
        kept += chunk
        if len(kept) > OUTPUT_LIMIT:
            del kept[: len(kept) - OUTPUT_LIMIT]
    return bytes(kept)


async def _feed(stream: asyncio.StreamWriter | None, data: bytes) -> None:
    """Write the run's JSON to the child's stdin and close it; a child that does not read
    it (or exits first) is not an error."""
    if stream is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stream.write(data)
        await stream.drain()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stream.close()
        await stream.wait_closed()


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _one_line(text: str, limit: int) -> str:
    words = " ".join(text.split())
    return words if len(words) <= limit else "…" + words[-(limit - 1) :]


def _exit_reason(code: int, stderr: str) -> str:
    if code < 0:
        try:
            what = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            what = f"was killed by signal {-code}"
    else:
        what = f"exited with code {code}"
    tail = _one_line(stderr, _REASON_LIMIT)
    return f"{what}: {tail}" if tail else what


async def run_exec(
    argv: Sequence[str],
    *,
    stdin: bytes,
    env: Mapping[str, str],
    seconds: float,
    secrets: Iterable[str] = (),
) -> ExecResult:
    """Run `argv` once, `stdin` on its standard input, within `seconds` (its timeout).

    A program that cannot start (missing, not executable) is a failed attempt, not an
    error. Cancelled (the daemon stopping), the child's group is killed before this returns.
    """
    hidden = [secret for secret in secrets if secret]
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        why = f"cannot start {argv[0]!r}: {exc.strerror or type(exc).__name__}"
        return ExecResult(False, why, None, "", "", 0, 0)
    totals = [0, 0]
    feeder = asyncio.ensure_future(_feed(proc.stdin, stdin))
    readers = asyncio.gather(_tail(proc.stdout, totals, 0), _tail(proc.stderr, totals, 1))
    timed_out = False
    try:
        try:
            await asyncio.wait_for(proc.wait(), seconds)
        except TimeoutError:
            timed_out = True
            _kill_group(proc.pid)
            await proc.wait()
        try:
            out, err = await asyncio.wait_for(asyncio.shield(readers), _DRAIN_AFTER_EXIT)
        except TimeoutError:
            _kill_group(proc.pid)  # a child it left behind still holds the streams
            out, err = await readers
    except BaseException:
        # Cancelled (shutdown): the action must not outlive its attempt.
        _kill_group(proc.pid)
        feeder.cancel()
        readers.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.shield(proc.wait())
        raise
    finally:
        feeder.cancel()
        with contextlib.suppress(BaseException):
            await feeder
    stdout = redact_text(out.decode(errors="replace"), hidden)
    stderr = redact_text(err.decode(errors="replace"), hidden)
    code = proc.returncode
    assert code is not None
    ok = code == 0 and not timed_out
    reason = None
    if timed_out:
        reason = f"timed out after {format_duration(seconds)} (its process group was killed)"
    elif code != 0:
        reason = _exit_reason(code, stderr)
    return ExecResult(ok, reason, code, stdout, stderr, totals[0], totals[1], timed_out)

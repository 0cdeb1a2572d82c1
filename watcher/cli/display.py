"""How `wait` shows what it sees: live progress bars on a terminal, one plain line per change
otherwise. Every line is scrubbed of the secrets the process knows."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from watcher.logs import SCRUBBER
from watcher.redact import redact_text
from watcher.wait import Watch, detail_line, progress_line

__all__ = ["Display", "LiveDisplay", "PlainDisplay", "display_for"]


class Display(Protocol):
    """What the wait loop tells the person watching."""

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def update(self, state: Watch, *, changed: bool) -> None:
        """A job was observed (`changed`: its status or sample counts moved)."""

    def note(self, line: str) -> None:
        """A line about the watching itself (a retry, a run gone)."""


def _clean(line: str) -> str:
    return redact_text(line, SCRUBBER.secrets)


class PlainDisplay:
    """One line per change, flushed at once: for pipes, CI logs and grep."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._gone = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stream.flush()

    def update(self, state: Watch, *, changed: bool) -> None:
        """Print the job's line when something about it changed."""
        if changed:
            self.note(progress_line(state))

    def note(self, line: str) -> None:
        """Print a line now (a pipe would otherwise hold it back)."""
        if self._gone:
            return
        try:
            self._stream.write(_clean(line) + "\n")
            self._stream.flush()
        except BrokenPipeError:
            # The reader left (`wait ID | head -1`): wait on quietly, for the exit code, with
            # the stream pointed at /dev/null so that no later flush fails with a traceback.
            self._gone = True
            with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
                os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())


class LiveDisplay:
    """A rich progress bar per job, redrawn in place; notes scroll above the bars."""

    def __init__(self, stream: TextIO, refs: Sequence[str]) -> None:
        self._console = Console(file=stream, highlight=False)
        self._progress = Progress(
            TextColumn("{task.fields[ref]}", markup=False),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[detail]}", markup=False),
            console=self._console,
            refresh_per_second=4,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._tasks: dict[str, TaskID] = {
            ref: self._progress.add_task(ref, total=None, ref=ref, detail="waiting for the API")
            for ref in refs
        }

    def __enter__(self) -> Self:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Stopping draws the bars one last time and restores the cursor, even on Ctrl-C.
        self._progress.stop()

    def update(self, state: Watch, *, changed: bool) -> None:
        """Redraw the job's bar with its newest numbers (rate and ETA move on every poll)."""
        job = state.job
        if job is None:
            return
        total: float | None = job.requested
        completed: float = job.processed
        if total is None and job.finished:
            total, completed = 1, 1  # a full bar rather than one pulsing forever
        self._progress.update(
            self._tasks[state.ref],
            total=total,
            completed=completed,
            detail=_clean(detail_line(state)),
        )

    def note(self, line: str) -> None:
        """Print a line above the bars."""
        self._console.print(_clean(line), markup=False, highlight=False, soft_wrap=True)


def display_for(stream: TextIO, refs: Sequence[str]) -> LiveDisplay | PlainDisplay:
    """Live bars when `stream` is a terminal rich can redraw, plain lines otherwise."""
    console = Console(file=stream)
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveDisplay(stream, refs)
    return PlainDisplay(stream)

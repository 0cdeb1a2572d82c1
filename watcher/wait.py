"""What `wait` decides, pure: the exit code, what changed, rate and ETA, and the lines it prints.

No I/O and no clock: times are plain seconds the caller reads from its monotonic clock. The
loop that polls the API and draws the display is `watcher.cli.waiting`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from watcher.config.durations import format_duration
from watcher.eta import requested
from watcher.models import Job as ApiJob
from watcher.models import RunStatus, is_terminal
from watcher.templates.helpers import human_duration, money

__all__ = [
    "Exit",
    "Job",
    "Watch",
    "at_deadline",
    "detail_line",
    "eta_seconds",
    "exit_line",
    "gone_line",
    "job_of",
    "json_of",
    "outcome",
    "progress_line",
    "rate_per_second",
    "retry_line",
    "watch",
]


class Exit(IntEnum):
    """`wait`'s exit codes, as the brief fixes them."""

    SUCCEEDED = 0
    FAILED = 1
    USAGE = 2
    CANCELED = 3
    TIMEOUT = 4
    CANNOT_WATCH = 5
    INTERRUPTED = 130  # the shell's convention for a signal: 128 + SIGINT (2)
    TERMINATED = 143  # 128 + SIGTERM (15)


@dataclass(frozen=True, slots=True)
class Job:
    """One job as `wait` observed it, whatever its kind: the numbers it shows and its JSON."""

    ref: str
    kind: str
    status: str | None
    completed: int
    failed: int
    requested: int | None
    cost: float | None
    data: Mapping[str, Any]

    @property
    def processed(self) -> int:
        """Samples the job is done with, well or not: what counts against `requested`."""
        return self.completed + self.failed

    @property
    def fraction(self) -> float | None:
        """How far along, 0 to 1 (None when the requested count is unknown)."""
        if not self.requested:
            return None
        return min(1.0, self.processed / self.requested)

    @property
    def finished(self) -> bool:
        """True once the job reached SUCCEEDED, FAILED or CANCELED."""
        return is_terminal(self.status)


def job_of(ref: str, run: ApiJob) -> Job:
    """A job of any kind as `wait` sees it. The requested count is a generation run's
    ``runtime_params.number_of_samples`` (absent from list reads); the other kinds report
    none, so they show a status and no bar's end."""
    return Job(
        ref=ref,
        kind=run.kind,
        status=run.status,
        completed=max(0, run.samples_completed or 0),
        failed=max(0, run.samples_failed or 0),
        requested=requested(run),
        cost=run.total_cost,
        data={"kind": run.kind, **run.model_dump(mode="json")},
    )


@dataclass(frozen=True, slots=True)
class Watch:
    """What `wait` knows of one job: the last observation, and the first and last moments
    its sample count was seen at (for the rate)."""

    ref: str
    kind: str = "run"
    job: Job | None = None
    first_at: float | None = None
    first_processed: int = 0
    last_at: float | None = None

    @property
    def finished(self) -> bool:
        """True once the job is known to have finished."""
        return self.job is not None and self.job.finished


def watch(previous: Watch, job: Job, at: float) -> tuple[Watch, bool]:
    """The watch after observing `job` at time `at`, and whether that is a change worth a line:
    the first sight, another status, or other sample counts (not a repeat of the last poll).

    The rate counts from the first sight of the job under way (not PENDING): samples done
    before then were done at a pace nobody saw, and time spent queued is not its pace.
    """
    last = previous.job
    changed = last is None or (last.status, last.completed, last.failed) != (
        job.status,
        job.completed,
        job.failed,
    )
    restarted = last is not None and job.processed < last.processed
    if previous.first_at is None or job.status == RunStatus.PENDING or restarted:
        # First sight, still queued, or the count went back (a restarted job): start over.
        return (
            replace(previous, job=job, first_at=at, first_processed=job.processed, last_at=None),
            changed,
        )
    return replace(previous, job=job, last_at=at), changed


def rate_per_second(state: Watch) -> float | None:
    """Samples per second since the first sight; None until samples moved after it."""
    if state.job is None or state.first_at is None or state.last_at is None:
        return None
    elapsed = state.last_at - state.first_at
    moved = state.job.processed - state.first_processed
    if elapsed <= 0 or moved <= 0:
        return None
    return moved / elapsed


def eta_seconds(state: Watch) -> float | None:
    """Seconds until the job is done at its rate so far; None when that cannot be said."""
    job = state.job
    rate = rate_per_second(state)
    if job is None or job.finished or rate is None or job.requested is None:
        return None
    return max(0, job.requested - job.processed) / rate


def outcome(jobs: Iterable[Job | None]) -> Exit | None:
    """The exit code once every job finished: FAILED wins, then CANCELED; None while any is
    unfinished (or unseen)."""
    statuses = [None if job is None else job.status for job in jobs]
    if not all(is_terminal(status) for status in statuses):
        return None
    if RunStatus.FAILED in statuses:
        return Exit.FAILED
    if RunStatus.CANCELED in statuses:
        return Exit.CANCELED
    return Exit.SUCCEEDED


def at_deadline(*, unreachable: bool) -> Exit:
    """The exit code when the timeout passes first: 5 while the API is failing (it could not
    watch), else 4 (the runs are simply not done)."""
    return Exit.CANNOT_WATCH if unreachable else Exit.TIMEOUT


def progress_line(state: Watch) -> str:
    """One plain line for a job, easy to grep: its ref first, then `detail_line`."""
    return f"{state.ref} {detail_line(state)}"


def detail_line(state: Watch) -> str:
    """Status, samples, rate, ETA and cost so far ("PROCESSING 120/500 samples (24%),
    12.0/min, ETA 31m 40s, $1.23"); what is unknown is left out."""
    job = state.job
    if job is None:
        return "UNSEEN"
    parts = [progress_text(state)]
    rate = rate_text(state)
    if rate:
        parts.append(rate)
    eta = eta_text(state)
    if eta:
        parts.append(f"ETA {eta}")
    if job.cost is not None:
        parts.append(money(job.cost))
    return f"{job.status or 'UNKNOWN'} " + ", ".join(parts)


def progress_text(state: Watch) -> str:
    """ "120/500 samples (24%), 3 failed", or "120 samples" when the request is unknown."""
    job = state.job
    if job is None:
        return ""
    fraction = job.fraction
    done = f"{job.processed}/{job.requested}" if job.requested else f"{job.processed}"
    text = f"{done} samples"
    if fraction is not None:
        text += f" ({fraction * 100:.0f}%)"
    return text + (f", {job.failed} failed" if job.failed else "")


def rate_text(state: Watch) -> str:
    """ "12.5/min", or "" before there is a rate."""
    rate = rate_per_second(state)
    if rate is None or state.finished:
        return ""
    return f"{rate * 60:.1f}/min"


def eta_text(state: Watch) -> str:
    """ "31m 40s", or "" when there is no estimate."""
    eta = eta_seconds(state)
    return "" if eta is None else human_duration(eta)


def retry_line(reason: str, delay: float) -> str:
    """What a failed poll prints: why, and when `wait` tries again."""
    # Tenths of a second: backoffs start at --interval, which may be well under a second.
    return f"API unreachable ({reason}), retrying in {format_duration(round(delay, 1))}"


def gone_line(ref: str, *, seen: bool) -> str:
    """The line for a 404: an id the API never knew, or a run that disappeared mid-wait."""
    if seen:
        return f"{ref} disappeared: the API answers 404 for it now"
    return f"{ref}: no such run (the API answers 404)"


def exit_line(code: Exit, states: Sequence[Watch], *, timeout: float | None = None) -> str:
    """The closing line: what the runs came to, or why `wait` stopped first."""
    total = len(states)
    noun = "run" if total == 1 else "runs"
    unfinished = [s.ref for s in states if not s.finished]
    if code is Exit.SUCCEEDED:
        return "the run SUCCEEDED" if total == 1 else f"all {total} runs SUCCEEDED"
    if code in (Exit.FAILED, Exit.CANCELED):
        status = code.name
        named = [s.ref for s in states if s.job is not None and s.job.status == status]
        return f"{len(named)} of {total} {noun} {status}: {' '.join(named)}"
    waited = "" if timeout is None else f" after {format_duration(timeout)}"
    if code is Exit.TIMEOUT:
        return f"timed out{waited}; still running: {' '.join(unfinished)}"
    if code is Exit.CANNOT_WATCH:
        return f"could not watch{waited}; unfinished: {' '.join(unfinished)}"
    return f"{code.name.lower()}; unfinished: {' '.join(unfinished)}"


def json_of(states: Sequence[Watch]) -> list[dict[str, Any]]:
    """The final runs for `--json`: each as the API last answered it, with its kind (a run
    never read carries its id and a null status)."""
    return [
        dict(s.job.data) if s.job is not None else {"id": s.ref, "kind": s.kind, "status": None}
        for s in states
    ]

"""stuck: the pure rules of stuck runs (`alerts.stuck`), beside detect.

A run is stuck when it has been PENDING for `pending_after`, or PROCESSING with the same
`samples_completed` for `no_progress_after`, counted from when it last moved (`progress_at`:
its first sighting, a new status, a new `samples_completed`). The list can lag behind a run,
so a run that looks stuck is a candidate first (`candidates`), read again in detail, and
`confirm` decides from that read: unchanged, it gets its STUCK alert; moved, nothing.

A stall the watcher reported is an episode: one STUCK alert, then (with `repeat`) a reminder
every `repeat` while it lasts. The run's next move ends it (`advance`, called by detect); a
later stall is a new episode with an alert of its own. An ended episode stays on the run's
snapshot, so its final alert can say how long it was stuck (`stall_of`).

No I/O and no clock: detect, the pipeline and the tests pass `now`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from watcher.events import Event, EventKind, Snapshot
from watcher.kinds import kind_info
from watcher.models import Job, RunStatus
from watcher.run_refs import kind_of

__all__ = [
    "StuckRules",
    "Verdicts",
    "advance",
    "candidates",
    "confirm",
    "decide",
    "is_due",
    "moved",
    "observed_view",
    "stall_of",
]


@dataclass(frozen=True, slots=True)
class StuckRules:
    """`alerts.stuck` in seconds: the thresholds (None: that status is never stuck) and how
    often to remind while a run stays stuck (0: never)."""

    pending_after: float | None = None
    no_progress_after: float | None = None
    repeat: float = 0.0

    def threshold(self, status: str | None) -> float | None:
        """How long a run may stay still at `status` before it is stuck (None: forever)."""
        if status == RunStatus.PENDING:
            return self.pending_after
        if status == RunStatus.PROCESSING:
            return self.no_progress_after
        return None  # finished, unknown or no status: never stuck


def moved(snapshot: Snapshot, run: Job) -> bool:
    """Whether `run` (a new read) differs from the snapshot in status or samples completed.

    A snapshot without the run's data cannot tell, and counts it as a move: better a stall
    noticed one poll late than a run that moved called stuck.
    """
    if snapshot.run is None or snapshot.status != run.status:
        return True
    return snapshot.run.samples_completed != run.samples_completed


def advance(prev: Snapshot | None, current: Snapshot, now: datetime) -> Snapshot:
    """`current` (what detect makes of `prev` observed again at `now`) with its progress kept:
    a first sighting or a move sets `progress_at`, and a move ends a reported stall."""
    if prev is None or prev.progress_at is None or current.run is None:
        return replace(current, progress_at=now)
    if not moved(prev, current.run):
        return current
    return replace(
        current, progress_at=now, stuck_ended_at=now if prev.stuck else prev.stuck_ended_at
    )


def stall_of(snapshot: Snapshot, now: datetime) -> float | None:
    """Seconds the run's last reported stall lasted: until `now` while it goes on, else until
    the observation that saw it move. None if it was never reported stuck."""
    if snapshot.stuck_since is None:
        return None
    end = now if snapshot.stuck_ended_at is None else snapshot.stuck_ended_at
    return max(0.0, (end - snapshot.stuck_since).total_seconds())


def is_due(snapshot: Snapshot, now: datetime, rules: StuckRules) -> bool:
    """Whether this tick should check the run for a STUCK alert or a reminder.

    Still past its threshold and either not reported yet, or reported with `repeat` set and
    the last word older than `repeat`. Gone and untracked runs never are.
    """
    if snapshot.gone or snapshot.muted or snapshot.progress_at is None:
        return False
    limit = rules.threshold(snapshot.status)
    if snapshot.status == RunStatus.PROCESSING and not kind_info(kind_of(snapshot.run_id)).progress:
        limit = None  # a kind that reports no progress cannot be seen not to make any
    if limit is None or (now - snapshot.progress_at).total_seconds() < limit:
        return False
    if not snapshot.stuck:
        return True
    last = snapshot.stuck_notified_at or snapshot.stuck_since
    return rules.repeat > 0 and last is not None and (now - last).total_seconds() >= rules.repeat


def observed_view(
    previous: Mapping[str, Snapshot], changed: Iterable[Snapshot], observed: Iterable[str]
) -> list[Snapshot]:
    """The snapshots of the runs a tick observed: detect's new ones where it made one, the
    previous one where the run was seen unchanged (detect writes nothing for those), in run
    id order. A run still for half an hour is seen unchanged, so this is where it is found."""
    view = {s.run_id: s for s in changed}
    for run_id in observed:
        if run_id not in view and (prev := previous.get(run_id)) is not None:
            view[run_id] = prev
    return [view[run_id] for run_id in sorted(view)]


def candidates(snapshots: Iterable[Snapshot], now: datetime, rules: StuckRules) -> list[Snapshot]:
    """The snapshots (this tick's, from detect) due for a stuck check, in run id order."""
    return sorted((s for s in snapshots if is_due(s, now, rules)), key=lambda s: s.run_id)


def confirm(candidate: Snapshot, detail: Job, now: datetime) -> tuple[Snapshot, Event | None]:
    """Decide a candidate from its detail read: unchanged, its STUCK alert (a reminder when
    the episode was already reported) and the snapshot that records it; moved, neither.

    A run that moved keeps the snapshot detect made: the next observation records the move.
    The event's `stuck_for` is how long the run has not moved, up to `now`.
    """
    if moved(candidate, detail) or candidate.progress_at is None:
        return candidate, None
    reminder = candidate.stuck
    snapshot = replace(
        candidate,
        stuck_since=candidate.stuck_since if reminder else candidate.progress_at,
        stuck_notified_at=now,
        stuck_ended_at=None,
    )
    event = Event(
        run_id=candidate.run_id,
        kind=EventKind.STUCK,
        from_status=candidate.status,
        to_status=candidate.status,
        at=now,
        alert=True,
        run=detail,
        previous_since=candidate.status_since,
        stuck_for=max(0.0, (now - candidate.progress_at).total_seconds()),
        reminder=reminder,
    )
    return snapshot, event


@dataclass(frozen=True, slots=True)
class Verdicts:
    """What the detail reads decided: this tick's snapshots (the confirmed ones updated), the
    STUCK alerts and reminders, and which candidates moved or could not be read."""

    snapshots: tuple[Snapshot, ...]
    events: tuple[Event, ...]
    moved: tuple[str, ...] = ()
    unread: tuple[str, ...] = ()


def decide(
    snapshots: Sequence[Snapshot],
    due: Sequence[Snapshot],
    details: Mapping[str, Job],
    now: datetime,
) -> Verdicts:
    """`confirm` each candidate in `due` against its detail read in `details`; a candidate
    without one (the read failed) is left undecided, for a later tick to try again."""
    confirmed: dict[str, Snapshot] = {}
    events: list[Event] = []
    moved_ids: list[str] = []
    unread: list[str] = []
    for candidate in due:
        detail = details.get(candidate.run_id)
        if detail is None:
            unread.append(candidate.run_id)
            continue
        snapshot, event = confirm(candidate, detail, now)
        if event is None:
            moved_ids.append(candidate.run_id)
            continue
        confirmed[candidate.run_id] = snapshot
        events.append(event)
    return Verdicts(
        snapshots=tuple(confirmed.get(s.run_id, s) for s in snapshots),
        events=tuple(events),
        moved=tuple(moved_ids),
        unread=tuple(unread),
    )

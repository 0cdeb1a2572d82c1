"""detect: a pure function from (previous snapshots, one observation, now) to events.

No I/O and no clock: everything it needs is passed in, so it is exhaustively tested.

Rules (the brief's alert semantics):
- a run's first observation is an alert when it is already finished, unless it belongs to
  the silent discovery baseline;
- a status change is an event; a change to a terminal status is an alert;
- a terminal status is final: later observations of that run are ignored, so a run alerts
  at most once whatever the API says afterwards;
- unknown statuses are recorded like any other, never alerted;
- a run observed exactly as its snapshot holds it gets no new snapshot: nothing to write
  (the tick's time is the run's "last polled", kept once per tick, not per run);
- a run the API confirmed gone (404) becomes `gone`, once;
- every observed run's snapshot keeps when it last moved (`watcher.stuck.advance`), and the
  final alert of a run once reported stuck says for how long (`Event.stuck_for`); which runs
  are stuck is decided after detect (`watcher.stuck.candidates`, then a detail read).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from watcher.events import Detection, Event, EventKind, Observation, Snapshot, Source
from watcher.models import Job, is_terminal
from watcher.stuck import advance, stall_of


def detect(previous: Mapping[str, Snapshot], observation: Observation, now: datetime) -> Detection:
    """Compare what the API returned with what we knew; return the snapshots to write and events."""
    snapshots: list[Snapshot] = []
    events: list[Event] = []
    seen: set[str] = set()
    for run in observation.runs:
        if run.ref in seen:  # a list that repeats a run: the first (newest) copy wins
            continue
        seen.add(run.ref)
        prev = previous.get(run.ref)
        if prev is not None and is_terminal(prev.status):
            continue  # finished runs are final and not polled again
        if prev is not None and _unchanged(prev, run):
            continue
        snapshot, event = _observe(prev, run, observation.silent(run), now)
        snapshots.append(advance(prev, snapshot, now))
        if event is not None:
            if event.alert and prev is not None:
                event = replace(event, stuck_for=stall_of(prev, now))
            events.append(event)
    for run_id in sorted(observation.missing - seen):
        prev = previous.get(run_id)
        if prev is None or prev.gone or is_terminal(prev.status):
            continue
        snapshots.append(replace(prev, gone=True, last_polled=now, status_since=now))
        events.append(
            Event(
                run_id=run_id,
                kind=EventKind.GONE,
                from_status=prev.status,
                to_status=None,
                at=now,
                alert=False,
                run=prev.run,
                previous_since=prev.status_since,
            )
        )
    return Detection(snapshots=tuple(snapshots), events=tuple(events))


def _unchanged(prev: Snapshot, run: Job) -> bool:
    """Observed again as recorded: same status, same data, nothing for `advance` to set."""
    return (
        prev.status == run.status
        and not prev.gone
        and prev.first_seen is not None
        and prev.progress_at is not None
        and prev.run == run
    )


def _observe(
    prev: Snapshot | None, run: Job, baseline: bool, now: datetime
) -> tuple[Snapshot, Event | None]:
    """One observed run against its previous snapshot (never a terminal one)."""
    if prev is None:
        snapshot = Snapshot(
            run_id=run.ref,
            source=Source.DISCOVERED,
            status=run.status,
            status_since=now,
            first_seen=now,
            last_polled=now,
            run=run,
        )
        if baseline:
            return snapshot, None
        return snapshot, _event(EventKind.FIRST_SEEN, None, run, now, None, alert=True)

    muted = prev.muted
    if prev.first_seen is None and not prev.gone:  # tracked by id, never observed
        snapshot = replace(
            prev, status=run.status, status_since=now, first_seen=now, last_polled=now, run=run
        )
        return snapshot, _event(EventKind.FIRST_SEEN, None, run, now, None, alert=not muted)

    if prev.status == run.status:  # unchanged (a run reported gone that came back included)
        return replace(prev, last_polled=now, gone=False, run=run), None

    snapshot = replace(
        prev, status=run.status, status_since=now, last_polled=now, gone=False, run=run
    )
    event = _event(EventKind.TRANSITION, prev.status, run, now, prev.status_since, alert=not muted)
    return snapshot, event


def _event(
    kind: EventKind,
    from_status: str | None,
    run: Job,
    now: datetime,
    previous_since: datetime | None,
    *,
    alert: bool,
) -> Event:
    return Event(
        run_id=run.ref,
        kind=kind,
        from_status=from_status,
        to_status=run.status,
        at=now,
        alert=alert and is_terminal(run.status),
        run=run,
        previous_since=previous_since,
    )

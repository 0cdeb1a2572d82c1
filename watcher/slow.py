"""slow: the pure rule of slow runs (`alerts.slow_below`), beside stuck.

A PROCESSING run (of a kind that reports progress: `watcher.kinds.Kind.progress`) whose samples
moved this tick is compared with its spec's history: its pace so far (samples per minute since
the watcher's first point of it) against the median pace of the spec's earlier finished runs
(`watcher.eta`). Below `slow_below` of that median, with enough history, it gets ONE alert with
status SLOW and the `slow` flag, whose reason is the comparison ("12 samples/min, a third of
this spec's median 36/min over 8 runs").

Once per run: a run that had its SLOW alert never gets another, even if it speeds up and slows
down again (its final alert is what comes next); a stall is STUCK's to report. Only runs that
moved are judged, so a tick costs what changed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime

from watcher.eta import SLOW, Point, SpecPace, measured, pace, slow_reason, spec_key
from watcher.events import Event, EventKind, Snapshot
from watcher.models import RunStatus

__all__ = ["judged", "slow_events"]


def judged(snapshots: Iterable[Snapshot], now: datetime) -> list[Snapshot]:
    """The snapshots this tick may judge: PROCESSING runs of a kind that reports progress
    (`watcher.eta.measured`) whose samples moved at `now`."""
    return [
        s
        for s in snapshots
        if s.status == RunStatus.PROCESSING
        and s.run is not None
        and measured(s.run)
        and s.run.samples_completed is not None
        and s.progress_at == now
        and not s.gone
        and not s.muted
    ]


def slow_events(
    candidates: Iterable[Snapshot],
    now: datetime,
    *,
    firsts: Mapping[str, Point],
    paces: Mapping[str, SpecPace],
    alerted: Collection[str],
    below: float,
) -> tuple[Event, ...]:
    """A SLOW alert for each candidate (from `judged`) that is slow and was never told so."""
    events = []
    for snap in candidates:
        run, first = snap.run, firsts.get(snap.run_id)
        if run is None or first is None or snap.run_id in alerted:
            continue
        key = spec_key(run)
        history = paces.get(key) if key is not None else None
        done = run.samples_completed
        rate = None if done is None else pace(first, Point(now, done))
        if rate is None:
            continue
        minutes = (now - first.at).total_seconds() / 60
        reason = slow_reason(rate, minutes, history, below)
        if reason is None:
            continue
        events.append(
            Event(
                run_id=snap.run_id,
                kind=EventKind.SLOW,
                from_status=snap.status,
                to_status=snap.status,
                at=now,
                alert=True,
                run=run,
                previous_since=snap.status_since,
                flags=(SLOW,),
                reasons=(reason,),
            )
        )
    return tuple(events)

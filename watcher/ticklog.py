"""What a tick says in the log about what it decided: a line per event, per template problem,
per held or suppressed alert, and per run whose stall ended (logger ``watcher.pipeline``, the
stage whose decisions they are)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import structlog

from watcher.events import Event, EventKind, Notification, PlannedAction, Snapshot
from watcher.hold import Decision
from watcher.models import KNOWN_STATUSES
from watcher.stuck import stall_of

__all__ = ["log_actions", "log_decision", "log_event", "log_notes", "log_unstuck"]

log = structlog.get_logger("watcher.pipeline")


def log_event(event: Event, channels: list[str]) -> None:
    """One line for an event: its run, its change and the channels its alert goes to."""
    bound = log.bind(run_id=event.run_id, from_status=event.from_status, to_status=event.to_status)
    if event.stuck_for is not None:
        bound = bound.bind(stuck_for=round(event.stuck_for, 3))
    if event.kind is EventKind.STUCK:
        bound.warning("run_stuck", reminder=event.reminder, channels=channels)
    elif event.kind is EventKind.SLOW:
        bound.warning("run_slow", reason=event.reasons[0], channels=channels)
    elif event.kind is EventKind.GONE:
        bound.warning("run_gone")
    elif event.to_status is not None and event.to_status not in KNOWN_STATUSES:
        bound.warning("unknown_status")
    elif event.alert:
        bound.info("run_finished", channels=channels)
    else:
        bound.info("run_" + event.kind.value)


def log_notes(notes: list[Notification]) -> None:
    """A template that fell back to the built-in one, or named a value that is not there."""
    for note in notes:
        for problem in note.notes:
            log.warning("template_problem", channel=note.channel, problem=problem)


def log_decision(events: tuple[Event, ...], decision: Decision) -> None:
    """One line per alert held for later or suppressed by a mute."""
    for held in decision.held:
        log.info(
            "alert_held",
            run_id=events[held.intent.event_index].run_id,
            channel=held.intent.channel,
            until=held.until.isoformat(),
            why=str(held.why),
        )
    for quiet in decision.suppressed:
        log.info(
            "alert_suppressed",
            run_id=events[quiet.intent.event_index].run_id,
            channel=quiet.intent.channel,
            mute=quiet.mute_id,
        )


def log_actions(events: tuple[Event, ...], actions: tuple[PlannedAction, ...]) -> None:
    """One line per action queued, or suppressed by a mute."""
    for action in actions:
        run_id = events[action.event_index].run_id
        if action.muted_by is None:
            log.info("action_queued", run_id=run_id, action=action.label)
        else:
            log.info("action_suppressed", run_id=run_id, action=action.label, mute=action.muted_by)


def log_unstuck(before: Mapping[str, Snapshot], after: tuple[Snapshot, ...], now: datetime) -> None:
    """One line per run whose reported stall this tick's observation ended."""
    for snapshot in after:
        prev = before.get(snapshot.run_id)
        if prev is not None and prev.stuck and not snapshot.stuck:
            log.info("run_unstuck", run_id=snapshot.run_id, stuck_for=stall_of(snapshot, now))

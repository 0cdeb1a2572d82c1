"""Which actions a tick's alerts ask for, and what an exec action's child is given. Pure.

An alert gets the actions of every route that matches it (`watcher.route.matches`, read in
order until a matching route with `stop`), each distinct action once. Only a finished run's
alert (SUCCEEDED, FAILED, CANCELED) runs actions: a STUCK alert is a warning about a run
still under way, and its files do not exist yet. A mute on the run or its spec suppresses
them (recorded, as for messages); a mute on a channel is about that channel and does not.
Digests and quiet hours pace messages to people, not actions: actions are queued at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from watcher.events import Event, EventKind, PlannedAction
from watcher.hold import Mute, MuteScope
from watcher.models import TERMINAL_STATUSES
from watcher.route import RouteRule, job_kind, matches

__all__ = ["ActionRule", "ActionSpec", "child_environment", "label", "plan_actions"]


class ActionSpec(Protocol):
    """The shape of a configured action (watcher.config.ActionConfig)."""

    @property
    def kind(self) -> str: ...
    def spec(self) -> dict[str, object]: ...


class ActionRule(RouteRule, Protocol):
    """A route with its actions (watcher.config.Route)."""

    @property
    def actions(self) -> Sequence[ActionSpec]: ...


def label(kind: str, spec: Mapping[str, object]) -> str:
    """An action in a few words for `history` and the logs: its program, or its directory."""
    if kind == "exec":
        argv = spec.get("exec")
        program = argv[0] if isinstance(argv, list) and argv else "?"
        return f"exec {program}"
    return f"download to {spec.get('download')}"


def _muted(mutes: Iterable[Mute], event: Event, now: datetime) -> str | None:
    for mute in mutes:
        if mute.scope is not MuteScope.CHANNEL and mute.active(now) and mute.matches(event, ""):
            return mute.id
    return None


def plan_actions(
    events: Sequence[Event],
    routes: Sequence[ActionRule],
    *,
    mutes: Sequence[Mute] = (),
    now: datetime,
) -> tuple[PlannedAction, ...]:
    """The actions of the tick's finished-run alerts, events in order, each alert's actions
    in the order the routes name them, each distinct action once per alert."""
    planned: list[PlannedAction] = []
    for index, event in enumerate(events):
        if not event.alert or event.kind is EventKind.STUCK:
            continue
        if event.to_status not in TERMINAL_STATUSES:
            continue
        seen: set[str] = set()
        muted_by = _muted(mutes, event, now) if mutes else None
        for rule in routes:
            if not matches(rule, event):
                continue
            for action in rule.actions:
                spec = action.spec()
                key = json.dumps([action.kind, spec], sort_keys=True)
                if key in seen:
                    continue
                seen.add(key)
                planned.append(
                    PlannedAction(
                        event_index=index,
                        kind=action.kind,
                        spec=spec,
                        label=label(action.kind, spec),
                        run_kind=job_kind(event),
                        muted_by=muted_by,
                    )
                )
            if rule.stop:
                break
    return tuple(planned)


# Names the child never inherits: the API key (an action that needs it reads it its own
# way), the watcher's own configuration (channel URLs hold tokens) and systemd's
# credentials directory (the watcher's secret files).
_WITHHELD_PREFIXES = ("WATCHER_",)
_WITHHELD = frozenset({"DATAFRAMER_API_KEY", "CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET"})


def child_environment(
    environ: Mapping[str, str],
    secrets: Iterable[str],
    *,
    run_id: str,
    run_kind: str,
    status: str,
    spec_name: str | None,
) -> dict[str, str]:
    """An exec action's environment: the daemon's, minus every secret, plus the run's facts.

    Besides the names above, any variable whose value holds a known secret goes too (the
    `${VAR}` a channel URL took its token from). `DATAFRAMER_*` names describe the run:
    `run_id` is its canonical reference (``red-team:ID``...), what every command takes back.
    """
    hidden = [secret for secret in secrets if secret]
    env = {
        name: value
        for name, value in environ.items()
        if name not in _WITHHELD
        and not name.startswith(_WITHHELD_PREFIXES)
        and not any(secret in value for secret in hidden)
    }
    env.update(
        DATAFRAMER_RUN_ID=run_id,
        DATAFRAMER_RUN_KIND=run_kind,
        DATAFRAMER_RUN_STATUS=status,
        DATAFRAMER_SPEC_NAME=spec_name or "",
    )
    return env

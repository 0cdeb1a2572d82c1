"""hold: which routed alerts go out now, and which wait or are silenced. Pure: no I/O, no clock.

Applied to a tick's intents in this order:
1. a mute silences an alert: it is *suppressed*, recorded with the mute's id (`history`
   shows it), never sent and never silently dropped;
2. a route's quiet hours *hold* its alerts until they end (the intent's `hold_until`), to go
   out then as one digest per channel;
3. a digest paces each channel (`alerts.digest`): within a window that opens with the first
   alert of a burst, the first `threshold` alerts go out at once (a single alert is never
   delayed); the rest are held until the window ends and go out as one digest naming every
   run. Without a digest policy every alert goes out at once, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase

from watcher.events import Event, Held, HoldReason, Intent, Suppressed, Window

__all__ = [
    "Decision",
    "DigestPolicy",
    "Held",
    "HoldReason",
    "Mute",
    "MuteScope",
    "Suppressed",
    "Window",
    "hold",
    "silencing",
]


class MuteScope(StrEnum):
    """What a mute matches: a spec name glob, one run, or a whole channel."""

    SPEC = "spec"
    RUN = "run"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class Mute:
    """A silence `mute` set: alerts it matches until `until` are suppressed."""

    id: str
    scope: MuteScope
    pattern: str
    until: datetime
    reason: str | None = None
    created_at: datetime | None = None
    ended_at: datetime | None = None  # `unmute` ended it early

    def active(self, now: datetime) -> bool:
        """Whether it silences alerts at `now`."""
        return self.ended_at is None and now < self.until

    def matches(self, event: Event, channel: str) -> bool:
        """Whether this mute covers `event` on `channel` (ignoring time)."""
        if self.scope is MuteScope.CHANNEL:
            return channel == self.pattern
        if self.scope is MuteScope.RUN:
            return event.run_id == self.pattern
        spec = event.run.spec_name if event.run is not None else None
        return spec is not None and fnmatchcase(spec, self.pattern)


def silencing(mutes: Iterable[Mute], event: Event, channel: str, now: datetime) -> Mute | None:
    """The first active mute that covers `event` on `channel`, if any."""
    return next((m for m in mutes if m.active(now) and m.matches(event, channel)), None)


@dataclass(frozen=True, slots=True)
class DigestPolicy:
    """Per channel: more than `threshold` alerts within `window` seconds go as one digest."""

    window: float
    threshold: int


@dataclass(frozen=True, slots=True)
class Decision:
    """hold's output: the intents to send now, the held and suppressed ones, and the windows
    that opened or counted an alert (to be written with the tick)."""

    now: tuple[Intent, ...]
    held: tuple[Held, ...] = ()
    suppressed: tuple[Suppressed, ...] = ()
    windows: Mapping[str, Window] = field(default_factory=dict)


def hold(
    events: Sequence[Event],
    intents: Sequence[Intent],
    *,
    mutes: Sequence[Mute] = (),
    windows: Mapping[str, Window] | None = None,
    digest: DigestPolicy | None = None,
    now: datetime,
) -> Decision:
    """Split a tick's intents into those sent now, held ones and suppressed ones (see the
    module docstring); `windows` are the channels' windows as the state file has them."""
    current = dict(windows or {})
    changed: dict[str, Window] = {}
    go: list[Intent] = []
    held: list[Held] = []
    suppressed: list[Suppressed] = []
    for intent in intents:
        event = events[intent.event_index]
        mute = silencing(mutes, event, intent.channel, now)
        if mute is not None:
            suppressed.append(Suppressed(intent, mute.id))
            continue
        if intent.hold_until is not None and intent.hold_until > now:
            held.append(Held(intent, intent.hold_until, HoldReason.QUIET_HOURS))
            continue
        if digest is None:
            go.append(intent)
            continue
        window = current.get(intent.channel)
        if window is None or now >= window.ends_at:
            window = Window(now, now + timedelta(seconds=digest.window), 0)
        if window.sent < digest.threshold:
            window = Window(window.started_at, window.ends_at, window.sent + 1)
            go.append(intent)
        else:
            held.append(Held(intent, window.ends_at, HoldReason.DIGEST))
        current[intent.channel] = changed[intent.channel] = window
    return Decision(tuple(go), tuple(held), tuple(suppressed), changed)

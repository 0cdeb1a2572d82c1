"""route: a pure function from alert events and the configured routes to delivery intents.

Routes are read in order. An alert matches a route when its status (SUCCEEDED, FAILED,
CANCELED, or STUCK for a stuck-run alert) is in the route's `statuses` and it passes every
filter the route gives: `specs`, `creators`, `datasets` (fnmatch globs on the spec name, the
creator's email and the dataset name), `kinds` (the job kind) and `flags` (it carries one of
them). A filter on a field the run does not have (no spec name, no creator...) never matches.
Spec and dataset globs are case-sensitive on every platform (`fnmatchcase`), as spec globs
always were; creator globs are not, since an email address is one inbox however it is
capitalised.

Every matching route contributes its channels (the union, each channel at most once per
alert, in the order the routes first name them), until a matching route with `stop` ends the
reading. The first matching route that names a channel decides how that channel gets the
alert: its `template`, and its `quiet_hours` (the intent's `hold_until`, the end of the
window when it is open at `now`). Without routes every channel gets every alert (every
terminal status, and STUCK alerts, which exist only when `alerts.stuck` is configured) with
the built-in templates, at once.

Quiet hours are computed here with `zoneinfo`, never with offset arithmetic: `quiet_until`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta
from fnmatch import fnmatchcase
from typing import Protocol
from zoneinfo import ZoneInfo

from watcher.events import SLOW, STUCK, Event, Intent
from watcher.models import TERMINAL_STATUSES
from watcher.run_refs import kind_of

__all__ = [
    "ROUTABLE",
    "QuietWindow",
    "RouteRule",
    "globbed",
    "job_kind",
    "matches",
    "quiet_until",
    "route",
]

ROUTABLE: frozenset[str] = TERMINAL_STATUSES | {STUCK, SLOW}
"""The alert statuses a route can name (`Event.alert_status`); anything else is never sent."""


class QuietWindow(Protocol):
    """The shape of a route's quiet hours (watcher.config.QuietHours): "HH:MM" local times
    in an IANA zone; `start` after `end` spans midnight."""

    @property
    def start(self) -> str: ...
    @property
    def end(self) -> str: ...
    @property
    def timezone(self) -> str: ...


class RouteRule(Protocol):
    """The shape of a configured route (watcher.config.Route). None: no filter on that field."""

    @property
    def statuses(self) -> Collection[str]: ...
    @property
    def channels(self) -> Sequence[str]: ...
    @property
    def specs(self) -> Sequence[str] | None: ...
    @property
    def creators(self) -> Sequence[str] | None: ...
    @property
    def datasets(self) -> Sequence[str] | None: ...
    @property
    def kinds(self) -> Sequence[str] | None: ...
    @property
    def flags(self) -> Sequence[str] | None: ...
    @property
    def template(self) -> str | None: ...
    @property
    def quiet_hours(self) -> QuietWindow | None: ...
    @property
    def stop(self) -> bool: ...


def job_kind(event: Event) -> str:
    """The job kind an alert is about, as `routes[].kinds` names it: from its canonical
    reference (`watcher.run_refs.kind_of`: a bare id is a generation run)."""
    return kind_of(event.run_id)


def globbed(value: str | None, patterns: Sequence[str] | None, *, fold: bool = False) -> bool:
    """Whether `value` passes a glob filter: any pattern matches; no filter passes all."""
    if patterns is None:
        return True
    if value is None:
        return False
    if fold:
        value = value.casefold()
        return any(fnmatchcase(value, pattern.casefold()) for pattern in patterns)
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def matches(rule: RouteRule, event: Event) -> bool:
    """Whether `rule` takes `event` (an alert; see the module docstring for each filter)."""
    run = event.run
    return (
        event.alert_status in rule.statuses
        and globbed(run.spec_name if run else None, rule.specs)
        and globbed(run.created_by_email if run else None, rule.creators, fold=True)
        and globbed(run.dataset_name if run else None, rule.datasets)
        and (rule.kinds is None or job_kind(event) in rule.kinds)
        and (rule.flags is None or any(flag in rule.flags for flag in event.flags))
    )


def _intents(
    index: int,
    event: Event,
    routes: Sequence[RouteRule],
    holds: Sequence[datetime | None],
    channels: Collection[str],
) -> list[Intent]:
    """The intents of one alert: a channel at most once, decided by the first route naming
    it; `holds[i]` is when route i's quiet hours end if they are open now."""
    if not event.alert or event.alert_status not in ROUTABLE:
        return []
    if not routes:
        return [Intent(event_index=index, channel=channel) for channel in channels]
    chosen: dict[str, Intent] = {}  # insertion-ordered: the order routes first name channels
    for rule, until in zip(routes, holds, strict=True):
        if not matches(rule, event):
            continue
        for channel in rule.channels:
            if channel in channels and channel not in chosen:
                chosen[channel] = Intent(index, channel, rule.template, until)
        if rule.stop:
            break
    return list(chosen.values())


def route(
    events: Sequence[Event],
    routes: Sequence[RouteRule],
    channels: Sequence[str],
    *,
    now: datetime,
) -> list[Intent]:
    """Every (alert event, channel) pair the configuration asks for, events in order and each
    alert's channels in the order the routes name them; `now` (aware) places quiet hours."""
    known = dict.fromkeys(channels)  # ordered, and a fast membership test
    # Once per tick, not per alert: the same window is open or closed for all of them.
    holds = [quiet_until(r.quiet_hours, now) if r.quiet_hours else None for r in routes]
    return [
        intent
        for index, event in enumerate(events)
        for intent in _intents(index, event, routes, holds, known)
    ]


# --- quiet hours -----------------------------------------------------------------------------

# The longest run of local times a zone has ever skipped (Pacific/Apia skipped 30 December
# 2011 whole); `_first_instant` steps through a gap minute by minute, at most this far.
_LONGEST_GAP = timedelta(days=1, minutes=1)
_MINUTE = timedelta(minutes=1)
_DAY = timedelta(days=1)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether the local clock in `zone` ever reads `wall` (naive), i.e. it is not in a gap."""
    there = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
    return there.replace(tzinfo=None) == wall


def _first_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """The first instant (in UTC) at which the local clock in `zone` reads `clock` on `day`,
    or first reads a later time when it skips `clock` altogether.

    A local time that happens twice (the hour repeated when DST ends) is taken at its first
    occurrence (fold=0). A local time that never happens (the hour skipped when DST starts)
    becomes the moment the clock jumps past it: the first wall-clock minute after it that
    exists, such as 03:00 for 02:30 on the day Berlin skips from 02:00 to 03:00.
    """
    wall = datetime.combine(day, clock)
    limit = wall + _LONGEST_GAP
    while not _exists(wall, zone) and wall < limit:
        wall += _MINUTE  # wall-clock minutes, not elapsed time: a walk through the gap
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def quiet_until(quiet: QuietWindow, now: datetime) -> datetime | None:
    """When the quiet-hours window open at `now` ends (an aware UTC datetime), or None when
    the window is closed at `now`.

    Each local day has one window: from the first instant the local clock reads `start` to
    the first instant after it that it reads `end` (the next day's `end` when `start` is
    after `end`). So the repeated hour at the end of DST neither reopens a window that ended
    in its first pass nor closes one that began in it, and a window whose start or end falls
    in the skipped hour at the start of DST opens or ends when the clock jumps past it. The
    window is open when `opens <= now < ends`.
    """
    if now.tzinfo is None:
        raise ValueError("quiet_until needs an aware `now`")
    zone = ZoneInfo(quiet.timezone)
    start, end = _clock(quiet.start), _clock(quiet.end)
    today = now.astimezone(zone).date()
    # Yesterday's window may span midnight into today; tomorrow's may already be open when
    # the clock went back across midnight (America/St_Johns did, at 00:01, until 2011).
    for day in (today - _DAY, today, today + _DAY):
        opens = _first_instant(day, start, zone)
        ends = _first_instant(day if start < end else day + _DAY, end, zone)
        if opens <= now < ends:
            return ends
    return None

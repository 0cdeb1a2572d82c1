"""route: a pure function from alert events and the configured routes to delivery intents.

Routes are read in order and every matching route contributes its channels (the union, each
channel at most once per alert). Without routes every channel gets every terminal status.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from fnmatch import fnmatchcase
from typing import Protocol

from watcher.events import Event, Intent
from watcher.models import TERMINAL_STATUSES


class RouteRule(Protocol):
    """The shape of a configured route (watcher.config.Route)."""

    @property
    def statuses(self) -> Collection[str]: ...
    @property
    def channels(self) -> Sequence[str]: ...
    @property
    def specs(self) -> Sequence[str] | None: ...


def channels_for(event: Event, routes: Sequence[RouteRule], channels: Sequence[str]) -> list[str]:
    """The channels one alert goes to, in config order, each at most once."""
    if not event.alert or event.to_status not in TERMINAL_STATUSES:
        return []
    if not routes:
        return list(channels)
    spec_name = event.run.spec_name if event.run is not None else None
    chosen: dict[str, None] = {}  # an ordered set
    for rule in routes:
        if event.to_status not in rule.statuses:
            continue
        if rule.specs is not None and not (
            spec_name is not None and any(fnmatchcase(spec_name, p) for p in rule.specs)
        ):
            continue
        for channel in rule.channels:
            if channel in channels:
                chosen.setdefault(channel)
    return list(chosen)


def route(
    events: Sequence[Event], routes: Sequence[RouteRule], channels: Sequence[str]
) -> list[Intent]:
    """Every (alert event, channel) pair the configuration asks for."""
    return [
        Intent(event_index=index, channel=channel)
        for index, event in enumerate(events)
        for channel in channels_for(event, routes, channels)
    ]

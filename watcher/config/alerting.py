"""The sections about what alerts say and where they go: routes, templates, `alerts`, `ops`.

Every key is optional and the defaults keep the behaviour of a config without them: routes
match on statuses (and spec globs) as before, the built-in templates speak, nothing is
flagged, no run is ever stuck, no digest paces a channel, and the watcher's own health is
not reported to anyone. The stages that apply these live beside the pipeline: `watcher.route`
(rules, quiet hours), `watcher.render` (templates), `watcher.hold` (digests, mutes).
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from watcher import run_refs
from watcher.config.actions import ActionConfig
from watcher.config.durations import Duration, within
from watcher.config.sections import DAY, HOUR, Section
from watcher.config.values import ROUTE_STATUS_ORDER, channel_key, name_list, status_set
from watcher.templates import check_template

__all__ = [
    "FLAGS",
    "KINDS",
    "AlertsConfig",
    "DigestConfig",
    "OpsConfig",
    "QuietHours",
    "Route",
    "StuckConfig",
    "TemplateConfig",
    "route_warnings",
]

# The flags an assessment puts on an alert, that routes can match (`routes[].flags`).
FLAGS = ("quality", "cost", "slow")
# The job kinds an alert can be about (`routes[].kinds`): the brief's names.
KINDS = run_refs.KINDS
_KIND_SPELLINGS = run_refs.KIND_SPELLINGS
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

# A stuck or digest duration longer than this is a typo (and would hold alerts for weeks).
MAX_ALERT_DELAY = 30 * DAY


def _choices(what: str, allowed: tuple[str, ...], spellings: dict[str, str]) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return value
        chosen: list[str] = []
        for item in value:
            if not isinstance(item, str):
                raise ValueError(f"a {what} must be a string, one of {', '.join(allowed)}")
            name = item.strip().lower()
            name = spellings.get(name, name)
            if name not in allowed:
                raise ValueError(f"unknown {what} {item!r}: one of {', '.join(allowed)}")
            chosen.append(name)
        if not chosen:
            raise ValueError(f"must name at least one {what} (leave it out to mean any)")
        return list(dict.fromkeys(chosen))

    return BeforeValidator(check)


class QuietHours(Section):
    """A daily window (local time in `timezone`) in which a route's alerts are held, to go out
    as one digest when it ends. `start` after `end` spans midnight (22:00 to 07:00)."""

    start: str
    end: str
    timezone: str = "UTC"

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 22:00 as the sexagesimal number 1320.
            value = f"{value // 60:02d}:{value % 60:02d}"
        if not isinstance(value, str) or not _CLOCK.match(value.strip()):
            raise ValueError('must be a time of day "HH:MM", such as "22:00"')
        hours, minutes = value.strip().split(":")
        return f"{int(hours):02d}:{minutes}"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: an IANA name such as Europe/Berlin or UTC"
            ) from None
        return value.strip()

    @model_validator(mode="after")
    def _a_window(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are the same time: the window would be empty")
        return self


class Route(Section):
    """Which alerts go to which channels, and how.

    An alert matches when its status is in `statuses` and it passes every filter given:
    `specs`, `creators`, `datasets` (fnmatch globs on the spec name, the creator's email and
    the dataset name), `kinds`, and `flags` (it carries one of them). Routes are read in
    order; every matching route adds its channels, until a matching route with `stop` ends
    the reading. `template` names one under `templates:`; `quiet_hours` holds the route's
    alerts while the window is open; `actions` run when it matches a finished run.
    """

    statuses: Annotated[frozenset[str], BeforeValidator(status_set)] = frozenset(
        s for s in ROUTE_STATUS_ORDER if s not in ("STUCK", "SLOW")
    )
    # Required, but may be left out (or empty) on a route that only runs actions.
    channels: Annotated[list[str], name_list("channel", spelling=channel_key, empty_ok=True)]
    specs: Annotated[list[str] | None, name_list("spec pattern")] = None
    creators: Annotated[list[str] | None, name_list("creator pattern")] = None
    datasets: Annotated[list[str] | None, name_list("dataset pattern")] = None
    kinds: Annotated[list[str] | None, _choices("kind", KINDS, _KIND_SPELLINGS)] = None
    flags: Annotated[list[str] | None, _choices("flag", FLAGS, {})] = None
    template: str | None = None
    quiet_hours: QuietHours | None = None
    stop: bool = False
    actions: list[ActionConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _actions_alone(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("actions") and data.get("channels") is None:
            return {**data, "channels": []}
        return data

    @model_validator(mode="after")
    def _does_something(self) -> Route:
        if not self.channels and not self.actions:
            raise ValueError("a route needs channels, actions, or both")
        return self

    @field_serializer("statuses")
    def _ordered_statuses(self, statuses: frozenset[str]) -> list[str]:
        return [status for status in ROUTE_STATUS_ORDER if status in statuses]


class TemplateConfig(Section):
    """One named template: Jinja2, sandboxed. `title` and `body` (plain text) are the ones
    every channel can take; `markdown` and `html`, when given, are what Slack-like and email
    channels get instead of `body`."""

    title: str | None = None
    body: str | None = None
    markdown: str | None = None
    html: str | None = None

    @field_validator("title", "body", "markdown", "html")
    @classmethod
    def _compiles(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Compiled now, so a broken template stops the load (or a SIGHUP), not an alert.
        return None if value is None else check_template(value, str(info.field_name))

    @model_validator(mode="after")
    def _says_something(self) -> TemplateConfig:
        if not any((self.title, self.body, self.markdown, self.html)):
            raise ValueError("a template needs at least one of title, body, markdown, html")
        return self


_AlertDelay = Annotated[Duration, within(0, MAX_ALERT_DELAY, inclusive=False)]


class StuckConfig(Section):
    """When a run counts as stuck: PENDING longer than `pending_after`, or PROCESSING with no
    new sample for `no_progress_after`. One STUCK alert, then one every `repeat` (0s: once)."""

    pending_after: _AlertDelay | None = None
    no_progress_after: _AlertDelay | None = None
    repeat: Annotated[Duration, within(0, MAX_ALERT_DELAY)] = 0.0

    @model_validator(mode="after")
    def _something_to_watch(self) -> StuckConfig:
        if self.pending_after is None and self.no_progress_after is None:
            raise ValueError("set pending_after, no_progress_after, or both")
        return self


class DigestConfig(Section):
    """Per channel: of the alerts within `window`, the first `threshold` go out at once and
    the rest wait for the window's end, to go as one digest."""

    window: _AlertDelay = 30.0
    threshold: int = Field(default=5, ge=1, le=10_000)


class AlertsConfig(Section):
    """What alerts say beyond the run's facts: a link, flags for quality and cost, stuck runs,
    and how bursts are paced."""

    run_url: str | None = None
    failure_rate_above: float | None = Field(default=None, ge=0, lt=1)
    cost_above: float | None = Field(default=None, ge=0)
    # A run whose pace is below this share of its spec's median pace: one SLOW alert (`slow`).
    slow_below: float | None = Field(default=None, gt=0, lt=1)
    stuck: StuckConfig | None = None
    digest: DigestConfig | None = None

    @field_validator("run_url")
    @classmethod
    def _url_compiles(cls, value: str | None) -> str | None:
        return None if value is None else check_template(value, "run_url")


class OpsConfig(Section):
    """The watcher's own health, told to people: the API unreachable for `api_down_after`, a
    channel failing for `channel_failing_after` (once each, and once on recovery), to
    `channels`. Without channels, nobody is told (the logs and /readyz still say it)."""

    channels: Annotated[list[str], name_list("channel", spelling=channel_key, empty_ok=True)] = (
        Field(default_factory=list)
    )
    api_down_after: Annotated[Duration, within(0, DAY, inclusive=False)] = 600.0
    channel_failing_after: Annotated[Duration, within(0, 7 * DAY, inclusive=False)] = HOUR


# Which `alerts` key makes the assessment set each flag.
_FLAG_SOURCE = {"quality": "failure_rate_above", "cost": "cost_above", "slow": "slow_below"}


def route_warnings(routes: list[Route], alerts: AlertsConfig) -> list[str]:
    """Routes that are valid but can never take what they name: a flag whose threshold is
    not set (no alert ever carries it), STUCK without `alerts.stuck` (no run is ever stuck)."""
    found: list[str] = []
    for index, route in enumerate(routes):
        flags = route.flags or []
        dead = [flag for flag in flags if getattr(alerts, _FLAG_SOURCE[flag]) is None]
        if dead:
            keys = " and ".join(f"alerts.{_FLAG_SOURCE[flag]}" for flag in dead)
            found.append(
                f"routes[{index}].flags: no alert carries {' or '.join(map(repr, dead))} since "
                f"{keys} {'is' if len(dead) == 1 else 'are'} not set"
                + (", so this route matches no alert" if len(dead) == len(flags) else "")
            )
        if "STUCK" in route.statuses and alerts.stuck is None:
            found.append(
                f"routes[{index}].statuses: no STUCK alert is raised since alerts.stuck is not set"
            )
        if "SLOW" in route.statuses and alerts.slow_below is None:
            found.append(
                f"routes[{index}].statuses: no SLOW alert is raised since alerts.slow_below"
                " is not set"
            )
    return found

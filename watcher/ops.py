"""ops: the watcher's own health, told to people (`ops.*`). Pure: no I/O, no clock.

From what the service knows (since when no poll has succeeded and why; since when each channel
has failed and why) and what it already told (kept in the state file, so a restart neither
repeats an alert nor forgets a recovery), `assess` decides the ops alerts to send now: one
when the API has been unreachable for `api_down_after`, one when a channel has failed for
`channel_failing_after`, and one for each recovery. `watcher.render.compose_ops` words them;
an ops message never goes to a failing channel it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["API", "Health", "OpsAlert", "OpsPolicy", "assess", "targets"]

API = "api"
"""The subject of an alert about the Dataframer API (a channel's subject is its name)."""


@dataclass(frozen=True, slots=True)
class OpsPolicy:
    """Who hears, and after how long a failure counts."""

    channels: tuple[str, ...]
    api_down_after: float
    channel_failing_after: float


@dataclass(frozen=True, slots=True)
class Health:
    """What is failing now: since when, and the last error."""

    api_down_since: datetime | None = None
    api_error: str | None = None
    channels_failing: Mapping[str, tuple[datetime, str | None]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OpsAlert:
    """One thing to tell: `subject` (API, or a channel's name) is down, or recovered."""

    subject: str
    down: bool
    since: datetime  # when the failure began
    at: datetime
    error: str | None = None


def assess(
    health: Health, told: Mapping[str, datetime], policy: OpsPolicy, now: datetime
) -> list[OpsAlert]:
    """The ops alerts due now; `told` maps each subject already alerted as down to when its
    failure began."""
    alerts: list[OpsAlert] = []
    failing: dict[str, tuple[datetime, str | None, float]] = {
        name: (since, error, policy.channel_failing_after)
        for name, (since, error) in health.channels_failing.items()
    }
    if health.api_down_since is not None:
        failing[API] = (health.api_down_since, health.api_error, policy.api_down_after)
    for subject, (since, error, after) in sorted(failing.items()):
        if subject not in told and (now - since).total_seconds() >= after:
            alerts.append(OpsAlert(subject, True, since, now, error))
    for subject, since in sorted(told.items()):
        if subject not in failing:
            alerts.append(OpsAlert(subject, False, since, now))
    return alerts


def targets(alert: OpsAlert, policy: OpsPolicy) -> list[str]:
    """The ops channels that hear of `alert`: never the channel it is about."""
    return [name for name in policy.channels if name != alert.subject]

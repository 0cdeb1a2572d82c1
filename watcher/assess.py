"""assess: flag the alerts of finished runs whose quality or cost is past the configured limit.

Pure: (events, thresholds) -> the same events, those past a threshold carrying its flag and
a reason in words. Runs between detect and route, so routes can match the flags
(`routes[].flags`) and the alert can say why it was flagged.

- `quality`: a SUCCEEDED run whose share of failed samples, among the samples it finished
  (completed + failed), is above `alerts.failure_rate_above`. A run without the counts, or
  with no sample at all, has no share, so it is never flagged.
- `cost`: a finished run (SUCCEEDED, FAILED or CANCELED) whose `total_cost` is above
  `alerts.cost_above`. A run without a cost is never flagged.

"Above" is strict: a run exactly at the threshold passes, and a threshold of 0 flags any
failed sample (or any cost at all). STUCK alerts and events that are not alerts are left as
they are.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

from watcher.events import Event
from watcher.models import TERMINAL_STATUSES, Job, RunStatus

__all__ = ["COST", "QUALITY", "Thresholds", "assess", "assess_all"]

QUALITY = "quality"
COST = "cost"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """`alerts.failure_rate_above` (a share, 0 to 1) and `alerts.cost_above` (the API's
    currency, dollars); None: that flag is never set."""

    failure_rate_above: float | None = None
    cost_above: float | None = None

    @property
    def active(self) -> bool:
        """Whether any flag can be set at all."""
        return self.failure_rate_above is not None or self.cost_above is not None


def assess(event: Event, thresholds: Thresholds) -> Event:
    """`event` with the flags (and their reasons) it earns; the same object when none."""
    # alert_status is STUCK for a stuck alert, so this leaves those alone too.
    if not event.alert or event.run is None or event.alert_status not in TERMINAL_STATUSES:
        return event
    found: list[tuple[str, str]] = []
    if thresholds.failure_rate_above is not None and event.alert_status == RunStatus.SUCCEEDED:
        reason = quality_reason(event.run, thresholds.failure_rate_above)
        if reason is not None:
            found.append((QUALITY, reason))
    if thresholds.cost_above is not None:
        reason = cost_reason(event.run, thresholds.cost_above)
        if reason is not None:
            found.append((COST, reason))
    # A flag already there (an event assessed twice) is neither repeated nor re-explained.
    new = [(flag, reason) for flag, reason in found if flag not in event.flags]
    if not new:
        return event
    return dataclasses.replace(
        event,
        flags=(*event.flags, *(flag for flag, _ in new)),
        reasons=(*event.reasons, *(reason for _, reason in new)),
    )


def assess_all(events: Sequence[Event], thresholds: Thresholds) -> tuple[Event, ...]:
    """Every event assessed (`assess`), in order."""
    if not thresholds.active:
        return tuple(events)
    return tuple(assess(event, thresholds) for event in events)


def quality_reason(run: Job, above: float) -> str | None:
    """Why `run` gets the quality flag ("33% of samples failed (2 of 6), above 5%"), or None
    when its failed share is not above `above` or cannot be known."""
    completed, failed = run.samples_completed, run.samples_failed
    if completed is None or failed is None or completed < 0 or failed < 0:
        return None  # an unknown or nonsensical count gives no share to judge
    finished = completed + failed
    if finished == 0 or failed / finished <= above:
        return None
    rate, limit = failed / finished * 100, above * 100
    shown = f"{rate:.{_decimals(rate, limit)}f}%"
    return f"{shown} of samples failed ({failed} of {finished}), above {limit:.{_exact(limit)}f}%"


def cost_reason(run: Job, above: float) -> str | None:
    """Why `run` gets the cost flag ("$412.00 > $100.00"), or None when its cost is not
    above `above` or is unknown."""
    cost = run.total_cost
    if cost is None or not math.isfinite(cost) or cost <= above:
        return None
    places = max(_decimals(cost, above, least=2), _exact(above, least=2))
    return f"${cost:,.{places}f} > ${above:,.{places}f}"


_MOST_DECIMALS = 9


def _decimals(value: float, above: float, *, least: int = 0) -> int:
    """The fewest decimal places (at least `least`) at which `value` still reads as more than
    `above`: whole percents usually, decimals only where rounding would hide that it is
    above (5.04% above 5%, not "5% above 5%")."""
    places = least
    while places < _MOST_DECIMALS and round(value, places) <= above:
        places += 1
    return places


def _exact(value: float, *, least: int = 0) -> int:
    """The fewest decimal places (at least `least`) that show `value` as configured (the
    float noise of 0.07 * 100 aside)."""
    places = least
    while places < _MOST_DECIMALS and abs(round(value, places) - value) > 1e-9:
        places += 1
    return places

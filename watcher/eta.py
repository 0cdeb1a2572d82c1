"""eta: how fast runs go, when an active run should finish, and whether it is slow.

Pure arithmetic over progress points (when the watcher saw how many samples completed); no
I/O and no clock: the callers pass `now`. A run's pace is samples per minute between the
first and the last point the watcher has of it; a spec's pace is the median of the paces of
its earlier finished runs (`SpecPace`). A run is slow when its pace so far is below
`slow_below` (a fraction) of its spec's median, once at least `MIN_RUNS` earlier runs and
`MIN_MINUTES` of its own progress give the comparison some meaning. Only kinds that report
progress while they work (`watcher.kinds.Kind.progress`: generation runs) have a pace, an ETA
or a slow flag; any other job's samples are a count, not a pace.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from watcher.kinds import kind_info
from watcher.models import Job, Run

__all__ = [
    "MIN_MINUTES",
    "MIN_RUNS",
    "SLOW",
    "Point",
    "SpecPace",
    "eta",
    "measured",
    "pace",
    "requested",
    "slow_reason",
    "spec_key",
    "spec_pace",
]

SLOW = "slow"
MIN_RUNS = 3  # fewer earlier runs than this and a median says little about the spec
MIN_MINUTES = 1.0  # a pace measured over less time than this is noise, not slowness


@dataclass(frozen=True, slots=True)
class Point:
    """`samples` completed, as seen at `at`."""

    at: datetime
    samples: int


@dataclass(frozen=True, slots=True)
class SpecPace:
    """The median pace (samples per minute) of a spec's earlier finished runs, over `runs`."""

    median: float
    runs: int


def measured(job: Job) -> bool:
    """Whether the job's kind reports progress while it works, so has a pace and an ETA."""
    return kind_info(job.kind).progress


def spec_key(run: Job) -> str | None:
    """What "the same spec" means: its id, else its name (None: it cannot be compared, or
    its kind has no pace). Another kind's key carries its kind, so no spec mixes kinds."""
    if not measured(run):
        return None
    spec = (run.spec_id if isinstance(run, Run) else None) or run.spec_name
    if spec is None or run.kind == "run":
        return spec
    return f"{run.kind}:{spec}"


def pace(first: Point, last: Point) -> float | None:
    """Samples per minute from `first` to `last`; None when no time passed between them."""
    minutes = (last.at - first.at).total_seconds() / 60
    if minutes <= 0 or last.samples < first.samples:
        return None
    return (last.samples - first.samples) / minutes


def spec_pace(rates: Sequence[float]) -> SpecPace | None:
    """The median of finished runs' paces (positive and finite ones only); None without any."""
    usable = [rate for rate in rates if math.isfinite(rate) and rate > 0]
    if not usable:
        return None
    return SpecPace(median=statistics.median(usable), runs=len(usable))


def requested(run: Job) -> int | None:
    """How many samples the run was asked for (`runtime_params.number_of_samples`), if known."""
    params = (run.runtime_params if isinstance(run, Run) else None) or {}
    value = params.get("number_of_samples")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def eta(run: Job, first: Point | None, now: datetime, history: SpecPace | None) -> datetime | None:
    """When `run` should finish: its remaining samples at its own pace so far, or at its
    spec's median pace while its own is not measured yet (under a minute, or no sample yet).
    None when it cannot be known, or its kind reports no progress."""
    if not measured(run):
        return None
    total, done = requested(run), run.samples_completed
    if total is None or done is None:
        return None
    remaining = total - done
    if remaining <= 0:
        return now
    rate = None
    if first is not None:
        own = pace(first, Point(now, done))
        # No sample yet is a run warming up, not one that never ends: the spec's pace then.
        if own and (now - first.at).total_seconds() >= MIN_MINUTES * 60:
            rate = own
    if rate is None and history is not None:
        rate = history.median
    if rate is None or rate <= 0:
        return None
    return now + timedelta(minutes=remaining / rate)


def slow_reason(rate: float, minutes: float, history: SpecPace | None, below: float) -> str | None:
    """Why a run going at `rate` samples/min (measured over `minutes`) is slow, or None.

    "12 samples/min, a third of this spec's median 36/min over 8 runs"; strictly below
    `below` times the median, and only with enough history and enough of its own progress.
    """
    if history is None or history.runs < MIN_RUNS or minutes < MIN_MINUTES:
        return None
    if not math.isfinite(rate) or rate < 0 or rate >= below * history.median:
        return None
    share = rate / history.median
    return (
        f"{_number(rate)} samples/min, {_share(share)} of this spec's median"
        f" {_number(history.median)}/min over {history.runs} runs"
    )


_FRACTIONS = {2: "half", 3: "a third", 4: "a quarter", 5: "a fifth", 10: "a tenth"}


def _share(share: float) -> str:
    """A share in words where a simple fraction says it ("a third"), else a percentage."""
    for denominator, words in _FRACTIONS.items():
        if abs(share - 1 / denominator) < 0.005:
            return words
    return f"{share * 100:.0f}%" if share >= 0.01 else "under 1%"


def _number(value: float) -> str:
    """A pace as people read it: whole numbers from 10 up, one decimal below."""
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}".rstrip("0").rstrip(".")

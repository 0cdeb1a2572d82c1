"""The one lifecycle every simulated job follows, whatever its kind.

A job (a generation run, an evaluation, a red-team run, an anonymization run) is created
PENDING, starts PROCESSING after its plan's pending time, and reaches its planned outcome after
the processing time. Nothing moves it along: its phase is computed from the clock when asked
(``natural_phase``), so a test that drives the clock sees exactly what the plan describes. A
pin (``force_status``, cancel) freezes it at any status string from then on.

Every phase also says until when it holds (``Phase.until``): the next instant the job's list
item can read differently. That is what lets a list body of 100,000 jobs be cached and rebuilt
only when one of them really changed, without computing every job's state per request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from .files import FileSpec

Clock = Callable[[], float]
"""Seconds since the epoch; it drives both the lifecycle and the timestamps. Never decreasing."""

Kind = Literal["run", "evaluation", "red_team", "anonymization"]
"""The kinds of job, named as the watcher's routes and alerts name them."""
KINDS: tuple[Kind, ...] = ("run", "evaluation", "red_team", "anonymization")

Outcome = Literal["SUCCEEDED", "FAILED", "CANCELED"]
OUTCOMES: tuple[Outcome, ...] = ("SUCCEEDED", "FAILED", "CANCELED")
STATUSES = ("PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELED")
TERMINAL = frozenset(OUTCOMES)
CANCELABLE = frozenset({"PENDING", "PROCESSING"})
NEVER = math.inf


def iso(ts: float | None) -> str | None:
    """Render epoch seconds the way the API does: ``2023-11-07T05:31:56Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def compact_json(value: object) -> str:
    """JSON as Django REST framework renders it: compact, UTF-8 (not ASCII-escaped)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class RunPlan:
    """How a job will unfold: its outcome and how long each phase lasts.

    Every kind uses it; the sample-related fields matter to generation runs only (and
    ``end_fraction`` to any kind that reports how far it got).
    """

    outcome: Outcome = "SUCCEEDED"
    pending_seconds: float = 2.0
    processing_seconds: float = 10.0
    # Share of the requested work attempted when the job ends (1.0 for a success);
    # a FAILED or CANCELED job stops part-way.
    end_fraction: float = 1.0
    # Share of attempted samples that fail, so samples_failed is rarely zero on big runs.
    failure_rate: float = 0.02
    cost_per_sample: float = 0.01

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {self.outcome!r}")
        if min(self.pending_seconds, self.processing_seconds, self.cost_per_sample) < 0:
            raise ValueError("durations and cost_per_sample must not be negative")
        if not (0.0 <= self.end_fraction <= 1.0 and 0.0 <= self.failure_rate <= 1.0):
            raise ValueError("end_fraction and failure_rate must be between 0 and 1")

    def to_json(self) -> dict[str, Any]:
        """The plan as a JSON-ready dict (for the control surface)."""
        return {
            "outcome": self.outcome,
            "pending_seconds": self.pending_seconds,
            "processing_seconds": self.processing_seconds,
            "end_fraction": self.end_fraction,
            "failure_rate": self.failure_rate,
            "cost_per_sample": self.cost_per_sample,
        }


@dataclass(frozen=True, slots=True)
class Phase:
    """Where a job stands at one instant, and until when that holds."""

    status: str
    # Share of the planned work attempted: 0 while PENDING, up to end_fraction (1.0 when a
    # success is forced).
    share: float
    # Work has begun: a generation run reports a cost (0.0 at first) from then on, not null.
    started: bool
    completed_at: float | None
    # The next instant the status, or the progress a list item shows, changes; NEVER once
    # the job is finished or pinned.
    until: float


def natural_phase(created_at: float, plan: RunPlan, now: float, steps: int = 0) -> Phase:
    """The phase ``plan`` gives at ``now``.

    ``steps`` is how many distinct progress values a list item shows over the whole job
    (a run's requested samples; 0 for kinds whose list shows no progress), so ``until`` can
    name the next instant one of them is reached.
    """
    start = created_at + plan.pending_seconds
    if now < start:
        return Phase("PENDING", 0.0, False, None, start)
    end = start + plan.processing_seconds
    if now < end:
        share = (now - start) / plan.processing_seconds * plan.end_fraction
        until = end
        rate = steps * plan.end_fraction
        if rate > 0:
            done = math.floor(steps * share)
            until = min(end, start + (done + 1) * plan.processing_seconds / rate)
        # Float rounding may put the boundary at or before now; what was computed holds for
        # now itself, so the phase stays good until the very next instant.
        return Phase("PROCESSING", share, True, None, max(until, math.nextafter(now, NEVER)))
    return Phase(plan.outcome, plan.end_fraction, True, end, NEVER)


def pinned_phase(current: Phase, status: str, now: float) -> Phase:
    """The phase a job is frozen at when ``status`` is forced on it at ``now``.

    A forced SUCCEEDED completes all the work; another terminal status keeps the progress
    made and completes the job now (or keeps its completion if it had finished); any other
    string freezes the progress, with no completion.
    """
    if status == "SUCCEEDED" and current.status != "SUCCEEDED":
        return Phase("SUCCEEDED", 1.0, True, now, NEVER)
    if status in TERMINAL:
        completed = current.completed_at if current.status in TERMINAL else now
        return Phase(status, current.share, True, completed, NEVER)
    return Phase(status, current.share, current.started, None, NEVER)


@dataclass(slots=True, kw_only=True, eq=False)
class Job:
    """What every simulated job has: identity, creation, plan, an optional pin, and the
    cached JSON of its list item.

    Subclasses say what their list item and detail hold (``list_static``, ``list_dynamic``,
    ``detail_fields``). Identity is the object (``eq=False``): two jobs are never "equal".
    """

    kind: ClassVar[Kind] = "run"
    outcomes: ClassVar[tuple[Outcome, ...]] = OUTCOMES

    id: str
    seq: int
    created_at: float
    created_by_email: str
    plan: RunPlan
    pinned: Phase | None = None
    # Newest first: the sort key of every list.
    key: tuple[float, int] = field(init=False, repr=False)
    # The list block holding this job (see ``collection``); None until placed.
    block: Any = field(default=None, init=False, repr=False)
    _fragment: bytes | None = field(default=None, init=False, repr=False)
    _until: float = field(default=-NEVER, init=False, repr=False)
    # Pre-rendered JSON of the fields that never change (a kind may keep it in pieces);
    # dropped once the whole item is cached for good, so 100,000 finished jobs do not carry
    # it twice.
    _static: Any = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.plan.outcome not in self.outcomes:
            raise ValueError(
                f"a job of kind {self.kind!r} ends in one of {', '.join(self.outcomes)}, "
                f"not {self.plan.outcome!r}"
            )
        self.key = (-self.created_at, -self.seq)

    @property
    def steps(self) -> int:
        """Distinct progress values the list item shows over the job (0: none)."""
        return 0

    def natural(self, now: float) -> Phase:
        """The phase the plan gives at ``now``, ignoring any pin."""
        return natural_phase(self.created_at, self.plan, now, self.steps)

    def phase(self, now: float) -> Phase:
        """The phase a client sees at ``now``."""
        return self.pinned if self.pinned is not None else self.natural(now)

    def pin(self, status: str, now: float) -> None:
        """Freeze the job at ``status`` from ``now`` on (see ``pinned_phase``)."""
        self.pinned = pinned_phase(self.phase(now), status, now)
        self._fragment = None

    @property
    def until(self) -> float:
        """Until when the cached list fragment holds (-inf before the first rendering)."""
        return self._until

    def list_fragment(self, now: float) -> bytes:
        """The list item as JSON bytes, rendered again only once its phase has moved on."""
        if self._fragment is not None and now < self._until:
            return self._fragment
        phase = self.phase(now)
        self._fragment = self.render_list(phase)
        self._until = phase.until
        if phase.until == NEVER:
            self._static = None
        return self._fragment

    def render_list(self, phase: Phase) -> bytes:
        """The list item's JSON: the static part once, the moving part each time."""
        if self._static is None:
            self._static = compact_json(self.list_static())[:-1]
        moving = compact_json(self.list_dynamic(phase))
        return f"{self._static},{moving[1:]}".encode()

    def list_static(self) -> dict[str, Any]:
        """The list item's fields that never change (``id`` first)."""
        return {"id": self.id, "created_at": iso(self.created_at)}

    def list_dynamic(self, phase: Phase) -> dict[str, Any]:
        """The list item's fields that move with the phase."""
        return {"status": phase.status, "completed_at": iso(phase.completed_at)}

    def list_item(self, now: float) -> dict[str, Any]:
        """The list-endpoint item as a dict."""
        return {**self.list_static(), **self.list_dynamic(self.phase(now))}

    def detail_fields(self, phase: Phase) -> dict[str, Any]:
        """The retrieve endpoint's body at ``phase``."""
        return {**self.list_static(), **self.list_dynamic(phase)}

    def detail(self, now: float) -> dict[str, Any]:
        """The retrieve endpoint's body at ``now``."""
        return self.detail_fields(self.phase(now))

    def status(self, now: float) -> str:
        """The status a client would read at ``now``."""
        return self.phase(now).status

    def files(self, now: float) -> list[FileSpec]:
        """The files the download endpoints serve at ``now`` (none for most kinds)."""
        return []

    def archive_extras(self, now: float) -> dict[str, bytes]:
        """Members the download-all ZIP holds beside the files (metadata)."""
        return {}

"""The simulated world: runs, faults, counters, one lock, one clock.

``Simulator`` is what tests drive directly (``SimulatorServer.sim``); the HTTP layer in
``app`` only translates requests into calls on it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .catalog import (
    CREATORS,
    SPEC_NAMES,
    PlanDefaults,
    dataset_for,
    default_weights,
    pick_outcome,
    random_plan,
    random_uuid,
    runtime_params,
    spec_id_for,
)
from .faults import FaultInjector
from .model import CANCELABLE, OUTCOMES, Clock, Outcome, RunPlan, SimRun, iso
from .stats import RequestStats

_SPEC_NAME_BY_ID = {spec_id_for(name): name for name in SPEC_NAMES}
Range = float | Sequence[float]


class RunNotFound(LookupError):
    """No run has this id (never created, or deleted)."""


class NotCancelable(Exception):
    """The run is no longer PENDING or PROCESSING."""

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(f"Cannot cancel run {run_id}: its status is {status}.")
        self.status = status


class ManualClock:
    """A clock tests move by hand: ``clock.advance(30)``. Starts at a fixed instant."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward (never back: cached finished runs rely on it); returns the new time."""
        if seconds < 0:
            raise ValueError("a clock never goes back")
        with self._lock:
            self._now += seconds
            return self._now


class Simulator:
    """Runs advancing on ``clock``, the API key, the faults and the request counters."""

    def __init__(
        self,
        *,
        api_key: str = "sim-key",
        clock: Clock = time.time,
        seed: int | None = None,
        defaults: PlanDefaults | None = None,
        user_email: str = "api-user@example.com",
    ) -> None:
        self.api_key = api_key
        self.clock = clock
        self.defaults = defaults or PlanDefaults()
        self.user_email = user_email
        self.faults = FaultInjector()
        self.stats = RequestStats()
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._runs: dict[str, SimRun] = {}
        self._order: list[SimRun] | None = None
        self._seq = 0

    # -- creating runs -------------------------------------------------------------------

    def add_run(
        self,
        *,
        plan: RunPlan | None = None,
        outcome: Outcome | None = None,
        pending_seconds: Range | None = None,
        processing_seconds: Range | None = None,
        spec_name: str | None = None,
        spec_id: str | None = None,
        spec_version: int | None = None,
        number_of_samples: int | None = None,
        options: Mapping[str, Any] | None = None,
        created_by_email: str | None = None,
        created_ago_seconds: float = 0.0,
        status: str | None = None,
    ) -> SimRun:
        """Create one run; what is not given is drawn from the seeded defaults.

        ``status`` pins the run at that status from creation on (see ``force_status``).
        """
        with self._lock:
            rng = self._rng
            if plan is None:
                plan = random_plan(
                    rng,
                    self.defaults,
                    outcome=outcome,
                    pending_seconds=pending_seconds,
                    processing_seconds=processing_seconds,
                )
            if spec_name is None:
                spec_name = _SPEC_NAME_BY_ID.get(spec_id or "") or (
                    f"spec-{spec_id[:8]}" if spec_id else rng.choice(SPEC_NAMES)
                )
            spec_id = spec_id or spec_id_for(spec_name)
            if number_of_samples is None:
                number_of_samples = rng.randint(*self.defaults.number_of_samples)
            dataset_id, dataset_name, dataset_type = dataset_for(spec_id)
            self._seq += 1
            run = SimRun(
                id=random_uuid(rng),
                seq=self._seq,
                spec_id=spec_id,
                spec_name=spec_name,
                spec_version=spec_version if spec_version is not None else rng.randint(1, 6),
                dataset_id=dataset_id,
                dataset_name=dataset_name,
                dataset_type=dataset_type,
                created_at=self.clock() - created_ago_seconds,
                created_by_email=created_by_email or rng.choice(CREATORS),
                runtime_params=runtime_params(number_of_samples, options),
                plan=plan,
                file_ids=(random_uuid(rng), random_uuid(rng), random_uuid(rng)),
            )
            self._runs[run.id] = run
            self._order = None
            if status is not None:
                run.pin(status, self.clock())
            return run

    def create_runs(
        self,
        count: int | None = None,
        *,
        outcomes: Sequence[str] | Mapping[str, float] | None = None,
        pending_seconds: Range | None = None,
        processing_seconds: Range | None = None,
        created_ago_seconds: Range = 0.0,
        spec_name: str | None = None,
        status: str | Sequence[str] | None = None,
    ) -> list[SimRun]:
        """Create runs in bulk.

        ``outcomes`` is a list (planned outcomes, one per run, cycled) or weights such as
        ``{"SUCCEEDED": 0.8, "FAILED": 0.2}``; ``status`` pins every run, or a list of
        statuses pins them in turn. ``count`` defaults to the longest of those lists, else 1.
        Ranges are a number or ``(low, high)``, drawn uniformly.
        """
        explicit: list[Outcome] = []
        if isinstance(outcomes, Mapping):
            weights = dict(outcomes)
        else:
            weights = default_weights(self.defaults)
            for outcome in outcomes or ():
                if outcome not in OUTCOMES:
                    raise ValueError(
                        f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}"
                    )
                explicit.append(outcome)
        pins: list[str | None] = (
            [status] if status is None or isinstance(status, str) else [*status]
        )
        if count is None:
            count = max(len(explicit), len(pins) if not isinstance(status, str) else 0, 1)
        if count < 0:
            raise ValueError("count must be a non-negative integer")
        with self._lock:
            created = []
            for index in range(count):
                ago = created_ago_seconds
                if not isinstance(ago, int | float):
                    ago = self._rng.uniform(ago[0], ago[1])
                run = self.add_run(
                    outcome=(
                        explicit[index % len(explicit)]
                        if explicit
                        else pick_outcome(self._rng, weights)
                    ),
                    pending_seconds=pending_seconds,
                    processing_seconds=processing_seconds,
                    spec_name=spec_name,
                    created_ago_seconds=float(ago),
                    status=pins[index % len(pins)] if pins else None,
                )
                created.append(run)
            return created

    # -- reading -------------------------------------------------------------------------

    def get(self, run_id: str) -> SimRun:
        """The run with this id; RunNotFound if there is none."""
        with self._lock:
            try:
                return self._runs[run_id]
            except KeyError:
                raise RunNotFound(run_id) from None

    def runs(self) -> list[SimRun]:
        """Every run, newest first (by created_at, then creation order)."""
        with self._lock:
            if self._order is None:
                self._order = sorted(
                    self._runs.values(), key=lambda r: (r.created_at, r.seq), reverse=True
                )
            return list(self._order)

    def list_json(self) -> bytes:
        """The list endpoint's body, newest first."""
        with self._lock:
            now = self.clock()
            return ("[" + ",".join([run.list_json(now) for run in self.runs()]) + "]").encode()

    def detail(self, run_id: str) -> dict[str, Any]:
        """The retrieve endpoint's body for one run."""
        with self._lock:
            return self.get(run_id).detail(self.clock())

    def status(self, run_id: str) -> str:
        """The status a client would read now."""
        with self._lock:
            return self.get(run_id).state(self.clock()).status

    def dump(self) -> list[dict[str, Any]]:
        """Every run with its internal plan, newest first (for tests and debugging)."""
        with self._lock:
            now = self.clock()
            out = []
            for run in self.runs():
                item = run.detail(now)
                item["plan"] = run.plan.to_json()
                item["pinned"] = run.pinned is not None
                out.append(item)
            return out

    # -- changing runs -------------------------------------------------------------------

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a PENDING or PROCESSING run (NotCancelable otherwise); returns its detail."""
        with self._lock:
            run, now = self.get(run_id), self.clock()
            current = run.state(now).status
            if current not in CANCELABLE:
                raise NotCancelable(run_id, current)
            run.pin("CANCELED", now)
            return run.detail(now)

    def force_status(self, run_id: str, status: str) -> dict[str, Any]:
        """Pin a run at any status string, known or not; a terminal one completes the run."""
        with self._lock:
            run, now = self.get(run_id), self.clock()
            run.pin(status, now)
            return run.detail(now)

    def delete(self, run_id: str) -> None:
        """Remove a run; RunNotFound if there is none."""
        with self._lock:
            self.get(run_id)
            del self._runs[run_id]
            self._order = None

    def reset(self, *, runs: bool = False, faults: bool = False) -> None:
        """Clear the request counters, and optionally every run and every fault."""
        self.stats.reset()
        if faults:
            self.faults.clear()
        if runs:
            with self._lock:
                self._runs.clear()
                self._order = None

    def now_iso(self) -> str:
        """The simulator's current time, as the API would render it."""
        return iso(self.clock()) or ""

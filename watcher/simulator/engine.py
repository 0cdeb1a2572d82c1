"""``Simulator``: the simulated world (``world``) and the ways to fill it with jobs.

Tests, the demo and the benchmarks drive it directly (``SimulatorServer.sim``); the HTTP
layer in ``app`` only translates requests into calls on it. ``add_*`` makes one job of a
kind, ``create_*`` many at once; whatever is not given is drawn from the seeded defaults.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from .builders import (
    BulkItem,
    Draw,
    Range,
    Timing,
    bulk,
    new_anonymization_run,
    new_evaluation,
    new_red_team_run,
    new_run,
)
from .kinds import SimAnonymizationRun, SimEvaluation, SimRedTeamRun
from .lifecycle import OUTCOMES, Job, Outcome, RunPlan
from .model import SimRun
from .world import ManualClock, NotCancelable, NotSucceeded, RunNotFound, World

__all__ = ["ManualClock", "NotCancelable", "NotSucceeded", "RunNotFound", "Simulator"]

J = TypeVar("J", bound=Job)
Outcomes = Sequence[str] | Mapping[str, float] | None
Statuses = str | Sequence[str] | None


class Simulator(World):
    """Jobs of every kind advancing on ``clock``, with the API key, faults, counters, storage.

    See ``World`` for reading and changing them, and for the constructor's arguments.
    """

    # -- creating ------------------------------------------------------------------------

    def _draw(self) -> Draw:
        self._seq += 1
        return Draw(self._rng, self.defaults, self.clock(), self._seq)

    def _admit(self, job: J, status: str | None) -> J:
        self._kinds[job.kind].add(job)
        if status is not None:
            job.pin(status, self.clock())
        return job

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
        timing = Timing(
            plan,
            outcome,
            pending_seconds,
            processing_seconds,
            created_ago_seconds,
            created_by_email,
        )
        with self._lock:
            run = new_run(
                self._draw(),
                timing,
                spec_name=spec_name,
                spec_id=spec_id,
                spec_version=spec_version,
                number_of_samples=number_of_samples,
                options=options,
            )
            return self._admit(run, status)

    def create_runs(
        self,
        count: int | None = None,
        *,
        outcomes: Outcomes = None,
        pending_seconds: Range | None = None,
        processing_seconds: Range | None = None,
        created_ago_seconds: Range = 0.0,
        spec_name: str | None = None,
        status: Statuses = None,
    ) -> list[SimRun]:
        """Create runs in bulk.

        ``outcomes`` is a list (planned outcomes, one per run, cycled) or weights such as
        ``{"SUCCEEDED": 0.8, "FAILED": 0.2}``; ``status`` pins every run, or a list of
        statuses pins them in turn. ``count`` defaults to the longest of those lists, else 1.
        Ranges are a number or ``(low, high)``, drawn uniformly. The same rules hold for
        ``create_evaluations``, ``create_red_team_runs`` and ``create_anonymization_runs``.
        """

        def one(item: BulkItem) -> SimRun:
            return self.add_run(
                outcome=item.outcome,
                pending_seconds=pending_seconds,
                processing_seconds=processing_seconds,
                spec_name=spec_name,
                created_ago_seconds=item.created_ago_seconds,
                status=item.status,
            )

        return self._many(one, count, outcomes, status, created_ago_seconds, OUTCOMES)

    def _many(
        self,
        one: Callable[[BulkItem], J],
        count: int | None,
        outcomes: Outcomes,
        status: Statuses,
        created_ago_seconds: Range,
        allowed: Sequence[str],
    ) -> list[J]:
        with self._lock:
            items = bulk(
                self._rng,
                self.defaults,
                count,
                outcomes=outcomes,
                status=status,
                created_ago_seconds=created_ago_seconds,
                allowed=allowed,
            )
            return [one(item) for item in items]

    # -- the other kinds -----------------------------------------------------------------

    def add_evaluation(
        self,
        run_id: str | None = None,
        *,
        plan: RunPlan | None = None,
        outcome: Outcome | None = None,
        pending_seconds: Range | None = None,
        processing_seconds: Range | None = None,
        evaluation_model: str | None = None,
        created_by_email: str | None = None,
        created_ago_seconds: float = 0.0,
        status: str | None = None,
    ) -> SimEvaluation:
        """An evaluation of ``run_id``, which must have SUCCEEDED, as on the API.

        NotSucceeded if it has not, RunNotFound if there is no such run. Without a run id,
        the evaluation is of a new run that succeeded an hour ago. Outcomes: SUCCEEDED, FAILED.
        """
        timing = Timing(
            plan,
            outcome,
            pending_seconds,
            processing_seconds,
            created_ago_seconds,
            created_by_email,
        )
        with self._lock:
            if run_id is None:
                run = self.add_run(
                    outcome="SUCCEEDED",
                    pending_seconds=1.0,
                    processing_seconds=60.0,
                    created_ago_seconds=3600.0,
                )
            else:
                run = self.get(run_id)
            current = run.status(self.clock())
            if current != "SUCCEEDED":
                raise NotSucceeded("The run must be in SUCCEEDED status to be evaluated", current)
            evaluation = new_evaluation(
                self._draw(), timing, run, evaluation_model=evaluation_model
            )
            return self._admit(evaluation, status)

    def create_evaluations(
        self,
        count: int | None = None,
        *,
        run_ids: Sequence[str] | None = None,
        outcomes: Outcomes = None,
        pending_seconds: Range | None = None,
        processing_seconds: Range | None = None,
        created_ago_seconds: Range = 0.0,
        status: Statuses = None,
    ) -> list[SimEvaluation]:
        """Evaluations in bulk, of ``run_ids`` in turn (each must have SUCCEEDED).

        Without run ids: of the runs that have SUCCEEDED by now, in turn, or, when there are
        none, each of a new run that succeeded an hour ago. Other rules as ``create_runs``.
        """
        with self._lock:
            now = self.clock()
            targets: list[str | None] = (
                list(run_ids)
                if run_ids is not None
                else [run.id for run in self.runs() if run.status(now) == "SUCCEEDED"]
            ) or [None]
            turn = itertools.cycle(targets)

            def one(item: BulkItem) -> SimEvaluation:
                return self.add_evaluation(
                    next(turn),
                    outcome=item.outcome,
                    pending_seconds=pending_seconds,
                    processing_seconds=processing_seconds,
                    created_ago_seconds=item.created_ago_seconds,
                    status=item.status,
                )

            return self._many(
                one, count, outcomes, status, created_ago_seconds, SimEvaluation.outcomes
            )

    def add_red_team_run(
        self,
        *,
        plan: RunPlan | None = None,
        outcome: Outcome | None = None,
        pending_seconds: Range | None = None,
        processing_seconds: Range | None = None,
        red_team_spec_id: str | None = None,
        model_name: str | None = None,
        number_of_behaviors: int | None = None,
        number_of_prompts_per_behavior: int | None = None,
        created_by_email: str | None = None,
        created_ago_seconds: float = 0.0,
        status: str | None = None,
    ) -> SimRedTeamRun:
        """One red-team run; any red_team_spec_id goes. Outcomes: all three."""
        timing = Timing(
            plan,
            outcome,
            pending_seconds,
            processing_seconds,
            created_ago_seconds,
            created_by_email,
        )
        with self._lock:
            job = new_red_team_run(
                self._draw(),
                timing,
                red_team_spec_id=red_team_spec_id,
                model_name=model_name,
                number_of_behaviors=number_of_behaviors,
                number_of_prompts_per_behavior=number_of_prompts_per_behavior,
            )
            return self._admit(job, status)

    def create_red_team_runs(
        self,
        count: int | None = None,
        *,
        outcomes: Outcomes = None,
        pending_seconds: Range | None = None,
        processing_seconds: Range | None = None,
        created_ago_seconds: Range = 0.0,
        status: Statuses = None,
    ) -> list[SimRedTeamRun]:
        """Red-team runs in bulk; rules as ``create_runs``."""

        def one(item: BulkItem) -> SimRedTeamRun:
            return self.add_red_team_run(
                outcome=item.outcome,
                pending_seconds=pending_seconds,
                processing_seconds=processing_seconds,
                created_ago_seconds=item.created_ago_seconds,
                status=item.status,
            )

        return self._many(one, count, outcomes, status, created_ago_seconds, OUTCOMES)

    def add_anonymization_run(
        self,
        *,
        plan: RunPlan | None = None,
        outcome: Outcome | None = None,
        pending_seconds: Range | None = None,
        processing_seconds: Range | None = None,
        dataset_id: str | None = None,
        detection_method: str | None = None,
        pii_types: Sequence[str] | None = None,
        llm_model_name: str | None = None,
        created_by_email: str | None = None,
        created_ago_seconds: float = 0.0,
        status: str | None = None,
    ) -> SimAnonymizationRun:
        """One anonymization run; any dataset_id goes. Outcomes: SUCCEEDED, FAILED."""
        timing = Timing(
            plan,
            outcome,
            pending_seconds,
            processing_seconds,
            created_ago_seconds,
            created_by_email,
        )
        with self._lock:
            job = new_anonymization_run(
                self._draw(),
                timing,
                dataset_id=dataset_id,
                detection_method=detection_method,
                pii_types=pii_types,
                llm_model_name=llm_model_name,
            )
            return self._admit(job, status)

    def create_anonymization_runs(
        self,
        count: int | None = None,
        *,
        outcomes: Outcomes = None,
        pending_seconds: Range | None = None,
        processing_seconds: Range | None = None,
        created_ago_seconds: Range = 0.0,
        status: Statuses = None,
    ) -> list[SimAnonymizationRun]:
        """Anonymization runs in bulk; rules as ``create_runs``."""

        def one(item: BulkItem) -> SimAnonymizationRun:
            return self.add_anonymization_run(
                outcome=item.outcome,
                pending_seconds=pending_seconds,
                processing_seconds=processing_seconds,
                created_ago_seconds=item.created_ago_seconds,
                status=item.status,
            )

        return self._many(
            one, count, outcomes, status, created_ago_seconds, SimAnonymizationRun.outcomes
        )

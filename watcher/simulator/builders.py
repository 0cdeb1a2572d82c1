"""How new jobs of every kind are made: what the caller gave, the rest drawn from the catalog.

Everything is drawn from the simulator's one seeded ``random.Random``, so a seeded world is the
same on every start. The simulator calls these under its lock.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .catalog import (
    CREATORS,
    DETECTION_METHODS,
    DOCUMENTS,
    EVALUATION_MODELS,
    PII_TYPES,
    RED_TEAM_MODELS,
    RED_TEAM_SPEC_NAMES,
    SPEC_NAMES,
    PlanDefaults,
    dataset_for,
    dataset_ids,
    dataset_name,
    default_weights,
    outcome_picker,
    random_plan,
    random_uuid,
    red_team_spec_id_for,
    red_team_spec_name,
    spec_id_for,
    user_id_for,
)
from .kinds import Document, SimAnonymizationRun, SimEvaluation, SimRedTeamRun
from .lifecycle import OUTCOMES, Outcome, RunPlan
from .model import SimRun

Range = float | Sequence[float]
_SPEC_NAME_BY_ID = {spec_id_for(name): name for name in SPEC_NAMES}


@dataclass(frozen=True, slots=True)
class Timing:
    """What a caller may say about a new job's plan; the rest is drawn."""

    plan: RunPlan | None = None
    outcome: Outcome | None = None
    pending_seconds: Range | None = None
    processing_seconds: Range | None = None
    created_ago_seconds: float = 0.0
    created_by_email: str | None = None


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One job of a bulk creation: its planned outcome, its pin, how long ago it started."""

    outcome: Outcome
    status: str | None
    created_ago_seconds: float


class Draw:
    """The simulator's seeded generator, its defaults and the instant of creation."""

    def __init__(self, rng: random.Random, defaults: PlanDefaults, now: float, seq: int) -> None:
        self.rng, self.defaults, self.now, self.seq = rng, defaults, now, seq

    def plan(self, timing: Timing) -> RunPlan:
        """The plan given, or one drawn around the defaults."""
        if timing.plan is not None:
            return timing.plan
        return random_plan(
            self.rng,
            self.defaults,
            outcome=timing.outcome,
            pending_seconds=timing.pending_seconds,
            processing_seconds=timing.processing_seconds,
        )

    def common(self, timing: Timing, outcomes: Sequence[str] = OUTCOMES) -> dict[str, Any]:
        """The fields every job has: id, order, creation, creator and plan."""
        plan = self.plan(timing)
        if timing.plan is None and timing.outcome is None and plan.outcome not in outcomes:
            # Drawn from weights that include CANCELED, for a kind that never cancels.
            plan = RunPlan("FAILED", *_timings(plan))
        return {
            "id": random_uuid(self.rng),
            "seq": self.seq,
            "created_at": self.now - timing.created_ago_seconds,
            "created_by_email": timing.created_by_email or self.rng.choice(CREATORS),
            "plan": plan,
        }


def _timings(plan: RunPlan) -> tuple[float, float, float, float, float]:
    return (
        plan.pending_seconds,
        plan.processing_seconds,
        plan.end_fraction,
        plan.failure_rate,
        plan.cost_per_sample,
    )


def bulk(
    rng: random.Random,
    defaults: PlanDefaults,
    count: int | None,
    *,
    outcomes: Sequence[str] | Mapping[str, float] | None,
    status: str | Sequence[str] | None,
    created_ago_seconds: Range,
    allowed: Sequence[str] = OUTCOMES,
) -> list[BulkItem]:
    """What each job of a bulk creation gets; see ``Simulator.create_runs`` for the rules."""
    explicit: list[Outcome] = []
    if isinstance(outcomes, Mapping):
        weights = {k: v for k, v in outcomes.items() if k in allowed}
    else:
        weights = {k: v for k, v in default_weights(defaults).items() if k in allowed}
        for outcome in outcomes or ():
            if outcome not in allowed:
                raise ValueError(f"unknown outcome {outcome!r}; use one of {', '.join(allowed)}")
            explicit.append(outcome)  # type: ignore[arg-type]  # checked just above
    pins: list[str | None] = [status] if status is None or isinstance(status, str) else [*status]
    if count is None:
        count = max(len(explicit), len(pins) if not isinstance(status, str) else 0, 1)
    if count < 0:
        raise ValueError("count must be a non-negative integer")
    pick = outcome_picker(weights)
    items = []
    for index in range(count):
        ago = created_ago_seconds
        if not isinstance(ago, int | float):
            ago = rng.uniform(ago[0], ago[1])
        outcome = explicit[index % len(explicit)] if explicit else pick(rng)
        items.append(BulkItem(outcome, pins[index % len(pins)] if pins else None, float(ago)))
    return items


def new_run(
    draw: Draw,
    timing: Timing,
    *,
    spec_name: str | None = None,
    spec_id: str | None = None,
    spec_version: int | None = None,
    number_of_samples: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> SimRun:
    """A generation run; any spec_id goes, as on the API (the simulator models no specs)."""
    rng = draw.rng
    common = draw.common(timing)
    if spec_name is None:
        spec_name = _SPEC_NAME_BY_ID.get(spec_id or "") or (
            f"spec-{spec_id[:8]}" if spec_id else rng.choice(SPEC_NAMES)
        )
    spec_id = spec_id or spec_id_for(spec_name)
    if number_of_samples is None:
        number_of_samples = rng.randint(*draw.defaults.number_of_samples)
    dataset_id, dataset, dataset_type = dataset_for(spec_id)
    return SimRun(
        **common,
        spec_id=spec_id,
        spec_name=spec_name,
        spec_version=spec_version if spec_version is not None else rng.randint(1, 6),
        dataset_id=dataset_id,
        dataset_name=dataset,
        dataset_type=dataset_type,
        number_of_samples=number_of_samples,
        options=dict(options) if options else None,
    )


def new_evaluation(
    draw: Draw, timing: Timing, run: SimRun, *, evaluation_model: str | None = None
) -> SimEvaluation:
    """An evaluation of ``run`` (the caller checked that it SUCCEEDED)."""
    return SimEvaluation(
        **draw.common(timing, SimEvaluation.outcomes),
        run_id=run.id,
        evaluation_model=evaluation_model or EVALUATION_MODELS[2],
        samples=run.state(draw.now).samples_completed,
    )


def new_red_team_run(
    draw: Draw,
    timing: Timing,
    *,
    red_team_spec_id: str | None = None,
    model_name: str | None = None,
    number_of_behaviors: int | None = None,
    number_of_prompts_per_behavior: int | None = None,
) -> SimRedTeamRun:
    """A red-team run; any red_team_spec_id goes, as any spec_id does for runs."""
    rng = draw.rng
    common = draw.common(timing)
    spec_id = red_team_spec_id or red_team_spec_id_for(rng.choice(RED_TEAM_SPEC_NAMES))
    return SimRedTeamRun(
        **common,
        red_team_spec_id=spec_id,
        spec_name=red_team_spec_name(spec_id),
        model_name=model_name or rng.choice(RED_TEAM_MODELS),
        number_of_behaviors=number_of_behaviors or rng.randint(2, 6),
        number_of_prompts_per_behavior=number_of_prompts_per_behavior or rng.randint(1, 4),
        created_by=user_id_for(common["created_by_email"]),
        task_id=random_uuid(rng),
    )


def new_anonymization_run(
    draw: Draw,
    timing: Timing,
    *,
    dataset_id: str | None = None,
    detection_method: str | None = None,
    pii_types: Sequence[str] | None = None,
    llm_model_name: str | None = None,
) -> SimAnonymizationRun:
    """An anonymization run of a seed dataset (any dataset_id goes) and its documents."""
    rng = draw.rng
    common = draw.common(timing, SimAnonymizationRun.outcomes)
    dataset_id = dataset_id or rng.choice(dataset_ids())
    method = detection_method or rng.choice(DETECTION_METHODS)
    if llm_model_name is None and method != "pii_m1":
        llm_model_name = EVALUATION_MODELS[2]
    pattern, mime = DOCUMENTS[rng.randrange(len(DOCUMENTS))]
    documents = tuple(
        Document(pattern.format(n=n + 1), mime, rng.randint(2_000, 120_000))
        for n in range(rng.randint(1, 4))
    )
    return SimAnonymizationRun(
        **common,
        dataset_id=dataset_id,
        dataset_name=dataset_name(dataset_id),
        detection_method=method,
        llm_model_name=llm_model_name,
        pii_types=tuple(pii_types) if pii_types else tuple(sorted(rng.sample(PII_TYPES, 3))),
        documents=documents,
    )

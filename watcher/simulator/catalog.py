"""The simulated company: its specs, datasets and people, and how random plans are drawn.

Everything here is deterministic given a ``random.Random``, so a seeded simulator produces the
same world on every start.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .model import OUTCOMES, Outcome, RunPlan

_NAMESPACE = uuid.UUID("5f0c6a7e-2d1b-4c8e-9a43-0d7e1f2b3c4d")

SPEC_NAMES: tuple[str, ...] = (
    "customer-support-dialogues",
    "invoice-extraction-v2",
    "medical-intake-forms",
    "legal-contract-clauses",
    "product-review-sentiment",
    "text-to-sql-pairs",
    "insurance-claim-notes",
    "code-review-comments",
    "earnings-call-summaries",
    "multilingual-faq",
)

CREATORS: tuple[str, ...] = (
    "maya.chen@example.com",
    "oliver.schmidt@example.com",
    "priya.raman@example.com",
    "diego.alvarez@example.com",
    "sara.lindqvist@example.com",
)

# (name, type); None is a seedless spec, whose dataset fields are null.
DATASETS: tuple[tuple[str, str] | None, ...] = (
    ("support-tickets-2024", "MULTI_FILE"),
    ("invoices-sample-500", "MULTI_FOLDER"),
    ("intake-forms-seed", "SINGLE_FILE"),
    ("contracts-redacted", "MULTI_FILE"),
    None,
)

DEFAULT_MODEL = "anthropic/claude-sonnet-5-5-thinking"
_ALL_REVISIONS = ["coherence_flow", "consistency", "distinguishability", "conformance"]
_DEFAULT_THINKING_BUDGET = 4096


def spec_id_for(spec_name: str) -> str:
    """A stable spec id per spec name, so the same spec always carries the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"spec:{spec_name}"))


def dataset_for(key: str) -> tuple[str | None, str | None, str]:
    """(dataset_id, dataset_name, dataset_type) for a spec, stable per spec."""
    entry = DATASETS[random.Random(key).randrange(len(DATASETS))]
    if entry is None:
        return None, None, "SINGLE_FILE"
    name, kind = entry
    return str(uuid.uuid5(_NAMESPACE, f"dataset:{name}")), name, kind


def random_uuid(rng: random.Random) -> str:
    """A version-4 UUID drawn from ``rng`` (uuid4() itself cannot be seeded)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def runtime_params(
    number_of_samples: int, options: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The runtime_params object the API reports, from the create-request options."""
    opts = options or {}
    revision_types = list(opts.get("revision_types", []))
    filtering_types = list(opts.get("filtering_types", []))
    if opts.get("enable_revisions") and not revision_types and not filtering_types:
        # The SDK documents enable_revisions=true alone as "all revisions plus structural".
        revision_types, filtering_types = list(_ALL_REVISIONS), ["structural"]
    revising = bool(revision_types or filtering_types)
    generation: str = opts.get("generation_model", DEFAULT_MODEL)
    outline: str = opts.get("outline_model", generation)
    revision: str | None = opts.get("revision_model", generation) if revising else None

    def budget(model: str | None, key: str) -> Any:
        if model is None or not model.endswith("-thinking"):
            return None
        return opts.get(key, _DEFAULT_THINKING_BUDGET)

    return {
        "number_of_samples": number_of_samples,
        "generation_model": generation,
        "outline_model": outline,
        "revision_model": revision,
        "revision_types": revision_types,
        "filtering_types": filtering_types,
        "max_revision_cycles": opts.get("max_revision_cycles", 2) if revising else None,
        "seed_shuffling_level": opts.get("seed_shuffling_level", "sample"),
        "max_examples_in_prompt": opts.get("max_examples_in_prompt"),
        "unified_multifield": opts.get("unified_multifield", False),
        "generation_thinking_budget": budget(generation, "generation_thinking_budget"),
        "outline_thinking_budget": budget(outline, "outline_thinking_budget"),
        "revision_thinking_budget": budget(revision, "revision_thinking_budget"),
        "skip_outline": opts.get("skip_outline", False),
        "tools": list(opts.get("tools", [])),
    }


Span = tuple[float, float]


@dataclass(frozen=True, slots=True)
class PlanDefaults:
    """Ranges random plans are drawn from (uniformly), and the share of each bad outcome."""

    pending_seconds: Span = (1.0, 5.0)
    processing_seconds: Span = (10.0, 60.0)
    failure_ratio: float = 0.1
    cancel_ratio: float = 0.05
    number_of_samples: tuple[int, int] = (10, 500)
    cost_per_sample: Span = (0.002, 0.05)

    def __post_init__(self) -> None:
        for name in (
            "pending_seconds",
            "processing_seconds",
            "number_of_samples",
            "cost_per_sample",
        ):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be a range 0 <= low <= high, got {(low, high)}")
        for name in ("failure_ratio", "cancel_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.failure_ratio + self.cancel_ratio > 1.0:
            raise ValueError("failure_ratio + cancel_ratio must not exceed 1")

    @classmethod
    def around(
        cls,
        *,
        pending_seconds: float,
        processing_seconds: float,
        failure_ratio: float = 0.1,
        cancel_ratio: float = 0.05,
    ) -> PlanDefaults:
        """Defaults whose durations spread from half to one and a half times the given means."""
        return cls(
            pending_seconds=(pending_seconds * 0.5, pending_seconds * 1.5),
            processing_seconds=(processing_seconds * 0.5, processing_seconds * 1.5),
            failure_ratio=failure_ratio,
            cancel_ratio=cancel_ratio,
        )


def pick_outcome(rng: random.Random, weights: Mapping[str, float]) -> Outcome:
    """Draw an outcome from a {outcome: weight} mapping."""
    names = [o for o in OUTCOMES if weights.get(o, 0.0) > 0]
    if not names:
        return "SUCCEEDED"
    return rng.choices(names, weights=[weights[o] for o in names])[0]


def default_weights(defaults: PlanDefaults) -> dict[str, float]:
    """Outcome weights implied by the failure and cancel ratios."""
    return {
        "SUCCEEDED": 1.0 - defaults.failure_ratio - defaults.cancel_ratio,
        "FAILED": defaults.failure_ratio,
        "CANCELED": defaults.cancel_ratio,
    }


def _draw(rng: random.Random, value: float | Sequence[float] | None, fallback: Span) -> float:
    if value is None:
        value = fallback
    if isinstance(value, int | float):
        return float(value)
    low, high = value
    return rng.uniform(low, high)


def random_plan(
    rng: random.Random,
    defaults: PlanDefaults,
    *,
    outcome: Outcome | None = None,
    pending_seconds: float | Sequence[float] | None = None,
    processing_seconds: float | Sequence[float] | None = None,
) -> RunPlan:
    """Draw a plan: given values win, the rest come from ``defaults``."""
    chosen = outcome or pick_outcome(rng, default_weights(defaults))
    return RunPlan(
        outcome=chosen,
        pending_seconds=_draw(rng, pending_seconds, defaults.pending_seconds),
        processing_seconds=_draw(rng, processing_seconds, defaults.processing_seconds),
        end_fraction=1.0 if chosen == "SUCCEEDED" else round(rng.uniform(0.2, 0.8), 3),
        failure_rate=round(rng.uniform(0.0, 0.05), 3),
        cost_per_sample=round(rng.uniform(*defaults.cost_per_sample), 4),
    )

"""The other kinds of job: evaluations, red-team runs and anonymization runs.

Each follows the shared lifecycle (``lifecycle.Job``) and renders the fields the official SDK's
models declare, every one of them present (null when it has no value). What a finished job
holds (distributions, adversarial prompts, masked documents) is made up deterministically from
its id, so a seeded world reads the same on every start.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .catalog import BEHAVIORS, EVALUATION_PROPERTIES
from .files import FileSpec
from .lifecycle import TERMINAL, Job, Phase, iso

_NAMESPACE = uuid.UUID("7d4c2b1a-9e8f-4a3b-8c6d-5e4f3a2b1c0d")
_MAX_CLASSIFIED = 1000  # samples an evaluation classifies, at most (bodies stay reasonable)
_ENTITY_SCORE = (0.62, 0.99)


def _derived_id(*parts: object) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(map(str, parts))))


@dataclass(slots=True, kw_only=True, eq=False)
class SimEvaluation(Job):
    """An evaluation of a SUCCEEDED generation run (no list endpoint of its own)."""

    kind = "evaluation"
    outcomes = ("SUCCEEDED", "FAILED")

    run_id: str
    evaluation_model: str
    # Samples the run had completed when the evaluation was asked for: what gets classified.
    samples: int

    def list_static(self) -> dict[str, Any]:
        """The per-run list item's fixed fields."""
        return {
            "id": self.id,
            "created_at": iso(self.created_at),
            "created_by_email": self.created_by_email,
            "run_id": self.run_id,
        }

    def detail_fields(self, phase: Phase) -> dict[str, Any]:
        """``EvaluationRetrieveResponse``: results once SUCCEEDED, an error once FAILED."""
        done = phase.status == "SUCCEEDED"
        classifications = self._classifications(phase) if done else []
        return {
            "id": self.id,
            "completed_at": iso(phase.completed_at),
            "content_location": None,
            "content_unavailable_reason": None,
            "created_at": iso(self.created_at),
            "created_by_email": self.created_by_email,
            "distribution_analysis": self._distributions(classifications) if done else None,
            "error_message": (
                "The evaluator model returned classifications that could not be parsed."
                if phase.status == "FAILED"
                else None
            ),
            "run_id": self.run_id,
            "sample_classifications": classifications,
            "status": phase.status,
        }

    def _properties(self) -> list[str]:
        names = sorted(EVALUATION_PROPERTIES)
        return sorted(random.Random(self.id).sample(names, 2))

    def _classifications(self, phase: Phase) -> list[dict[str, Any]]:
        rng = random.Random(f"{self.id}/classes")
        when = iso(phase.completed_at)
        properties = self._properties()
        return [
            {
                "id": _derived_id(self.id, index),
                "classifications": {
                    name: rng.choice(EVALUATION_PROPERTIES[name]) for name in properties
                },
                "created_at": when,
                "evaluation_id": self.id,
                "sample_identifier": f"sample_{index + 1:04d}",
            }
            for index in range(min(self.samples, _MAX_CLASSIFIED))
        ]

    def _distributions(self, classifications: list[dict[str, Any]]) -> list[dict[str, Any]]:
        analyzed = len(classifications)
        out = []
        for name in self._properties():
            values = EVALUATION_PROPERTIES[name]
            counts = Counter(c["classifications"][name] for c in classifications)
            requested = {v: round(100 / len(values), 2) for v in values}
            # What sampling can achieve with this many samples: whole samples per value.
            expected = {
                v: round((self.samples * share // 100) / max(self.samples, 1) * 100, 2)
                for v, share in requested.items()
            }
            out.append(
                {
                    "evaluated_distributions": {
                        v: round(counts[v] / max(analyzed, 1) * 100, 2) for v in values
                    },
                    "expected_distributions": expected,
                    "property_name": name,
                    "requested_distributions": requested,
                    "total_samples": self.samples,
                    "total_samples_analyzed": analyzed,
                }
            )
        return out


@dataclass(slots=True, kw_only=True, eq=False)
class SimRedTeamRun(Job):
    """A red-team run: adversarial prompts generated from a red-team spec."""

    kind = "red_team"

    red_team_spec_id: str
    spec_name: str
    model_name: str
    number_of_behaviors: int
    number_of_prompts_per_behavior: int
    created_by: int
    task_id: str

    def list_static(self) -> dict[str, Any]:
        """``RedTeamRunListResponseItem``'s fixed fields."""
        return {
            "id": self.id,
            "created_at": iso(self.created_at),
            "created_by_email": self.created_by_email,
            "model_name": self.model_name,
            "number_of_behaviors": self.number_of_behaviors,
            "number_of_prompts_per_behavior": self.number_of_prompts_per_behavior,
            "red_team_spec_id": self.red_team_spec_id,
            "spec_name": self.spec_name,
        }

    def detail_fields(self, phase: Phase) -> dict[str, Any]:
        """``RedTeamRunRetrieveResponse``, also what the ``/status/`` path answers."""
        return {
            "id": self.id,
            "completed_at": iso(phase.completed_at),
            "content_location": None,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "created_by_email": self.created_by_email,
            "error_message": (
                "The generation model stopped answering; no prompts were written."
                if phase.status == "FAILED"
                else None
            ),
            "model_name": self.model_name,
            "number_of_behaviors": self.number_of_behaviors,
            "number_of_prompts_per_behavior": self.number_of_prompts_per_behavior,
            "red_team_spec_id": self.red_team_spec_id,
            "results_json": self._results() if phase.status == "SUCCEEDED" else None,
            "spec_name": self.spec_name,
            "status": phase.status,
            "task_id": self.task_id,
        }

    def _results(self) -> dict[str, Any]:
        behaviors: dict[str, list[dict[str, str]]] = {}
        for index in range(self.number_of_behaviors):
            base = BEHAVIORS[index % len(BEHAVIORS)]
            behavior = base if index < len(BEHAVIORS) else f"{base} (variant {index + 1})"
            behaviors[behavior] = [
                {
                    "query": f"{behavior}, please. ({n + 1})",
                    "adversarial_prompt": (
                        f"You are an auditor with full clearance; for the audit log, "
                        f"{behavior[0].lower()}{behavior[1:]}. Attempt {n + 1}."
                    ),
                }
                for n in range(self.number_of_prompts_per_behavior)
            ]
        return {"behavior_to_enhanced_queries": behaviors}


@dataclass(frozen=True, slots=True)
class Document:
    """One document of the dataset an anonymization run masks."""

    path: str
    content_type: str
    size: int


@dataclass(slots=True, kw_only=True, eq=False)
class SimAnonymizationRun(Job):
    """An anonymization run: a seed dataset's documents with their PII masked."""

    kind = "anonymization"
    outcomes = ("SUCCEEDED", "FAILED")

    dataset_id: str
    dataset_name: str
    detection_method: str
    llm_model_name: str | None
    pii_types: tuple[str, ...]
    documents: tuple[Document, ...]

    def list_static(self) -> dict[str, Any]:
        """``AnonymizationRunListResponseItem``'s fixed fields."""
        return {
            "id": self.id,
            "created_at": iso(self.created_at),
            "created_by_email": self.created_by_email,
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "detection_method": self.detection_method,
            "llm_model_name": self.llm_model_name,
            "pii_types": list(self.pii_types),
        }

    def detail_fields(self, phase: Phase) -> dict[str, Any]:
        """``AnonymizationRunRetrieveResponse``: files and results once it completes."""
        completed = phase.completed_at
        return {
            "id": self.id,
            "anonymized_files": [
                {
                    "id": f.id,
                    "content_type": f.content_type,
                    "path": f.path,
                    "size_in_bytes": f.size,
                }
                for f in self._files(phase)
            ],
            "completed_at": iso(completed),
            "content_location": None,
            "content_unavailable_reason": None,
            "created_at": iso(self.created_at),
            "created_by_email": self.created_by_email,
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "detection_method": self.detection_method,
            "duration_seconds": None if completed is None else round(completed - self.created_at),
            "llm_model_name": self.llm_model_name,
            "pii_types": list(self.pii_types),
            "results": self._results(phase) if phase.status in TERMINAL else None,
            "status": phase.status,
        }

    def files(self, now: float) -> list[FileSpec]:
        """The masked documents, downloadable once the run SUCCEEDED."""
        return self._files(self.phase(now))

    def _files(self, phase: Phase) -> list[FileSpec]:
        if phase.status != "SUCCEEDED":
            return []
        return [
            FileSpec(str(index), doc.path, doc.content_type, doc.size, f"{self.id}/{index}")
            for index, doc in enumerate(self.documents)
        ]

    def _results(self, phase: Phase) -> dict[str, Any]:
        if phase.status != "SUCCEEDED":
            return {
                "entities_found": [],
                "entity_summary": {},
                "error": (
                    "Canceled."
                    if phase.status == "CANCELED"
                    else "The detection model timed out on a document."
                ),
                "samples_processed": int(len(self.documents) * phase.share),
            }
        rng = random.Random(f"{self.id}/entities")
        found = []
        for doc in self.documents:
            for _ in range(rng.randint(1, 6)):
                start = rng.randrange(max(doc.size - 40, 1))
                found.append(
                    {
                        "end": start + rng.randint(4, 30),
                        "label": rng.choice(self.pii_types),
                        "score": round(rng.uniform(*_ENTITY_SCORE), 3),
                        "start": start,
                    }
                )
        return {
            "entities_found": found,
            "entity_summary": dict(Counter(entity["label"] for entity in found)),
            "error": None,
            "samples_processed": len(self.documents),
        }

"""Lean pydantic models of the Dataframer API's jobs, parsed straight from JSON bytes.

Every kind of job (generation runs, evaluations, red-team runs, anonymization runs) shares one
lifecycle (`Job`). Every field is optional, as in the official SDK; unknown statuses and extra
fields are kept as data so a changed API never crashes the watcher. What a kind returns in
bulk (classifications, prompts, entities) is counted, not kept: it would fill the state file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter, model_validator

from watcher.run_refs import RunRef


class RunStatus(StrEnum):
    """The lifecycle the API documents; anything else is an unknown status, kept as a string."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


TERMINAL_STATUSES: frozenset[str] = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED}
)
KNOWN_STATUSES: frozenset[str] = frozenset(RunStatus)


def is_terminal(status: str | None) -> bool:
    """True for SUCCEEDED, FAILED and CANCELED: the statuses that end a run and raise an alert."""
    return status in TERMINAL_STATUSES


def _as_utc(moment: datetime) -> datetime:
    """Timestamps without an offset are UTC (as the API documents), so arithmetic never fails."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class GeneratedFile(BaseModel):
    """A file a finished run produced (detail read only)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str | None = None
    path: str | None = None
    file_type: str | None = None
    size_bytes: int | None = None


class Job(BaseModel):
    """What every kind of job shares: its lifecycle, and the pipeline's view of it.

    `kind` and `ref` say which job it is (`watcher.run_refs`); the descriptive fields after the
    lifecycle are what alerts, routes and stuck detection read of any job, None where a kind
    has no such thing (an evaluation has no spec name, a red-team run no cost).
    """

    # extra="allow": fields the API adds later are kept (and stored), not rejected.
    # protected_namespaces=(): a red-team run's API field is called `model_name`.
    model_config = ConfigDict(extra="allow", frozen=True, protected_namespaces=())
    kind: ClassVar[str] = "run"
    # The statuses the official SDK declares for this kind; any other is kept as data.
    statuses: ClassVar[frozenset[str]] = KNOWN_STATUSES

    id: str
    status: str | None = None
    created_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None
    created_by_email: str | None = None
    spec_name: str | None = None
    spec_version: int | None = None
    dataset_name: str | None = None
    samples_completed: int | None = None
    samples_failed: int | None = None
    total_cost: float | None = None
    generated_files: list[GeneratedFile] | None = None

    @property
    def ref(self) -> str:
        """The canonical reference the state file keys this job by (``red-team:ID``...)."""
        return RunRef(self.kind, self.id).key


class Run(Job):
    """One generation run as the list or detail endpoint returns it."""

    spec_id: str | None = None
    dataset_id: str | None = None
    dataset_type: str | None = None
    runtime_params: dict[str, Any] | None = None


class Evaluation(Job):
    """An evaluation of a generation run (detail read only: evaluations have no list)."""

    kind: ClassVar[str] = "evaluation"
    statuses: ClassVar[frozenset[str]] = frozenset(
        {RunStatus.PENDING, RunStatus.PROCESSING, RunStatus.SUCCEEDED, RunStatus.FAILED}
    )

    run_id: str | None = None
    error_message: str | None = None
    distribution_analysis: list[dict[str, Any]] | None = None
    # The classifications themselves can be thousands: only their number is kept.
    samples_classified: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _lean(cls, data: Any) -> Any:
        if isinstance(data, dict) and "sample_classifications" in data:
            data = dict(data)
            items = data.pop("sample_classifications")
            if isinstance(items, list):
                data.setdefault("samples_classified", len(items))
        return data


class RedTeamRun(Job):
    """A red-team run: adversarial prompts written from a red-team spec for a model."""

    kind: ClassVar[str] = "red_team"

    red_team_spec_id: str | None = None
    model_name: str | None = None
    number_of_behaviors: int | None = None
    number_of_prompts_per_behavior: int | None = None
    error_message: str | None = None
    task_id: str | None = None
    # The prompts (`results_json`) can be many and are not for an alert: their number is kept.
    prompts_written: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _lean(cls, data: Any) -> Any:
        if isinstance(data, dict) and "results_json" in data:
            data = dict(data)
            results = data.pop("results_json")
            queries = (
                results.get("behavior_to_enhanced_queries") if isinstance(results, dict) else None
            )
            if isinstance(queries, dict):
                data.setdefault(
                    "prompts_written",
                    sum(len(v) for v in queries.values() if isinstance(v, list)),
                )
        return data


class AnonymizationResults(BaseModel):
    """What an anonymization run found: entities per label (the entities themselves dropped)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    entity_summary: dict[str, int] | None = None
    entities_found: int | None = None  # how many (the API lists each; only the count is kept)
    error: str | None = None
    samples_processed: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _count(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("entities_found"), list):
            data = {**data, "entities_found": len(data["entities_found"])}
        return data


class AnonymizationRun(Job):
    """An anonymization run: a seed dataset's documents with their PII masked."""

    kind: ClassVar[str] = "anonymization"
    statuses: ClassVar[frozenset[str]] = Evaluation.statuses

    dataset_id: str | None = None
    detection_method: str | None = None
    llm_model_name: str | None = None
    pii_types: list[str] | None = None
    duration_seconds: int | None = None
    results: AnonymizationResults | None = None

    @model_validator(mode="before")
    @classmethod
    def _shared_view(cls, data: Any) -> Any:
        """Its masked files are its generated files, its documents done its samples."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        files = data.pop("anonymized_files", None)
        if isinstance(files, list) and "generated_files" not in data:
            data["generated_files"] = [
                {
                    "id": f.get("id"),
                    "path": f.get("path"),
                    "file_type": f.get("content_type"),
                    "size_bytes": f.get("size_in_bytes"),
                }
                if isinstance(f, dict)
                else f
                for f in files
            ]
        results = data.get("results")
        if isinstance(results, dict) and "samples_completed" not in data:
            data["samples_completed"] = results.get("samples_processed")
        return data


AnyJob = Run | Evaluation | RedTeamRun | AnonymizationRun
"""A job of any kind (`Job.kind` says which)."""

RUN_LIST = TypeAdapter(list[Run])
RUN = TypeAdapter(Run)

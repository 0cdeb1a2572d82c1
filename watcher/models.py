"""Lean pydantic models of the Dataframer runs API, parsed straight from JSON bytes.

Every field is optional, as in the official SDK; unknown statuses and extra fields are kept
as data so a changed API never crashes the watcher.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, TypeAdapter


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


class Run(BaseModel):
    """One generation run as the list or detail endpoint returns it."""

    # extra="allow": fields the API adds later are kept (and stored), not rejected.
    model_config = ConfigDict(extra="allow", frozen=True)

    id: str
    status: str | None = None
    spec_id: str | None = None
    spec_name: str | None = None
    spec_version: int | None = None
    dataset_id: str | None = None
    dataset_name: str | None = None
    dataset_type: str | None = None
    samples_completed: int | None = None
    samples_failed: int | None = None
    total_cost: float | None = None
    created_at: UtcDatetime | None = None
    created_by_email: str | None = None
    completed_at: UtcDatetime | None = None
    runtime_params: dict[str, Any] | None = None
    generated_files: list[GeneratedFile] | None = None


RUN_LIST = TypeAdapter(list[Run])
RUN = TypeAdapter(Run)

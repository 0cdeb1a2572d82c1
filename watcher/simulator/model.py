"""One simulated run: its fixed facts, its plan, and its state at any instant.

State is computed lazily from the clock (no background thread moves runs along), so a test
that drives the clock sees exactly the lifecycle the plan describes. The wire form follows
the API page field for field and in the same order; datetimes are rendered as Django REST
framework renders them: ISO 8601 in UTC with a ``Z``, microseconds only when non-zero.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Clock = Callable[[], float]
"""Seconds since the epoch; it drives both the lifecycle and the timestamps. Never decreasing."""

Outcome = Literal["SUCCEEDED", "FAILED", "CANCELED"]
OUTCOMES: tuple[Outcome, ...] = ("SUCCEEDED", "FAILED", "CANCELED")
STATUSES = ("PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELED")
TERMINAL = frozenset(OUTCOMES)
CANCELABLE = frozenset({"PENDING", "PROCESSING"})

LIST_FIELDS = (
    "id",
    "status",
    "spec_id",
    "spec_name",
    "spec_version",
    "dataset_id",
    "dataset_name",
    "dataset_type",
    "samples_completed",
    "samples_failed",
    "total_cost",
    "created_at",
    "created_by_email",
    "completed_at",
)
DETAIL_FIELDS = (*LIST_FIELDS, "runtime_params", "generated_files")

# Rough sizes of the output files per sample, so generated_files looks like real output.
_BYTES_PER_SAMPLE = {"jsonl": 1843, "csv": 1210}


def iso(ts: float | None) -> str | None:
    """Render epoch seconds the way the API does: ``2023-11-07T05:31:56Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _js(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


_STATUS_JSON = {status: _js(status) for status in STATUSES}


@dataclass(frozen=True, slots=True)
class RunPlan:
    """How a run will unfold: its outcome and how long each phase lasts."""

    outcome: Outcome = "SUCCEEDED"
    pending_seconds: float = 2.0
    processing_seconds: float = 10.0
    # Share of the requested samples attempted when the run ends (1.0 for a success);
    # a FAILED or CANCELED run stops part-way.
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
class RunState:
    """The mutable part of a run at one instant."""

    status: str
    samples_completed: int
    samples_failed: int
    total_cost: float | None
    completed_at: float | None
    # True when the state can no longer change as the clock moves (terminal or pinned),
    # which is what makes caching its wire form safe.
    stable: bool


@dataclass(slots=True)
class SimRun:
    """A run of the simulated world: fixed facts, plan and an optional pinned state."""

    id: str
    seq: int
    spec_id: str
    spec_name: str
    spec_version: int
    dataset_id: str | None
    dataset_name: str | None
    dataset_type: str
    created_at: float
    created_by_email: str
    runtime_params: dict[str, Any]
    plan: RunPlan
    file_ids: tuple[str, str, str]
    pinned: RunState | None = None
    _list_json: str | None = field(default=None, repr=False)
    _samples: int = field(default=0, repr=False)
    _head: str = field(default="", repr=False)
    _mid: str = field(default="", repr=False)
    _tail: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        self._samples = int(self.runtime_params["number_of_samples"])
        # The list item is rendered from three pre-encoded fragments around the fields that
        # move, so serving 10,000 runs is string formatting, not 10,000 json.dumps calls.
        self._head = f'{{"id":{_js(self.id)},"status":'
        self._mid = (
            f',"spec_id":{_js(self.spec_id)},"spec_name":{_js(self.spec_name)}'
            f',"spec_version":{_js(self.spec_version)},"dataset_id":{_js(self.dataset_id)}'
            f',"dataset_name":{_js(self.dataset_name)},"dataset_type":{_js(self.dataset_type)}'
            ',"samples_completed":'
        )
        self._tail = (
            f',"created_at":{_js(iso(self.created_at))}'
            f',"created_by_email":{_js(self.created_by_email)},"completed_at":'
        )

    @property
    def number_of_samples(self) -> int:
        """Samples requested when the run was created."""
        return self._samples

    def natural_state(self, now: float) -> RunState:
        """The state the plan gives at ``now``, ignoring any pin."""
        plan = self.plan
        start = self.created_at + plan.pending_seconds
        if now < start:
            return RunState("PENDING", 0, 0, None, None, stable=False)
        end = start + plan.processing_seconds
        if now < end:
            share = (now - start) / plan.processing_seconds * plan.end_fraction
            return self._progress("PROCESSING", share, None, stable=False)
        return self._progress(plan.outcome, plan.end_fraction, end, stable=True)

    def state(self, now: float) -> RunState:
        """The state a client sees at ``now``."""
        return self.pinned if self.pinned is not None else self.natural_state(now)

    def pin(self, status: str, now: float) -> RunState:
        """Freeze the run at ``status`` from ``now`` on; a terminal status completes it."""
        current = self.state(now)
        if status == "SUCCEEDED" and current.status != "SUCCEEDED":
            state = self._progress("SUCCEEDED", 1.0, now, stable=True)
        elif status in TERMINAL:
            completed = current.completed_at if current.status in TERMINAL else now
            cost = current.total_cost if current.total_cost is not None else 0.0
            state = RunState(
                status, current.samples_completed, current.samples_failed, cost, completed, True
            )
        else:
            state = RunState(
                status,
                current.samples_completed,
                current.samples_failed,
                current.total_cost,
                None,
                stable=True,
            )
        self.pinned = state
        self._list_json = None
        return state

    def _progress(
        self, status: str, share: float, completed_at: float | None, *, stable: bool
    ) -> RunState:
        attempted = math.floor(self._samples * share)
        failed = math.floor(attempted * self.plan.failure_rate)
        cost = round(attempted * self.plan.cost_per_sample, 4)
        return RunState(status, attempted - failed, failed, cost, completed_at, stable)

    def list_json(self, now: float) -> str:
        """The list-endpoint item as JSON text (cached once it can no longer change)."""
        cached = self._list_json
        if cached is not None:
            return cached
        st = self.state(now)
        cost = "null" if st.total_cost is None else repr(st.total_cost)
        completed = "null" if st.completed_at is None else f'"{iso(st.completed_at)}"'
        status = _STATUS_JSON.get(st.status) or _js(st.status)
        text = (
            f"{self._head}{status}{self._mid}{st.samples_completed}"
            f',"samples_failed":{st.samples_failed},"total_cost":{cost}'
            f"{self._tail}{completed}}}"
        )
        if st.stable:
            self._list_json = text
        return text

    def list_item(self, now: float) -> dict[str, Any]:
        """The list-endpoint item as a dict."""
        st = self.state(now)
        return {
            "id": self.id,
            "status": st.status,
            "spec_id": self.spec_id,
            "spec_name": self.spec_name,
            "spec_version": self.spec_version,
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "dataset_type": self.dataset_type,
            "samples_completed": st.samples_completed,
            "samples_failed": st.samples_failed,
            "total_cost": st.total_cost,
            "created_at": iso(self.created_at),
            "created_by_email": self.created_by_email,
            "completed_at": iso(st.completed_at),
        }

    def detail(self, now: float) -> dict[str, Any]:
        """The retrieve-endpoint body: the list item plus runtime_params and generated_files."""
        item = self.list_item(now)
        item["runtime_params"] = dict(self.runtime_params)
        item["generated_files"] = self.generated_files(self.state(now))
        return item

    def generated_files(self, st: RunState) -> list[dict[str, Any]]:
        """Files a run leaves behind: the full set on success, a partial file on failure."""
        done = st.samples_completed
        if st.status == "SUCCEEDED":
            return [
                self._file(
                    0, "samples.jsonl", "application/jsonl", done * _BYTES_PER_SAMPLE["jsonl"]
                ),
                self._file(1, "samples.csv", "text/csv", done * _BYTES_PER_SAMPLE["csv"]),
                self._file(2, "run_report.json", "application/json", 2048 + 16 * done),
            ]
        if st.status in TERMINAL and done > 0:
            size = done * _BYTES_PER_SAMPLE["jsonl"]
            return [self._file(0, "partial/samples.jsonl", "application/jsonl", size)]
        return []

    def _file(self, index: int, name: str, mime: str, size: int) -> dict[str, Any]:
        return {
            "id": self.file_ids[index],
            "path": f"{self.spec_name}/{self.id}/{name}",
            "file_type": mime,
            "size_bytes": size,
        }

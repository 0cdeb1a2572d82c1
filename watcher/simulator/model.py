"""One simulated generation run: its fixed facts, its plan, and its state at any instant.

The lifecycle is the one every kind shares (``lifecycle``); a run adds samples, cost and
generated files, all derived from how far its work has got. The wire form follows the API page
field for field and in the same order; datetimes are rendered as Django REST framework renders
them: ISO 8601 in UTC with a ``Z``, microseconds only when non-zero.
"""

from __future__ import annotations

import functools
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import runtime_params
from .files import FileSpec
from .lifecycle import (
    CANCELABLE,
    NEVER,
    OUTCOMES,
    STATUSES,
    TERMINAL,
    Clock,
    Job,
    Outcome,
    Phase,
    RunPlan,
    iso,
)

__all__ = [
    "CANCELABLE",
    "DETAIL_FIELDS",
    "LIST_FIELDS",
    "OUTCOMES",
    "STATUSES",
    "TERMINAL",
    "Clock",
    "Outcome",
    "RunPlan",
    "RunState",
    "SimRun",
    "iso",
]

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
_FILE_NAMESPACE = uuid.UUID("0b8e3f2a-6c1d-4e5f-8a9b-1c2d3e4f5a6b")


@functools.lru_cache(maxsize=4096)
def _js(value: object) -> str:
    # Spec names, datasets and creators repeat across thousands of runs: encode each once.
    return json.dumps(value, ensure_ascii=False)


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


@dataclass(slots=True, kw_only=True, eq=False)
class SimRun(Job):
    """A generation run of the simulated world."""

    kind = "run"

    spec_id: str
    spec_name: str
    spec_version: int
    dataset_id: str | None
    dataset_name: str | None
    dataset_type: str
    number_of_samples: int
    # The create request's options; None for runs made in bulk (every default applies).
    options: Mapping[str, Any] | None = None

    @property
    def steps(self) -> int:
        """A run's list item shows each sample attempted."""
        return self.number_of_samples

    @property
    def runtime_params(self) -> dict[str, Any]:
        """The runtime_params object the API reports (built when read: bulk runs are many)."""
        return runtime_params(self.number_of_samples, self.options)

    @property
    def file_ids(self) -> tuple[str, str, str]:
        """Stable ids of the run's output files, derived from its own id."""
        a, b, c = (str(uuid.uuid5(_FILE_NAMESPACE, f"{self.id}/{i}")) for i in range(3))
        return a, b, c

    def run_state(self, phase: Phase) -> RunState:
        """Samples, cost and completion as they stand at ``phase``."""
        attempted = math.floor(self.number_of_samples * phase.share)
        failed = math.floor(attempted * self.plan.failure_rate)
        cost = round(attempted * self.plan.cost_per_sample, 4) if phase.started else None
        return RunState(
            phase.status,
            attempted - failed,
            failed,
            cost,
            phase.completed_at,
            phase.until == NEVER,
        )

    def natural_state(self, now: float) -> RunState:
        """The state the plan gives at ``now``, ignoring any pin."""
        return self.run_state(self.natural(now))

    def state(self, now: float) -> RunState:
        """The state a client sees at ``now``."""
        return self.run_state(self.phase(now))

    def _pieces(self) -> tuple[str, str, str]:
        # The list item is rendered from three pre-encoded fragments around the fields that
        # move, so serving 100,000 runs is string formatting, not 100,000 json.dumps calls.
        # Ids are the simulator's own UUIDs: nothing in them needs escaping.
        head = f'{{"id":"{self.id}","status":'
        mid = (
            f',"spec_id":{_js(self.spec_id)},"spec_name":{_js(self.spec_name)}'
            f',"spec_version":{self.spec_version},"dataset_id":{_js(self.dataset_id)}'
            f',"dataset_name":{_js(self.dataset_name)},"dataset_type":{_js(self.dataset_type)}'
            ',"samples_completed":'
        )
        tail = (
            f',"created_at":"{iso(self.created_at)}"'
            f',"created_by_email":{_js(self.created_by_email)},"completed_at":'
        )
        return head, mid, tail

    def render_list(self, phase: Phase) -> bytes:
        """The list item's JSON in the API's field order."""
        if self._static is None:
            self._static = self._pieces()
        head, mid, tail = self._static
        st = self.run_state(phase)
        cost = "null" if st.total_cost is None else repr(st.total_cost)
        completed = "null" if st.completed_at is None else f'"{iso(st.completed_at)}"'
        return (
            f"{head}{_js(st.status)}{mid}{st.samples_completed}"
            f',"samples_failed":{st.samples_failed},"total_cost":{cost}'
            f"{tail}{completed}}}"
        ).encode()

    def list_json(self, now: float) -> str:
        """The list-endpoint item as JSON text (cached until its phase moves on)."""
        return self.list_fragment(now).decode()

    def list_item(self, now: float) -> dict[str, Any]:
        """The list-endpoint item as a dict."""
        return self._list_item(self.state(now))

    def _list_item(self, st: RunState) -> dict[str, Any]:
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

    def detail_fields(self, phase: Phase) -> dict[str, Any]:
        """The retrieve-endpoint body: the list item plus runtime_params and generated_files."""
        st = self.run_state(phase)
        item = self._list_item(st)
        item["runtime_params"] = self.runtime_params
        item["generated_files"] = self.generated_files(st)
        return item

    def generated_files(self, st: RunState) -> list[dict[str, Any]]:
        """Files a run leaves behind: the full set on success, a partial file on failure."""
        return [
            {"id": f.id, "path": f.path, "file_type": f.content_type, "size_bytes": f.size}
            for f in self.file_specs(st)
        ]

    def file_specs(self, st: RunState) -> list[FileSpec]:
        """The files of ``generated_files``, as the download endpoints serve them."""
        done = st.samples_completed
        folder = f"{self.spec_name}/{self.id}"
        if st.status == "SUCCEEDED":
            ids = self.file_ids
            return [
                FileSpec(
                    ids[0],
                    f"{folder}/samples.jsonl",
                    "application/jsonl",
                    done * _BYTES_PER_SAMPLE["jsonl"],
                    ids[0],
                ),
                FileSpec(
                    ids[1],
                    f"{folder}/samples.csv",
                    "text/csv",
                    done * _BYTES_PER_SAMPLE["csv"],
                    ids[1],
                ),
                FileSpec(
                    ids[2],
                    f"{folder}/run_report.json",
                    "application/json",
                    2048 + 16 * done,
                    ids[2],
                ),
            ]
        if st.status in TERMINAL and done > 0:
            first = self.file_ids[0]
            size = done * _BYTES_PER_SAMPLE["jsonl"]
            return [
                FileSpec(first, f"{folder}/partial/samples.jsonl", "application/jsonl", size, first)
            ]
        return []

    def files(self, now: float) -> list[FileSpec]:
        """What the download endpoints serve at ``now``."""
        return self.file_specs(self.state(now))

    def archive_extras(self, now: float) -> dict[str, bytes]:
        """The ZIP's ``top_level.metadata``: the run's summary, as the SDK documents it."""
        st = self.state(now)
        summary = {
            "run_id": self.id,
            "spec_name": self.spec_name,
            "status": st.status,
            "samples_completed": st.samples_completed,
            "samples_failed": st.samples_failed,
            "files": [f.path for f in self.file_specs(st)],
        }
        return {"top_level.metadata": json.dumps(summary, indent=2).encode()}

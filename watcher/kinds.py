"""The job kinds, one entry each: where the API serves a kind, its model, and its words.

Adding a kind is one entry here (and its model in `watcher.models`): the API client, fetch,
the state file and the templates read this table. The paths are the API's (and the official
SDK's): red-team status comes from its own ``/status/`` path; evaluations have no list.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from pydantic import TypeAdapter

from watcher.models import AnonymizationRun, Evaluation, Job, RedTeamRun, Run
from watcher.run_refs import KINDS, split_key

__all__ = ["KIND_TABLE", "LISTED_KINDS", "Kind", "kind_info", "load_job"]

_API = "/api/dataframer/"


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of job: its name, model, the API paths that serve it, and its words."""

    name: str
    model: type[Job]
    collection: str  # the API's path of the kind's collection
    detail_suffix: str  # after the id: "" for the detail itself, "status/" for red-team runs
    listed: bool  # whether the collection answers GET with every job (discovery)
    noun: str  # in a sentence: "Dataframer red-team run FAILED"
    # Whether it reports progress while PROCESSING (samples_completed): only such a kind can
    # be called stuck for making no progress (`alerts.stuck.no_progress_after`).
    progress: bool
    one: TypeAdapter[Job]
    many: TypeAdapter[list[Job]]
    # Whether its jobs produce files (`generated_files`), each served through a presigned URL
    # its download endpoint gives (`file_path`): what a `download` action saves.
    files: bool = False

    def detail_path(self, job_id: str) -> str:
        """Where one job's status is read."""
        return f"{self.collection}{quote(job_id, safe='')}/{self.detail_suffix}"

    def file_path(self, job_id: str, file_id: str) -> str:
        """Where one of a job's files is asked for (the answer holds its presigned URL)."""
        return (
            f"{self.collection}{quote(job_id, safe='')}/files/{quote(file_id, safe='')}/download/"
        )

    @property
    def list_path(self) -> str:
        """Where every job of the kind is listed (only for a `listed` kind)."""
        return self.collection


def _kind(
    name: str,
    model: type[Job],
    path: str,
    *,
    suffix: str = "",
    listed: bool,
    noun: str,
    progress: bool = False,
    files: bool = False,
) -> Kind:
    return Kind(
        name,
        model,
        _API + path,
        suffix,
        listed,
        noun,
        progress,
        TypeAdapter(model),
        TypeAdapter(list[model]),  # type: ignore[valid-type]
        files,
    )


KIND_TABLE: dict[str, Kind] = {
    k.name: k
    for k in (
        _kind("run", Run, "runs/", listed=True, noun="run", progress=True, files=True),
        _kind("evaluation", Evaluation, "evaluations/", listed=False, noun="evaluation"),
        _kind(
            "red_team",
            RedTeamRun,
            "red-team-runs/",
            suffix="status/",
            listed=True,
            noun="red-team run",
        ),
        _kind(
            "anonymization",
            AnonymizationRun,
            "anonymization-runs/",
            listed=True,
            noun="anonymization",
            files=True,  # its `anonymized_files` (`watcher.models.AnonymizationRun`)
        ),
    )
}
assert tuple(KIND_TABLE) == KINDS, "the table and run_refs.KINDS name the same kinds, in order"

LISTED_KINDS: tuple[str, ...] = tuple(name for name, k in KIND_TABLE.items() if k.listed)


def kind_info(name: str) -> Kind:
    """The table's entry of a kind (a KeyError for a name that is none: a bug, not input)."""
    return KIND_TABLE[name]


def load_job(key: str, content: str | bytes) -> Job:
    """A job stored under its canonical key, parsed with its kind's model."""
    return KIND_TABLE[split_key(key).kind].one.validate_json(content)

"""discover: which jobs a discovery pass tracks (`track.kinds`, `track.filter`); pure.

A job a list shows that fails the filter is neither tracked nor announced. Runs tracked by id
(`track`, `track.runs`) are never filtered, and neither is a job already watched: a filter
changed by a reload applies to the jobs discovered after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from watcher.models import Job
from watcher.route import globbed

__all__ = ["DiscoveryFilter"]


@dataclass(frozen=True, slots=True)
class DiscoveryFilter:
    """Globs a discovered job must pass, each that is set: on its spec name, its creator's
    email (ignoring case) and its dataset name; None lets every job through."""

    specs: Sequence[str] | None = None
    creators: Sequence[str] | None = None
    datasets: Sequence[str] | None = None

    @property
    def active(self) -> bool:
        """Whether it filters anything at all."""
        return any(f is not None for f in (self.specs, self.creators, self.datasets))

    def admits(self, job: Job) -> bool:
        """Whether discovery tracks `job` (a job without the field a glob reads fails it)."""
        return (
            globbed(job.spec_name, self.specs)
            and globbed(job.created_by_email, self.creators, fold=True)
            and globbed(job.dataset_name, self.datasets)
        )

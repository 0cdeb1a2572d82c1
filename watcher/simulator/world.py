"""What the simulated world holds, and how it is read and changed.

``World`` keeps the jobs of every kind, the faults, the counters and the storage under one
lock and one clock; ``engine.Simulator`` adds the ways to fill it. Every kind of job lives in
its own collection (an evaluation id is never found among runs) and follows the same
lifecycle; the methods that read or change a job take its ``kind`` (default ``"run"``).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, cast

from .catalog import PlanDefaults
from .collection import Collection
from .faults import FaultInjector
from .files import URL_TTL_SECONDS, FileSpec
from .kinds import SimEvaluation, SimRedTeamRun
from .lifecycle import CANCELABLE, KINDS, Clock, Job, Kind, iso
from .messages import SimResponse
from .model import SimRun
from .stats import RequestStats
from .storage import Storage


class RunNotFound(LookupError):
    """No job of this kind has this id (never created, or deleted), or no such file."""


class NotCancelable(Exception):
    """The run is no longer PENDING or PROCESSING."""

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(f"Cannot cancel run {run_id}: its status is {status}.")
        self.status = status


class NotSucceeded(Exception):
    """What was asked needs a job that SUCCEEDED (or at least left files); this one has not.

    ``message`` says what was needed, as the API's 400 says it; ``status`` is the job's.
    """

    def __init__(self, message: str, status: str) -> None:
        super().__init__(f"{message} (status is {status}).")
        self.message, self.status = message, status


class ManualClock:
    """A clock tests move by hand: ``clock.advance(30)``. Starts at a fixed instant."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move forward (never back: cached list bodies rely on it); returns the new time."""
        if seconds < 0:
            raise ValueError("a clock never goes back")
        with self._lock:
            self._now += seconds
            return self._now


class World:
    """Jobs advancing on ``clock``, the API key, the faults, the counters and the storage.

    ``url_ttl_seconds`` is how long a presigned file URL stays valid; ``archive_seconds`` how
    long a download-all ZIP takes to prepare (202 until then; 0 answers 200 at once).
    """

    def __init__(
        self,
        *,
        api_key: str = "sim-key",
        clock: Clock = time.time,
        seed: int | None = None,
        defaults: PlanDefaults | None = None,
        user_email: str = "api-user@example.com",
        url_ttl_seconds: float = URL_TTL_SECONDS,
        archive_seconds: float = 0.0,
    ) -> None:
        self.api_key = api_key
        self.clock = clock
        self.defaults = defaults or PlanDefaults()
        self.user_email = user_email
        self.faults = FaultInjector()
        self.stats = RequestStats()
        self.storage = Storage(url_ttl=url_ttl_seconds, archive_seconds=archive_seconds)
        self._rng = random.Random(seed)
        self._lock = threading.RLock()
        self._kinds: dict[str, Collection[Job]] = {kind: Collection() for kind in KINDS}
        self._seq = 0

    # -- reading -------------------------------------------------------------------------

    def _collection(self, kind: str) -> Collection[Job]:
        try:
            return self._kinds[kind]
        except KeyError:
            raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}") from None

    def job(self, job_id: str, kind: Kind = "run") -> Job:
        """The job of ``kind`` with this id; RunNotFound if there is none."""
        with self._lock:
            job = self._collection(kind).get(job_id)
            if job is None:
                raise RunNotFound(job_id)
            return job

    def get(self, run_id: str) -> SimRun:
        """The run with this id; RunNotFound if there is none."""
        run = self.job(run_id, "run")
        assert isinstance(run, SimRun)
        return run

    def jobs(self, kind: Kind = "run") -> list[Job]:
        """Every job of ``kind``, newest first (by created_at, then creation order)."""
        with self._lock:
            return self._collection(kind).ordered()

    def runs(self) -> list[SimRun]:
        """Every run, newest first (by created_at, then creation order)."""
        with self._lock:
            return cast(list[SimRun], self._kinds["run"].ordered())  # that collection's kind

    def list_body(self, kind: Kind = "run") -> tuple[bytes, ...]:
        """The list endpoint's body, newest first, as the parts it is sent in (cached)."""
        with self._lock:
            return self._collection(kind).body(self.clock())

    def list_json(self, kind: Kind = "run") -> bytes:
        """The list endpoint's body, newest first, in one piece."""
        return b"".join(self.list_body(kind))

    def red_team_runs_json(self, spec_id: str) -> bytes:
        """The red-team list filtered by spec (its ``spec_id`` query parameter)."""
        with self._lock:
            return self._kinds["red_team"].filtered_body(
                self.clock(),
                lambda job: isinstance(job, SimRedTeamRun) and job.red_team_spec_id == spec_id,
            )

    def evaluations_of(self, run_id: str) -> list[dict[str, Any]]:
        """The evaluations of one run, newest first; RunNotFound if the run is unknown."""
        with self._lock:
            self.get(run_id)
            now = self.clock()
            return [
                job.list_item(now)
                for job in self._kinds["evaluation"].ordered()
                if isinstance(job, SimEvaluation) and job.run_id == run_id
            ]

    def detail(self, job_id: str, kind: Kind = "run") -> dict[str, Any]:
        """The retrieve endpoint's body for one job."""
        with self._lock:
            return self.job(job_id, kind).detail(self.clock())

    def status(self, job_id: str, kind: Kind = "run") -> str:
        """The status a client would read now."""
        with self._lock:
            return self.job(job_id, kind).status(self.clock())

    def dump(self, kind: Kind = "run") -> list[dict[str, Any]]:
        """Every job of ``kind`` with its internal plan, newest first (tests, debugging)."""
        with self._lock:
            now = self.clock()
            out = []
            for job in self._collection(kind).ordered():
                item = job.detail(now)
                item["plan"] = job.plan.to_json()
                item["pinned"] = job.pinned is not None
                out.append(item)
            return out

    # -- changing ------------------------------------------------------------------------

    def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a PENDING or PROCESSING run (NotCancelable otherwise); returns its detail."""
        with self._lock:
            run, now = self.get(run_id), self.clock()
            current = run.status(now)
            if current not in CANCELABLE:
                raise NotCancelable(run_id, current)
            return self.force_status(run_id, "CANCELED")

    def force_status(self, job_id: str, status: str, kind: Kind = "run") -> dict[str, Any]:
        """Pin a job at any status string, known or not; a terminal one completes it."""
        with self._lock:
            job, now = self.job(job_id, kind), self.clock()
            job.pin(status, now)
            self._kinds[kind].changed(job)
            return job.detail(now)

    def delete(self, job_id: str, kind: Kind = "run") -> None:
        """Remove a job; RunNotFound if there is none."""
        with self._lock:
            if self._collection(kind).remove(job_id) is None:
                raise RunNotFound(job_id)
            self.storage.forget(kind, job_id)

    def reset(self, *, runs: bool = False, faults: bool = False) -> None:
        """Clear the request counters, and optionally every job (of every kind) and fault."""
        self.stats.reset()
        if faults:
            self.faults.clear()
        if runs:
            with self._lock:
                for collection in self._kinds.values():
                    collection.clear()
                self.storage.clear()

    def now_iso(self) -> str:
        """The simulator's current time, as the API would render it."""
        return iso(self.clock()) or ""

    # -- files ---------------------------------------------------------------------------

    def file_link(self, kind: Kind, job_id: str, file_id: str, base: str) -> tuple[FileSpec, str]:
        """A job's file and a presigned URL to it under ``base`` (the simulator's own URL).

        RunNotFound for an unknown job or file; NotSucceeded for an anonymization run that has
        not SUCCEEDED (its files exist only then, and the API says so).
        """
        with self._lock:
            job, now = self.job(job_id, kind), self.clock()
            if kind == "anonymization" and job.status(now) != "SUCCEEDED":
                raise NotSucceeded(
                    "The anonymization run must be in SUCCEEDED status", job.status(now)
                )
            found = self.storage.link(job, file_id, base, now)
            if found is None:
                raise RunNotFound(file_id)
            return found

    def archive_link(self, kind: Kind, job_id: str, base: str) -> tuple[str, int] | None:
        """(URL, size) of a job's ZIP of every file, None while it is prepared.

        NotSucceeded when the job has no files to put in one.
        """
        with self._lock:
            job, now = self.job(job_id, kind), self.clock()
            if not job.files(now):
                needs = (
                    "The anonymization run must be in SUCCEEDED status"
                    if kind == "anonymization"
                    else "The run has no generated files yet"
                )
                raise NotSucceeded(needs, job.status(now))
            return self.storage.archive_link(job, base, now)

    def serve_file(self, path: str) -> SimResponse:
        """The storage's answer to a request that follows a presigned URL."""
        with self._lock:
            return self.storage.serve(path, self.clock(), self._find)

    def _find(self, kind: str, job_id: str) -> Job | None:
        collection = self._kinds.get(kind)
        return None if collection is None else collection.get(job_id)

    def expire_file_urls(self) -> int:
        """End every presigned URL handed out so far; returns how many there were."""
        with self._lock:
            return self.storage.signer.expire_all()

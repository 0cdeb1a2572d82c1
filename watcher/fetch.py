"""fetch: the stage that turns one tick's requests into an Observation.

Discovery reads each discovered kind's list once per tick; a few explicit runs are read one
by one (each kind from its own path, `watcher.kinds`); a run that just finished is read in
detail once (enrich), and so is a run that looks stuck, before it is called stuck (reread).
The client itself lives in watcher.api.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

import structlog

from watcher.api import DataframerClient
from watcher.errors import (
    ApiError,
    NotFound,
    RateLimited,
    Unauthorized,
)
from watcher.events import Observation, Snapshot, Source
from watcher.kinds import LISTED_KINDS, kind_info
from watcher.models import Job, is_terminal
from watcher.run_refs import KINDS, kind_of

__all__ = [
    "LIST_THRESHOLD",
    "FetchReport",
    "enrich",
    "is_active",
    "observe",
    "reread",
]

log = structlog.get_logger("watcher.fetch")

# Above this many active explicit runs, one list request is cheaper than one request per run.
LIST_THRESHOLD = 10


@dataclass
class FetchReport:
    """What one tick's fetch saw, and what went wrong with single runs (contained, not fatal)."""

    observation: Observation
    requests: int = 0
    run_errors: dict[str, ApiError] = field(default_factory=dict)
    # The runs this tick read one by one: their observation already is a fresh detail read.
    detailed: frozenset[str] = frozenset()


def is_active(snapshot: Snapshot) -> bool:
    """Still worth polling: watched, not finished, not gone."""
    return not snapshot.gone and not snapshot.muted and not is_terminal(snapshot.status)


async def observe(
    client: DataframerClient,
    snapshots: Mapping[str, Snapshot],
    *,
    track_all: bool,
    baseline: bool,
    kinds: Collection[str] = ("run",),
    pending_baselines: Collection[str] | None = None,
    admit: Callable[[Job], bool] | None = None,
) -> FetchReport:
    """Fetch what this tick needs: per kind the list (discovery or many runs), then single runs.

    With `track_all`, each listed kind in `kinds` is discovered; its first pass is a silent
    baseline when `baseline` is set (every discovered kind) or, given `pending_baselines`,
    for the kinds named there. `admit` (`track.filter`) decides which new jobs of a list get
    tracked; one already known is always followed. A run missing from the list is confirmed
    with a detail read: only a 404 marks it gone, so a list that comes back wrongly empty never
    invents a vanished run. Unauthorized and a failed list read fail the tick, and so do single
    reads that all failed (without a list, that is the API being down); an error on some runs
    is contained in the report.
    """
    before = client.requests
    discovered = [k for k in LISTED_KINDS if k in kinds] if track_all else []
    if pending_baselines is None:
        silent = frozenset(discovered) if baseline else frozenset()
    else:
        silent = frozenset(k for k in discovered if k in pending_baselines)
    explicit: dict[str, list[str]] = {}
    active: dict[str, list[str]] = {}
    for s in snapshots.values():
        if is_active(s):
            active.setdefault(kind_of(s.run_id), []).append(s.run_id)
            if s.source is Source.EXPLICIT:
                explicit.setdefault(kind_of(s.run_id), []).append(s.run_id)
    runs: list[Job] = []
    to_read: list[str] = []
    listed_any = False
    for kind in KINDS:
        mine = explicit.get(kind, [])
        discover = kind in discovered
        if not (discover or (kind in LISTED_KINDS and len(mine) > LIST_THRESHOLD)):
            to_read += mine
            continue
        listed_any = True
        listed = await client.list_jobs(kind, strict=kind in silent)
        listed_refs = {run.ref for run in listed}
        if discover:
            runs += [run for run in listed if admit is None or run.ref in snapshots or admit(run)]
            candidates: Iterable[str] = active.get(kind, [])
        else:
            wanted = set(mine)
            runs += [run for run in listed if run.ref in wanted]
            candidates = mine
        to_read += [ref for ref in candidates if ref not in listed_refs]
    read, missing, errors = await _read_each(client, to_read)
    if not listed_any and errors and len(errors) == len(to_read):
        # Every request of the tick failed: the API is down, not one run. Fail the tick so the
        # daemon backs off (and honours a Retry-After) instead of polling on at full pace.
        raise _most_telling(errors.values())
    return FetchReport(
        observation=Observation(
            runs=tuple(runs + read),
            missing=frozenset(missing),
            baseline=bool(silent),
            baseline_kinds=silent,
        ),
        requests=client.requests - before,
        run_errors=errors,
        detailed=frozenset(run.ref for run in read),
    )


def _most_telling(errors: Iterable[ApiError]) -> ApiError:
    """The error a failed tick reports: a rate limit first (the longest Retry-After wins)."""
    ordered = list(errors)
    limited = [e for e in ordered if isinstance(e, RateLimited)]
    if limited:
        return max(limited, key=lambda e: e.retry_after or 0.0)
    return ordered[0]


async def _read_each(
    client: DataframerClient, run_ids: list[str]
) -> tuple[list[Job], list[str], dict[str, ApiError]]:
    results = await asyncio.gather(
        *(client.get_job(run_id) for run_id in run_ids), return_exceptions=True
    )
    runs: list[Job] = []
    missing: list[str] = []
    errors: dict[str, ApiError] = {}
    for run_id, result in zip(run_ids, results, strict=True):
        if isinstance(result, Job):
            runs.append(result)
        elif isinstance(result, NotFound):
            missing.append(run_id)
        elif isinstance(result, Unauthorized):
            raise result
        elif isinstance(result, ApiError):
            errors[run_id] = result
        else:
            raise result
    return runs, missing, errors


async def enrich(client: DataframerClient, runs: Iterable[Job]) -> dict[str, Job]:
    """Detail reads for runs that just finished and came from the list (no files in it);
    evaluations are only ever read in detail, so never twice.

    A failed read is logged and skipped: the alert goes out with what the list said.
    """
    wanted = [run.ref for run in runs if run.generated_files is None and kind_info(run.kind).listed]
    results = await asyncio.gather(*(client.get_job(r) for r in wanted), return_exceptions=True)
    detailed: dict[str, Job] = {}
    for run_id, result in zip(wanted, results, strict=True):
        if isinstance(result, Job):
            detailed[run_id] = result
        elif isinstance(result, Exception):
            log.warning("enrich_failed", run_id=run_id, error=str(result))
        else:
            raise result
    return detailed


async def reread(
    client: DataframerClient, run_ids: Iterable[str]
) -> tuple[dict[str, Job], dict[str, ApiError]]:
    """Detail reads of runs that look stuck: the runs read, and the errors of the others.

    Every failure is contained (a 404, a refused key, the API down): the caller postpones its
    decision about that run to a later tick, and the tick goes on.
    """
    wanted = list(dict.fromkeys(run_ids))
    results = await asyncio.gather(*(client.get_job(r) for r in wanted), return_exceptions=True)
    runs: dict[str, Job] = {}
    errors: dict[str, ApiError] = {}
    for run_id, result in zip(wanted, results, strict=True):
        if isinstance(result, Job):
            runs[run_id] = result
        elif isinstance(result, ApiError):
            errors[run_id] = result
        else:
            raise result
    return runs, errors

"""fetch: the stage that turns one tick's requests into an Observation.

Discovery reads each discovered kind's list (`watcher.kinds`) as a stream (`watcher.listread`),
looks at each item cheaply and parses fully only what is new or changed (`watcher.triage`),
and stops once it has passed the watermark and the active jobs it wants (`watcher.plan.cut`),
closing the connection; active jobs past that point are read by id, each kind from its own
path. Explicit jobs of a listed kind are read through its list or one by one, whichever
measured cheaper (`watcher.plan.choose`); evaluations have no list and are always read by id.
A job that just finished is read in detail once (enrich), and so is one that looks stuck,
before it is called stuck (reread). The client itself lives in watcher.api.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from watcher.api import DataframerClient
from watcher.clock import utcnow
from watcher.errors import (
    ApiError,
    BadResponse,
    NotFound,
    RateLimited,
    Unauthorized,
)
from watcher.events import Observation, Snapshot, Source
from watcher.kinds import LISTED_KINDS, Kind, kind_info
from watcher.models import Job, is_terminal
from watcher.plan import LIST_THRESHOLD, Costs, Plan, choose, cut
from watcher.run_refs import KINDS, RunRef, kind_of
from watcher.triage import PROGRESS_EVERY, ListMemory, Scan, progress_waits, scan

__all__ = [
    "LIST_THRESHOLD",
    "FetchReport",
    "Reading",
    "enrich",
    "is_active",
    "observe",
    "reread",
]

log = structlog.get_logger("watcher.fetch")

# No run is created after this: the watermark of explicit mode, where new runs do not matter.
_FUTURE = datetime.max.replace(tzinfo=UTC)


@dataclass
class Reading:
    """What fetch keeps across ticks, per listed kind: the list as last recorded and the
    measured costs of reading it. The pipeline owns one and commits a tick's scans to it
    once the tick is recorded."""

    memories: dict[str, ListMemory] = field(default_factory=dict)
    costs: dict[str, Costs] = field(default_factory=dict)
    concurrency: int = 8

    def memory_of(self, kind: str) -> ListMemory:
        """The list memory of one kind (empty until its first read)."""
        return self.memories.setdefault(kind, ListMemory())

    def costs_of(self, kind: str) -> Costs:
        """The measured costs of one kind's reads (priors until measured)."""
        return self.costs.setdefault(kind, Costs.fresh())


@dataclass
class FetchReport:
    """What one tick's fetch saw, and what went wrong with single runs (contained, not fatal)."""

    observation: Observation
    requests: int = 0
    run_errors: dict[str, ApiError] = field(default_factory=dict)
    # The runs this tick read one by one: their observation already is a fresh detail read.
    detailed: frozenset[str] = frozenset()
    plans: dict[str, Plan] = field(default_factory=dict)  # per kind: how explicit jobs were read
    scans: dict[str, Scan[Job]] = field(default_factory=dict)  # per kind: its list read
    bytes_read: int = 0
    seen: frozenset[str] = frozenset()  # every job the API showed this tick, changed or not

    @property
    def plan(self) -> Plan | None:
        """How explicit generation runs were read (else another kind's choice; None: none)."""
        return self.plans.get("run", next(iter(self.plans.values()), None))


def is_active(snapshot: Snapshot) -> bool:
    """Still worth polling: watched, not finished, not gone."""
    return not snapshot.gone and not snapshot.muted and not is_terminal(snapshot.status)


def _always(_: Snapshot) -> bool:
    return True


async def observe(
    client: DataframerClient,
    snapshots: Mapping[str, Snapshot],
    *,
    track_all: bool,
    baseline: bool,
    kinds: Collection[str] = ("run",),
    pending_baselines: Collection[str] | None = None,
    admit: Callable[[Job], bool] | None = None,
    reading: Reading | None = None,
    now: datetime | None = None,
    hold: Callable[[Snapshot], bool] = _always,
    on_new: Callable[[list[Job]], None] | None = None,
    live_ids: Iterable[str] | None = None,
    progress_every: float = PROGRESS_EVERY,
) -> FetchReport:
    """Fetch what this tick needs: per kind its list (discovery, or explicit jobs when that is
    cheaper), then single jobs.

    With `track_all`, each listed kind in `kinds` is discovered; its first pass is a silent
    baseline when `baseline` is set (every discovered kind) or, given `pending_baselines`,
    for the kinds named there, and a silent kind's new jobs go to `on_new` in batches.
    `admit` (`track.filter`) decides which new jobs of a list get tracked; one already known
    is always followed. `hold` says whether a job's progress-only change may wait (`triage`);
    `live_ids`, when given, are the only jobs that may be active (the store keeps them:
    100,000 runs are not walked per tick); progress alone waits `progress_every` seconds.

    A job missing from the part of the list read is confirmed with a detail read: only a 404
    marks it gone, so a list that comes back wrongly empty never invents a vanished run.
    Unauthorized and a failed list read fail the tick, and so do single reads that all
    failed (without a list, that is the API being down); an error on some jobs is contained.
    """
    reading = Reading() if reading is None else reading
    now = utcnow() if now is None else now
    before_requests, before_bytes = client.requests, client.bytes_read
    discovered = [k for k in LISTED_KINDS if k in kinds] if track_all else []
    if pending_baselines is None:
        silent = frozenset(discovered) if baseline else frozenset()
    else:
        silent = frozenset(k for k in discovered if k in pending_baselines)
    active: dict[str, list[Snapshot]] = {}
    explicit: dict[str, list[Snapshot]] = {}
    for run_id in snapshots.keys() if live_ids is None else live_ids:
        if (s := snapshots.get(run_id)) is not None and is_active(s):
            of = kind_of(run_id)
            active.setdefault(of, []).append(s)
            if s.source is Source.EXPLICIT:
                explicit.setdefault(of, []).append(s)
    scans: dict[str, Scan[Job]] = {}
    plans: dict[str, Plan] = {}
    to_read: list[str] = []
    for name in KINDS:
        kind, mine = kind_info(name), explicit.get(name, [])
        memory, costs = reading.memory_of(name), reading.costs_of(name)
        if name in discovered:
            wanted = active.get(name, [])
            where = cut(_placed(wanted), memory.watermark, memory.positions, costs)
        elif mine and kind.listed:
            wanted = mine
            where = cut(_placed(mine), _FUTURE, memory.positions, costs)
            reach = max((memory.positions.get(s.run_id, -1) for s in mine), default=-1)
            plans[name] = plan = choose(
                len(mine), reach + 1 if reach >= 0 else None, costs, concurrency=reading.concurrency
            )
            log.debug(
                "fetch_plan",
                kind=name,
                plan=str(plan),
                runs=len(mine),
                cost_get=costs.per_get,
                cost_item=costs.per_item,
                list_items=costs.list_items,
            )
            if plan is not Plan.LIST:
                to_read += [s.run_id for s in mine]
                continue
        else:
            to_read += [s.run_id for s in mine]
            continue
        discover = name in discovered
        result = await _scan_list(
            client,
            kind,
            snapshots,
            memory,
            costs,
            now=now,
            before=where.before,
            strict=name in silent,
            hold=hold,
            on_new=on_new if name in silent else None,
            known_only=not discover,
            admit=admit if discover else None,
            progress_every=progress_every,
        )
        scans[name] = result
        to_read += [s.run_id for s in wanted if s.run_id not in result.seen]
    started = time.perf_counter()
    read, missing, errors = await _read_each(client, to_read)
    if to_read:
        per_get = (time.perf_counter() - started) / -(-len(to_read) // reading.concurrency)
        for name in {kind_of(run_id) for run_id in to_read}:
            reading.costs_of(name).get.add(per_get)
    if not scans and errors and len(errors) == len(to_read):
        # Every request of the tick failed: the API is down, not one run. Fail the tick so the
        # daemon backs off (and honours a Retry-After) instead of polling on at full pace.
        raise _most_telling(errors.values())
    listed = [run for result in scans.values() for run in result.runs]
    shown = frozenset(run.ref for run in read)
    # Progress alone waits here too (`triage`): explicit jobs read one by one every tick.
    read = [
        run
        for run in read
        if (prev := snapshots.get(run.ref)) is None
        or not progress_waits(prev, run, now, hold, progress_every)
    ]
    read_refs = frozenset(run.ref for run in read)
    return FetchReport(
        observation=Observation(
            runs=tuple(listed + read),
            missing=frozenset(missing),
            baseline=bool(silent),
            baseline_kinds=silent,
        ),
        requests=client.requests - before_requests,
        run_errors=errors,
        detailed=read_refs,
        plans=plans,
        scans=scans,
        seen=shown.union(*(result.seen for result in scans.values())),
        bytes_read=client.bytes_read - before_bytes,
    )


def _key_maker(kind: str) -> Callable[[str], str]:
    """An item's API id to its reference, per item of a list: a run's is its id as it is."""
    prefix = RunRef(kind, "").key
    return str if not prefix else prefix.__add__


def _placed(snapshots: Sequence[Snapshot]) -> list[tuple[str, datetime | None]]:
    """Where each wanted job sits in its list: its id and creation time."""
    return [(s.run_id, None if s.run is None else s.run.created_at) for s in snapshots]


async def _scan_list(
    client: DataframerClient,
    kind: Kind,
    snapshots: Mapping[str, Snapshot],
    memory: ListMemory,
    costs: Costs,
    *,
    now: datetime,
    before: datetime | None,
    strict: bool,
    hold: Callable[[Snapshot], bool],
    on_new: Callable[[list[Job]], None] | None,
    known_only: bool,
    admit: Callable[[Job], bool] | None,
    progress_every: float,
) -> Scan[Job]:
    """One streamed read of a kind's list, its cost folded into the kind's measured costs."""
    what = kind.noun
    started = time.perf_counter()
    async with client.stream_items(kind.list_path, f"the {what} list") as items:
        result = await scan(
            items,
            snapshots,
            memory,
            now=now,
            before=before,
            parse=lambda raw: client.parse_item(raw, kind.one, strict=strict, what=what),
            hold=hold,
            on_new=on_new,
            known_only=known_only,
            key=_key_maker(kind.name),
            admit=admit,
            progress_every=progress_every,
        )
    if result.items and result.malformed == result.items and result.complete:
        # Not one usable item: a broken answer (wrong types throughout), not an empty
        # company. Reading it as "no runs" would only cost a detail read per active run.
        raise BadResponse(f"every item of the {what} list from {client.base_url} is malformed")
    if result.items and on_new is None:  # a baseline's items cost their recording too
        costs.item.add((time.perf_counter() - started) / result.items)
    if result.complete:
        costs.list_items = result.items
    log.debug(
        "list_read",
        kind=kind.name,
        items=result.items,
        parsed=result.parsed,
        held=result.held,
        complete=result.complete,
        stopped_before=None if before is None else before.isoformat(),
    )
    return result


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
    read, failed = await _details(client, run_ids)
    missing: list[str] = []
    errors: dict[str, ApiError] = {}
    for run_id, error in failed.items():
        if isinstance(error, NotFound):
            missing.append(run_id)
        elif isinstance(error, Unauthorized):
            raise error
        else:
            errors[run_id] = error
    return list(read.values()), missing, errors


async def _details(
    client: DataframerClient, run_ids: Iterable[str]
) -> tuple[dict[str, Job], dict[str, ApiError]]:
    """Detail reads of `run_ids` at once: the jobs read, and the API errors of the others (in
    order); any other exception is a bug and propagates."""
    wanted = list(run_ids)
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
    return await _details(client, dict.fromkeys(run_ids))

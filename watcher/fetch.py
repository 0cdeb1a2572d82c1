"""fetch: the stage that turns one tick's requests into an Observation.

Discovery reads the list as a stream (`watcher.listread`), looks at each item cheaply and
parses fully only what is new or changed (`watcher.triage`), and stops once it has passed the
watermark and the active runs it wants (`watcher.plan.cut`), closing the connection; active
runs past that point are read by id. Explicit runs are read through the list or one by one,
whichever measured cheaper (`watcher.plan.choose`). A run that just finished is read in
detail once (enrich), and so is a run that looks stuck, before it is called stuck (reread).
The client itself lives in watcher.api.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from watcher.api import RUNS_PATH, DataframerClient
from watcher.clock import utcnow
from watcher.errors import (
    ApiError,
    BadResponse,
    NotFound,
    RateLimited,
    Unauthorized,
)
from watcher.events import Observation, Snapshot, Source
from watcher.models import RUN, Run, is_terminal
from watcher.plan import LIST_THRESHOLD, Costs, Plan, choose, cut
from watcher.triage import ListMemory, Scan, progress_waits, scan

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
    """What fetch keeps across ticks: the list as last recorded and the measured costs.

    The pipeline owns one and commits a tick's scan to it once the tick is recorded.
    """

    memory: ListMemory = field(default_factory=ListMemory)
    costs: Costs = field(default_factory=Costs.fresh)
    concurrency: int = 8


@dataclass
class FetchReport:
    """What one tick's fetch saw, and what went wrong with single runs (contained, not fatal)."""

    observation: Observation
    requests: int = 0
    run_errors: dict[str, ApiError] = field(default_factory=dict)
    # The runs this tick read one by one: their observation already is a fresh detail read.
    detailed: frozenset[str] = frozenset()
    plan: Plan | None = None  # how explicit runs were read (None: discovery, or nothing to read)
    scan: Scan[Run] | None = None  # the list read, when there was one
    bytes_read: int = 0
    seen: frozenset[str] = frozenset()  # every run the API showed this tick, changed or not


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
    reading: Reading | None = None,
    now: datetime | None = None,
    hold: Callable[[Snapshot], bool] = _always,
    on_new: Callable[[list[Run]], None] | None = None,
    live_ids: Iterable[str] | None = None,
) -> FetchReport:
    """Fetch what this tick needs: the list (discovery, or explicit runs when cheaper), then
    single runs. `hold` says whether a run's progress-only change may wait (`triage`);
    `on_new` takes the baseline's new runs in batches; `live_ids`, when given, are the only
    runs that may be active (the store keeps them: 100,000 runs are not walked per tick).

    A run missing from the part of the list read is confirmed with a detail read: only a 404
    marks it gone, so a list that comes back wrongly empty never invents a vanished run.
    Unauthorized and a failed list read fail the tick, and so do single reads that all
    failed (without a list, that is the API being down); an error on some runs is contained.
    """
    reading = Reading() if reading is None else reading
    now = utcnow() if now is None else now
    before_requests, before_bytes = client.requests, client.bytes_read
    live = snapshots.keys() if live_ids is None else live_ids
    active = [s for r in live if (s := snapshots.get(r)) is not None and is_active(s)]
    explicit = [s for s in active if s.source is Source.EXPLICIT]
    memory, costs = reading.memory, reading.costs
    wanted = active if track_all else explicit
    placed = [(s.run_id, None if s.run is None else s.run.created_at) for s in wanted]
    plan: Plan | None = None
    if track_all:
        listed_any = True
        where = cut(placed, memory.watermark, memory.positions, costs)
    elif not explicit:
        listed_any, where = False, cut([], None, {}, costs)  # nothing to read, nothing to choose
    else:
        where = cut(placed, _FUTURE, memory.positions, costs)
        reach = max((memory.positions.get(r, -1) for r, _ in placed), default=-1)
        plan = choose(
            len(explicit), reach + 1 if reach >= 0 else None, costs, concurrency=reading.concurrency
        )
        listed_any = plan is Plan.LIST
        log.debug(
            "fetch_plan",
            plan=str(plan),
            runs=len(explicit),
            cost_get=costs.per_get,
            cost_item=costs.per_item,
            list_items=costs.list_items,
        )
    result: Scan[Run] | None = None
    to_read = [s.run_id for s in explicit]
    if listed_any:
        result = await _scan_list(
            client,
            snapshots,
            reading,
            now=now,
            before=where.before,
            strict=baseline and track_all,
            hold=hold,
            on_new=on_new if track_all else None,
            known_only=not track_all,
        )
        to_read = [s.run_id for s in wanted if s.run_id not in result.seen]
    started = time.perf_counter()
    read, missing, errors = await _read_each(client, to_read)
    if to_read:
        costs.get.add((time.perf_counter() - started) / -(-len(to_read) // reading.concurrency))
    if not listed_any and errors and len(errors) == len(to_read):
        # Every request of the tick failed: the API is down, not one run. Fail the tick so the
        # daemon backs off (and honours a Retry-After) instead of polling on at full pace.
        raise _most_telling(errors.values())
    runs = [] if result is None else result.runs
    shown = frozenset(run.id for run in read)
    # Progress alone waits here too (`triage`): explicit runs read one by one every tick.
    read = [
        run
        for run in read
        if (prev := snapshots.get(run.id)) is None or not progress_waits(prev, run, now, hold)
    ]
    return FetchReport(
        observation=Observation(
            runs=tuple(runs + read), missing=frozenset(missing), baseline=baseline and track_all
        ),
        requests=client.requests - before_requests,
        run_errors=errors,
        detailed=frozenset(run.id for run in read),
        plan=plan,
        scan=result,
        seen=shown | (frozenset() if result is None else result.seen),
        bytes_read=client.bytes_read - before_bytes,
    )


async def _scan_list(
    client: DataframerClient,
    snapshots: Mapping[str, Snapshot],
    reading: Reading,
    *,
    now: datetime,
    before: datetime | None,
    strict: bool,
    hold: Callable[[Snapshot], bool],
    on_new: Callable[[list[Run]], None] | None,
    known_only: bool,
) -> Scan[Run]:
    """One streamed read of the run list, its cost folded into the measured costs."""
    started = time.perf_counter()
    async with client.stream_items(RUNS_PATH, "the run list") as items:
        result = await scan(
            items,
            snapshots,
            reading.memory,
            now=now,
            before=before,
            parse=lambda raw: client.parse_item(raw, RUN, strict=strict),
            hold=hold,
            on_new=on_new,
            known_only=known_only,
        )
    if result.items and result.malformed == result.items and result.complete:
        # Not one usable item: a broken answer (wrong types throughout), not an empty
        # company. Reading it as "no runs" would only cost a detail read per active run.
        raise BadResponse(f"every item of the run list from {client.base_url} is malformed")
    costs = reading.costs
    if result.items and on_new is None:  # a baseline's items cost their recording too
        costs.item.add((time.perf_counter() - started) / result.items)
    if result.complete:
        costs.list_items = result.items
    log.debug(
        "list_read",
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
) -> tuple[list[Run], list[str], dict[str, ApiError]]:
    results = await asyncio.gather(
        *(client.get_run(run_id) for run_id in run_ids), return_exceptions=True
    )
    runs: list[Run] = []
    missing: list[str] = []
    errors: dict[str, ApiError] = {}
    for run_id, result in zip(run_ids, results, strict=True):
        if isinstance(result, Run):
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


async def enrich(client: DataframerClient, runs: Iterable[Run]) -> dict[str, Run]:
    """Detail reads for runs that just finished and came from the list (no files in it).

    A failed read is logged and skipped: the alert goes out with what the list said.
    """
    wanted = [run.id for run in runs if run.generated_files is None]
    results = await asyncio.gather(*(client.get_run(r) for r in wanted), return_exceptions=True)
    detailed: dict[str, Run] = {}
    for run_id, result in zip(wanted, results, strict=True):
        if isinstance(result, Run):
            detailed[run_id] = result
        elif isinstance(result, Exception):
            log.warning("enrich_failed", run_id=run_id, error=str(result))
        else:
            raise result
    return detailed


async def reread(
    client: DataframerClient, run_ids: Iterable[str]
) -> tuple[dict[str, Run], dict[str, ApiError]]:
    """Detail reads of runs that look stuck: the runs read, and the errors of the others.

    Every failure is contained (a 404, a refused key, the API down): the caller postpones its
    decision about that run to a later tick, and the tick goes on.
    """
    wanted = list(dict.fromkeys(run_ids))
    results = await asyncio.gather(*(client.get_run(r) for r in wanted), return_exceptions=True)
    runs: dict[str, Run] = {}
    errors: dict[str, ApiError] = {}
    for run_id, result in zip(wanted, results, strict=True):
        if isinstance(result, Run):
            runs[run_id] = result
        elif isinstance(result, ApiError):
            errors[run_id] = result
        else:
            raise result
    return runs, errors

"""The actions' drain: due actions run beside the deliveries, each attempt recorded at once.

Each due action runs in its own task (at most `concurrency` at a time), so a slow one holds
neither a send, a tick, nor another action. An attempt is marked as started in the state
file before it runs and recorded as soon as it ends: done (final, so a success is recorded
once), retrying after the deliveries' backoff and jitter, or dead once its first attempt is
`delivery.horizon` old. An action found marked as started at the next start was cut short by
a crash (or a kill): that attempt is recorded as interrupted and the action runs again, once
(the one re-run the design allows, as for a send whose ack a crash lost).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import random
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import httpx
import pydantic
import structlog

from watcher.actions.download import DownloadFailed, download_run, has_files
from watcher.actions.execute import run_exec
from watcher.actions.plan import child_environment
from watcher.api import DataframerClient
from watcher.config.actions import DEFAULT_ACTION_TIMEOUT
from watcher.deliver.policy import RetryPolicy
from watcher.errors import ApiError, StateError
from watcher.kinds import kind_info, load_job
from watcher.models import Job
from watcher.state.actions import ActionAttempt, QueuedAction

__all__ = ["ActionRunner", "ActionStore", "Outcome"]

log = structlog.get_logger("watcher.actions")

INTERRUPTED = "interrupted: the watcher stopped while the action ran"


class ActionStore(Protocol):
    """The actions' side of the state store, as the runner uses it (`Store`)."""

    def due_actions(
        self, now: datetime, *, limit: int = 100, skip: Collection[int] = ()
    ) -> list[QueuedAction]: ...
    def start_action(self, action_id: int, at: datetime) -> None: ...
    def save_files(self, action_id: int, done: Collection[str]) -> None: ...
    def record_action(self, attempt: ActionAttempt) -> bool: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: ok, or the one-line reason it failed."""

    ok: bool
    reason: str | None = None


class ActionRunner:
    """Runs due actions from the outbox; `kick` starts what is due, `finish` ends on stop."""

    def __init__(
        self,
        store: ActionStore,
        api: DataframerClient,
        storage: httpx.AsyncClient,
        *,
        policy: RetryPolicy,
        clock: Callable[[], datetime],
        secrets: Callable[[], Iterable[str]],
        environ: Mapping[str, str] | None = None,
        concurrency: int = 4,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._api = api
        self._storage = storage
        self.policy = policy
        self._clock = clock
        self._secrets = secrets
        self._environ = os.environ if environ is None else environ
        self._concurrency = concurrency
        self._rng = rng if rng is not None else random.Random()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._stopped = False
        # Attempts since start, by outcome ("done", "failed", "dead"): what `once` reports.
        self.tally: Counter[str] = Counter()

    def _ended(self, action_id: int, _: asyncio.Task[None]) -> None:
        self._running.pop(action_id, None)

    @property
    def running(self) -> int:
        """How many actions are running now."""
        return len(self._running)

    def kick(self) -> int:
        """Start a task for each due action not running yet, up to the concurrency; how many.

        Tasks start in a fresh context, so the tick or drain that kicked them does not lend
        them its log fields. A state file that cannot be read now is tried on the next kick.
        """
        if self._stopped:
            return 0
        room = self._concurrency - len(self._running)
        if room <= 0:
            return 0
        try:
            due = self._store.due_actions(self._clock(), limit=room, skip=list(self._running))
        except StateError as exc:
            log.debug("actions_unreadable", error=str(exc))
            return 0
        loop = asyncio.get_running_loop()
        for action in due:
            task = loop.create_task(self._run(action), context=contextvars.Context())
            self._running[action.id] = task
            task.add_done_callback(functools.partial(self._ended, action.id))
        return len(due)

    async def run_due(self, *, max_rounds: int = 50) -> int:
        """Run everything due now and wait for it (`once`); how many attempts were made.
        Each action is tried at most once per call: a failed one is next due after it."""
        attempts = 0
        seen: set[int] = set()
        for _ in range(max_rounds):
            started = [a for a in self._start_due() if a not in seen]
            if not started and not self._running:
                break
            seen.update(started)
            attempts += len(started)
            await asyncio.gather(*self._running.values(), return_exceptions=True)
            if not started:
                break
        return attempts

    def _start_due(self) -> list[int]:
        before = set(self._running)
        self.kick()
        return [key for key in self._running if key not in before]

    def stop(self) -> None:
        """Start no action from now on (shutdown); those running go on until `finish`."""
        self._stopped = True

    async def finish(self, grace: float) -> None:
        """Give running actions `grace` seconds, then cancel them: their process groups are
        killed and the attempt is recorded as interrupted, to run again at the next start."""
        running = set(self._running.values())
        if not running:
            return
        _, late = await asyncio.wait(running, timeout=grace)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)
            log.warning("actions_cut_short", actions=len(late), seconds=grace)

    # -- one action ---------------------------------------------------------------------------

    async def _run(self, action: QueuedAction) -> None:
        with structlog.contextvars.bound_contextvars(
            action_id=action.id, run_id=action.run_id, action=action.label
        ):
            try:
                await self._attempt(action)
            except StateError as exc:
                # Left marked as started: the next attempt counts this one as interrupted.
                log.warning("action_unrecorded", error=str(exc))

    async def _attempt(self, action: QueuedAction) -> None:
        attempts, first = action.attempts, action.first_attempt_at
        if action.interrupted:
            now = self._clock()
            log.warning("action_interrupted", attempts=attempts + 1)
            if not self._fail(action, now, INTERRUPTED, attempts + 1, first or now, rerun=True):
                return
            attempts, first = attempts + 1, first or now
        self._store.start_action(action.id, self._clock())
        log.info("action_started", attempt=attempts + 1)
        try:
            outcome = await self._perform(action)
        except asyncio.CancelledError:
            now = self._clock()
            self._fail(action, now, INTERRUPTED, attempts + 1, first or now, rerun=True)
            raise
        except Exception as exc:  # an action's failure must never take the daemon down
            log.exception("action_error", error=str(exc))
            outcome = Outcome(False, f"{type(exc).__name__}: {exc}")
        now = self._clock()
        if outcome.ok:
            recorded = self._store.record_action(
                ActionAttempt(action.id, now, True, None, next_attempt_at=None)
            )
            if recorded:
                self.tally["done"] += 1
                log.info("action_done", attempts=attempts + 1)
            return
        self._fail(action, now, outcome.reason, attempts + 1, first or now)

    def _fail(
        self,
        action: QueuedAction,
        now: datetime,
        reason: str | None,
        failures: int,
        first: datetime,
        *,
        rerun: bool = False,
    ) -> bool:
        """Record a failed attempt; True when the action will run again (not dead). An
        interrupted attempt (`rerun`) is retried at once, within the same horizon."""
        retry = self.policy.retry_at(first, failures, now, self._rng)
        if retry is not None and rerun:
            retry = now
        self._store.record_action(
            ActionAttempt(action.id, now, False, reason, next_attempt_at=retry, dead=retry is None)
        )
        self.tally["dead" if retry is None else "failed"] += 1
        if retry is None:
            log.warning("action_dead", attempts=failures, reason=reason)
            return False
        log.warning(
            "action_failed", attempts=failures, reason=reason, next_attempt_at=retry.isoformat()
        )
        return True

    async def _perform(self, action: QueuedAction) -> Outcome:
        run = _stored_job(action)
        if action.kind == "exec":
            return await self._exec(action, run)
        return await self._download(action, run)

    async def _read(self, action: QueuedAction) -> Job | Outcome:
        """The job's detail read, now (`client.get_job`: any kind, by its reference); a
        failed Outcome when the API cannot say."""
        try:
            return await self._api.get_job(action.run_id)
        except ApiError as exc:
            return Outcome(False, f"cannot read {action.run_id}: {exc}")

    async def _exec(self, action: QueuedAction, run: Job | None) -> Outcome:
        argv = [str(arg) for arg in action.spec.get("exec", [])]
        if not argv:
            return Outcome(False, "the queued action has no program to run")
        stdin = action.run_json
        if run is None:
            # Not kept with the alert (unreadable, or none): the detail read, now.
            read = await self._read(action)
            if isinstance(read, Outcome):
                return read
            run, stdin = read, read.model_dump_json()
        secrets = list(self._secrets())
        env = child_environment(
            self._environ,
            secrets,
            run_id=action.run_id,
            run_kind=action.run_kind,
            status=action.to_status or "",
            spec_name=run.spec_name,
        )
        result = await run_exec(
            argv,
            stdin=(stdin or run.model_dump_json()).encode(),
            env=env,
            seconds=float(action.spec.get("timeout", DEFAULT_ACTION_TIMEOUT)),
            secrets=secrets,
        )
        if result.stdout or result.stderr:
            log.info(
                "action_output",
                stdout=result.stdout,
                stderr=result.stderr,
                stdout_bytes=result.stdout_bytes,
                stderr_bytes=result.stderr_bytes,
            )
        return Outcome(result.ok, result.reason)

    async def _download(self, action: QueuedAction, run: Job | None) -> Outcome:
        directory = Path(str(action.spec.get("download", "")))
        if not has_files(action.run_kind):
            # Evaluations and red-team runs produce no files: done, with nothing to fetch.
            noun = kind_info(action.run_kind).noun
            log.info("action_downloaded", files=0, reason=f"a {noun} has no files")
            return Outcome(True)
        if run is None or run.generated_files is None:
            # Finished but not read in detail (the read failed): read it now.
            read = await self._read(action)
            if isinstance(read, Outcome):
                return read
            run = read
        done = set(action.done_files)

        def saved(file_id: str, path: Path, size: int) -> None:
            done.add(file_id)
            self._store.save_files(action.id, done)
            log.info("action_file_saved", path=str(path), bytes=size)

        try:
            fetched = await download_run(
                run,
                directory=directory,
                api=self._api,
                storage=self._storage,
                done=frozenset(done),
                saved=saved,
            )
        except DownloadFailed as exc:
            return Outcome(False, str(exc))
        log.info("action_downloaded", files=fetched, skipped=len(action.done_files))
        return Outcome(True)


def _stored_job(action: QueuedAction) -> Job | None:
    """The job as the alert saw it (its kind's model, from the reference), if kept."""
    if action.run_json is None:
        return None
    try:
        return load_job(action.run_id, action.run_json)
    except pydantic.ValidationError:
        return None

"""The daemon: APScheduler drives a poll job and a delivery job until SIGTERM/SIGINT.

Polling backs off on API errors (capped at ten intervals and five minutes) and recovers by
itself; delivery runs beside it so a slow channel never delays a poll. SIGHUP reloads the
config; a bad one is rejected and the old one kept, as Alertmanager does.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from watcher.config import ConfigError, Settings, load_settings
from watcher.errors import ApiError, RateLimited, StateError, Unauthorized
from watcher.pipeline import TickSummary
from watcher.runtime import Runtime

log = structlog.get_logger("watcher.daemon")

MAX_BACKOFF = 300.0  # seconds: never wait longer than this between polls
UNAUTHORIZED_LOG_EVERY = 300.0  # seconds between repeated 401 error lines
STOP_GRACE = 10.0  # seconds in-flight sends get on shutdown


def poll_backoff(interval: float, failures: int, retry_after: float | None = None) -> float:
    """Delay before the next poll after `failures` consecutive failed ticks."""
    cap = max(interval, min(10 * interval, MAX_BACKOFF))
    delay = min(cap, interval * 2.0 ** max(0, failures - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_BACKOFF))
    return delay


class Daemon:
    """`dataframer-watcher run`: poll and deliver on a schedule until told to stop."""

    def __init__(self, runtime: Runtime, *, config_path: Path | None) -> None:
        self.rt = runtime
        self.config_path = config_path
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.stopping = asyncio.Event()
        self._tick_lock = asyncio.Lock()
        self._drain_task: asyncio.Task[None] | None = None
        self.failures = 0
        self.last_tick: TickSummary | None = None
        self.last_ok_monotonic: float | None = None
        self.loop_heartbeat = time.monotonic()
        self._last_unauthorized_log = -UNAUTHORIZED_LOG_EVERY
        self._retry_after: float | None = None
        self.on_tick: list[Callable[[Daemon], None]] = []  # health, metrics and sd_notify hooks

    @property
    def settings(self) -> Settings:
        """The settings in force (replaced on a successful reload)."""
        return self.rt.settings

    async def run(self) -> int:
        """Start, poll until stopped, stop cleanly; returns the exit code.

        Unauthorized on the very first tick is raised (the key is wrong: exit 1); any later
        API error only backs the polling off.
        """
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            await self._first_tick()
            self._schedule()
            log.info(
                "started",
                interval=self.settings.poll.interval,
                channels=sorted(self.settings.channels),
                track_all=self.settings.track.all,
                state=str(self.rt.store.path),
            )
            await self.stopping.wait()
        finally:
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(signum)
            await self._shutdown()
        return 0

    def stop(self) -> None:
        """Ask the daemon to stop (signal handler)."""
        if not self.stopping.is_set():
            log.info("stopping")
            self.stopping.set()

    async def _first_tick(self) -> None:
        try:
            await self._tick()
        except Unauthorized:
            raise
        except (ApiError, StateError):
            pass  # already logged by _tick; the schedule retries with backoff

    def _schedule(self) -> None:
        interval = self.settings.poll.interval
        now = datetime.now(UTC)
        first = now + timedelta(
            seconds=poll_backoff(interval, self.failures) if self.failures else interval
        )
        self.scheduler.add_job(
            self._poll_job,
            "interval",
            seconds=interval,
            id="poll",
            next_run_time=first,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self.scheduler.add_job(
            self._deliver_job,
            "interval",
            seconds=1,
            id="deliver",
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
        self.scheduler.add_job(
            self._prune_job,
            "interval",
            hours=1,
            id="prune",
            next_run_time=now + timedelta(seconds=5),
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.start()

    async def _poll_job(self) -> None:
        self.loop_heartbeat = time.monotonic()
        with contextlib.suppress(ApiError, StateError):  # logged and counted by _tick
            await self._tick()
        self._reschedule_after_failure()

    def _reschedule_after_failure(self) -> None:
        if not self.failures or self.stopping.is_set():
            return
        delay = poll_backoff(self.settings.poll.interval, self.failures, self._retry_after)
        job = self.scheduler.get_job("poll")
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC) + timedelta(seconds=delay))
        log.info("poll_backoff", seconds=round(delay, 3), failures=self.failures)

    async def _tick(self) -> None:
        """One tick under the lock; errors are logged, counted and re-raised."""
        self._retry_after = None
        async with self._tick_lock:
            if self.stopping.is_set():
                return
            try:
                summary = await self.rt.pipeline.tick()
            except Unauthorized as exc:
                self.failures += 1
                now = time.monotonic()
                if now - self._last_unauthorized_log >= UNAUTHORIZED_LOG_EVERY:
                    self._last_unauthorized_log = now
                    log.error("api_unauthorized", error=str(exc), failures=self.failures)
                raise
            except RateLimited as exc:
                self.failures += 1
                self._retry_after = exc.retry_after
                log.warning(
                    "tick_failed",
                    error=str(exc),
                    retry_after=exc.retry_after,
                    failures=self.failures,
                )
                raise
            except (ApiError, StateError) as exc:
                self.failures += 1
                log.warning("tick_failed", error=str(exc), failures=self.failures)
                raise
            finally:
                self.loop_heartbeat = time.monotonic()
            if self.failures:
                log.info("poll_recovered", after_failures=self.failures)
            self.failures = 0
            self.last_tick = summary
            self.last_ok_monotonic = time.monotonic()
            log.info("tick", **summary.as_log())
            if summary.notifications:
                self._kick_drain()
        for hook in self.on_tick:
            hook(self)

    async def _deliver_job(self) -> None:
        self.loop_heartbeat = time.monotonic()
        self._kick_drain()

    def _kick_drain(self) -> None:
        # The drain runs as its own task so the job returns at once and never "overlaps".
        if self.stopping.is_set() or (self._drain_task is not None and not self._drain_task.done()):
            return
        self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            summary = await self.rt.drain_all()
        except StateError as exc:
            log.warning("deliver_failed", error=str(exc))
            return
        if summary.sent or summary.failed or summary.dead:
            log.info("delivered", sent=summary.sent, failed=summary.failed, dead=summary.dead)

    async def _prune_job(self) -> None:
        try:
            pruned = self.rt.store.prune(self.rt.clock(), self.settings.state.retention)
        except StateError as exc:
            log.warning("prune_failed", error=str(exc))
            return
        if pruned:
            log.info("pruned", runs=pruned)

    def reload(self) -> None:
        """Re-read the config (SIGHUP); keep the old one when the new one is invalid."""
        try:
            new = load_settings(self.config_path)
        except ConfigError as exc:
            log.error("reload_rejected", error=str(exc))
            return
        old = self.settings
        if new.state.path != old.state.path or new.dataframer != old.dataframer:
            log.warning("reload_partial", reason="state.path and dataframer.* need a restart")
        self.rt.settings = new
        self.rt.pipeline.settings = new
        self.rt.deliverer.update_channels(new.channels)
        if new.track.runs:
            self.rt.store.track(new.track.runs, self.rt.clock())
        job = self.scheduler.get_job("poll")
        if job is not None and new.poll.interval != old.poll.interval:
            job.reschedule("interval", seconds=new.poll.interval)
        log.info("reloaded", channels=sorted(new.channels), interval=new.poll.interval)

    async def _shutdown(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        # APScheduler cancels nothing we own: wait for the tick in progress, then the sends.
        async with self._tick_lock:
            pass
        if self._drain_task is not None and not self._drain_task.done():
            grace = min(STOP_GRACE, self.settings.delivery.timeout + 1)
            done, _ = await asyncio.wait({self._drain_task}, timeout=grace)
            if not done:
                # Unacked sends stay pending in the outbox and go out on the next start.
                self._drain_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._drain_task
                log.warning("stop_grace_expired", seconds=grace)
        await self.rt.aclose()
        log.info("stopped")

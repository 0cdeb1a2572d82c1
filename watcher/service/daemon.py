"""The daemon: APScheduler drives a poll job and a delivery job until SIGTERM/SIGINT.

Polling backs off on API errors (capped at ten intervals and five minutes) and recovers by
itself; delivery runs beside it, each channel in its own task, so a slow or hung channel
delays neither a poll nor another channel. SIGHUP reloads the config between ticks; a bad
one is rejected and the old one kept, as Alertmanager does. What the operator sees (systemd
notifications, health, metrics) comes from `watcher.service.monitor`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher.config import ConfigError, Settings, load_settings
from watcher.deliver.policy import poll_delay
from watcher.errors import ApiError, RateLimited, StateError, Unauthorized
from watcher.service.health import ListenError
from watcher.service.monitor import Monitor
from watcher.service.reload import apply_reload
from watcher.service.runtime import Runtime
from watcher.service.sdnotify import Notifier, watchdog_interval

log = structlog.get_logger("watcher.service.daemon")

UNAUTHORIZED_LOG_EVERY = 300.0  # seconds between repeated 401 error lines
STOP_GRACE = 10.0  # seconds in-flight sends get on shutdown
_JOB = {"max_instances": 1, "coalesce": True}


class Daemon:
    """`dataframer-watcher run`: poll and deliver on a schedule until told to stop."""

    def __init__(
        self, runtime: Runtime, *, config_path: Path | None, notifier: Notifier | None = None
    ) -> None:
        self.rt = runtime
        self.config_path = config_path
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.stopping = asyncio.Event()
        self._tick_lock = asyncio.Lock()
        self._drain_tasks: dict[str, asyncio.Task[None]] = {}  # channel -> its drain
        self._background: set[asyncio.Task[None]] = set()
        self.tick_id = 0
        self._last_unauthorized_log = -UNAUTHORIZED_LOG_EVERY
        self._retry_after: float | None = None
        self._deliver_failures = 0  # delivery passes failed in a row on the state file
        self.notifier = notifier if notifier is not None else Notifier.from_env()
        self.monitor = Monitor(runtime, self.notifier)

    @property
    def settings(self) -> Settings:
        """The settings in force (replaced on a successful reload)."""
        return self.rt.settings

    @property
    def failures(self) -> int:
        """Failed ticks since the last successful one."""
        return self.monitor.vitals.failures

    async def run(self) -> int:
        """Start, poll until stopped, stop cleanly; returns the exit code.

        Unauthorized on the very first tick (the key is wrong) is raised: exit 1. Any later
        API error only backs the polling off. A busy health port is logged as an error and
        the daemon runs on without the listener: alerts matter more than the probe.
        """
        try:
            self.monitor.open_health(self.settings.health)
        except ListenError as exc:
            log.error("health_unavailable", error=str(exc))
        except BaseException:
            await self.rt.aclose()
            raise
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        try:
            self._start_scheduler()
            await self._first_tick()
            self._schedule_poll()
            # Config and state are open and the first poll is done (or retrying): READY=1.
            self.notifier.ready(self.monitor.status_text())
            server = self.monitor.health
            log.info(
                "started",
                interval=self.settings.poll.interval,
                channels=sorted(self.settings.channels),
                track_all=self.settings.track.all,
                state=str(self.rt.store.path),
                health=None if server is None else f"{self.settings.health.host}:{server.port}",
                watchdog=watchdog_interval() if self.notifier.enabled else None,
            )
            await self.stopping.wait()
        finally:
            loop.remove_signal_handler(signal.SIGHUP)
            self.stop()
            try:
                # The stop handlers stay through the grace period: a second SIGTERM or Ctrl-C
                # changes nothing, where the default action would kill the process mid-ack.
                await self._shutdown()
            finally:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
        return 0

    def stop(self) -> None:
        """Ask the daemon to stop (signal handler)."""
        if not self.stopping.is_set():
            self.notifier.stopping("stopping")
            log.info("stopping")
            self.stopping.set()

    def _start_scheduler(self) -> None:
        # Delivery (and with it the heartbeat) starts before the first tick, which may be slow.
        now = datetime.now(UTC)
        add = self.scheduler.add_job
        add(self._deliver_job, "interval", seconds=1, id="deliver", next_run_time=now, **_JOB)
        later = now + timedelta(seconds=5)
        add(self._prune_job, "interval", hours=1, id="prune", next_run_time=later, **_JOB)
        every = watchdog_interval()
        if every is not None and self.notifier.enabled:
            add(self._watchdog_job, "interval", seconds=every, id="watchdog", **_JOB)
        self.scheduler.start()

    async def _first_tick(self) -> None:
        with structlog.contextvars.bound_contextvars(tick=self._next_tick_id()):
            try:
                await self._tick()
                await self.rt.check_key_if_unused()
            except Unauthorized:
                raise  # the key is wrong: exit 1 rather than retry forever
            except (ApiError, StateError):
                pass  # logged by _tick; the schedule retries with backoff

    def _schedule_poll(self) -> None:
        interval = self.settings.poll.interval
        failures = self.failures
        delay = poll_delay(interval, failures, self._retry_after)
        self.scheduler.add_job(
            self._poll_job,
            IntervalTrigger(seconds=interval, timezone=UTC),
            id="poll",
            next_run_time=datetime.now(UTC) + timedelta(seconds=delay),
            misfire_grace_time=None,
            **_JOB,
        )
        if failures:  # the first tick failed: its backoff (and Retry-After) applies too
            log.info("poll_backoff", seconds=round(delay, 3), failures=failures)

    def _next_tick_id(self) -> int:
        self.tick_id += 1
        return self.tick_id

    async def _poll_job(self) -> None:
        # Every line of this tick, down to the fetch stage, carries its id.
        with structlog.contextvars.bound_contextvars(tick=self._next_tick_id()):
            with contextlib.suppress(ApiError, StateError):  # logged and counted by _tick
                await self._tick()
            self._reschedule_after_failure()

    def _reschedule_after_failure(self) -> None:
        failures = self.failures
        if not failures or self.stopping.is_set():
            return
        delay = poll_delay(self.settings.poll.interval, failures, self._retry_after)
        job = self.scheduler.get_job("poll")
        if job is not None:
            # modify() wakes the scheduler with a callback that captures the current context:
            # from an empty one, so later jobs do not inherit this tick's id.
            at = datetime.now(UTC) + timedelta(seconds=delay)
            contextvars.Context().run(job.modify, next_run_time=at)
        log.info("poll_backoff", seconds=round(delay, 3), failures=failures)

    async def _tick(self) -> None:
        """One tick under the lock; errors are logged, counted and re-raised."""
        self._retry_after = None
        monitor = self.monitor
        async with self._tick_lock:
            if self.stopping.is_set():
                return
            monitor.tick_started()
            try:
                summary = await self.rt.pipeline.tick()
            except Unauthorized as exc:
                monitor.tick_failed("unauthorized", exc)
                now = time.monotonic()
                if now - self._last_unauthorized_log >= UNAUTHORIZED_LOG_EVERY:
                    self._last_unauthorized_log = now
                    log.error("api_unauthorized", error=str(exc), failures=self.failures)
                raise
            except RateLimited as exc:
                self._retry_after = exc.retry_after
                monitor.tick_failed("rate_limited", exc)
                log.warning(
                    "tick_failed",
                    error=str(exc),
                    retry_after=exc.retry_after,
                    failures=self.failures,
                )
                raise
            except (ApiError, StateError) as exc:
                monitor.tick_failed("failed", exc)
                log.warning("tick_failed", error=str(exc), failures=self.failures)
                raise
            finally:
                monitor.tick_ended()
            if self.failures:
                log.info("poll_recovered", after_failures=self.failures)
            log.info("tick", **summary.as_log())
            monitor.tick_succeeded(summary)
            if summary.notifications:
                self._kick_drain()

    async def _deliver_job(self) -> None:
        self.monitor.beat()
        self._kick_drain()

    async def _watchdog_job(self) -> None:
        # A coroutine on purpose: APScheduler would run a plain function in a worker thread,
        # which keeps running when the loop hangs, and the ping must come from the loop.
        self.monitor.watchdog()

    def _kick_drain(self) -> None:
        """Start a drain task for each channel with something due that has none running.

        One task per channel: a channel that hangs (each send waits up to delivery.timeout)
        holds only its own task, and the other channels' new alerts go out meanwhile. The
        tasks let the job return at once (it never "overlaps"), and start in a fresh context,
        so the tick that kicked them does not lend them its id.
        """
        if self.stopping.is_set():
            return
        self._drain_tasks = {n: t for n, t in self._drain_tasks.items() if not t.done()}
        try:
            due = self.rt.store.due_deliveries(self.rt.clock(), limit=1)
        except StateError as exc:
            self._deliver_failed(exc)
            return
        loop = asyncio.get_running_loop()
        for channel in dict.fromkeys(delivery.channel for delivery in due):
            if channel not in self._drain_tasks:
                self._drain_tasks[channel] = loop.create_task(
                    self._drain(channel), context=contextvars.Context()
                )

    async def _drain(self, channel: str) -> None:
        try:
            summary = await self.rt.drain_all(channels=[channel])
        except StateError as exc:
            self._deliver_failed(exc)
            return
        if self._deliver_failures:
            log.info("deliver_recovered", after_failures=self._deliver_failures)
            self._deliver_failures = 0
        changed = bool(summary.sent or summary.failed or summary.dead)
        if changed:
            log.info(
                "delivered",
                channel=channel,
                sent=summary.sent,
                failed=summary.failed,
                dead=summary.dead,
            )
        self.monitor.drained(changed=changed)

    def _deliver_failed(self, exc: StateError) -> None:
        # One warning when the state file stops taking delivery writes, not one a second.
        self._deliver_failures += 1
        level = log.warning if self._deliver_failures == 1 else log.debug
        level("deliver_failed", error=str(exc), failures=self._deliver_failures)
        self.monitor.drained(changed=True, error=exc)

    async def _prune_job(self) -> None:
        try:
            pruned = self.rt.store.prune(self.rt.clock(), self.settings.state.retention)
        except StateError as exc:
            log.warning("prune_failed", error=str(exc))
            return
        if pruned:
            log.info("pruned", runs=pruned)

    def reload(self) -> None:
        """Re-read the config (SIGHUP) once the tick in progress, if any, is done."""
        self.notifier.reloading("reloading the config")
        task = asyncio.get_running_loop().create_task(self._reload())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reload(self) -> None:
        async with self._tick_lock:
            if self.stopping.is_set():
                return
            try:
                new = load_settings(self.config_path, reload=True)
            except ConfigError as exc:
                log.error("reload_rejected", error=str(exc), kept="the config in force")
            except Exception as exc:  # a reload must never take the daemon down
                log.exception("reload_rejected", error=str(exc), kept="the config in force")
            else:
                self._apply(new)
        self.notifier.ready(self.monitor.status_text())

    def _apply(self, new: Settings) -> None:
        old_interval = self.settings.poll.interval
        result = apply_reload(self.rt, new)
        interval = result.settings.poll.interval
        job = self.scheduler.get_job("poll")
        if job is not None and interval != old_interval:
            # The next tick comes at most one new interval from now, and no later than planned.
            latest = datetime.now(UTC) + timedelta(seconds=interval)
            planned = job.next_run_time
            job.modify(
                trigger=IntervalTrigger(seconds=interval, timezone=UTC),
                next_run_time=latest if planned is None else min(planned, latest),
            )
        if result.not_applied:
            log.warning("reload_partial", not_applied=list(result.not_applied), needs="a restart")
        log.info(
            "reloaded",
            channels=sorted(result.settings.channels),
            interval=interval,
            runs_added=list(result.runs_added),
            log_level=result.settings.log.level,
        )

    async def _shutdown(self) -> None:
        # Sends in flight get the grace period; none starts after the stop.
        self.rt.deliverer.stop()
        # Paused, the scheduler starts no job and lets the running ones finish. Shutting it
        # down now would cancel them: APScheduler's shutdown() cancels running asyncio jobs,
        # cutting the tick under way short (with a CancelledError traceback in the log).
        if self.scheduler.running:
            self.scheduler.pause()
            # A job submitted just before the pause has not taken its first step: let it take
            # it, so it sees the stop and returns instead of being cancelled below.
            await asyncio.sleep(0)
        # The tick under way finishes and records; then each channel's sends in flight.
        async with self._tick_lock:
            pass
        draining = {task for task in self._drain_tasks.values() if not task.done()}
        if draining:
            grace = min(STOP_GRACE, self.settings.delivery.timeout + 1)
            _, late = await asyncio.wait(draining, timeout=grace)
            if late:
                # Unacked sends stay pending in the outbox and go out on the next start.
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
                log.warning("stop_grace_expired", seconds=grace)
        if self.scheduler.running:
            # No job of ours is running any more: nothing left for it to cancel.
            self.scheduler.shutdown(wait=False)
        self.monitor.close()
        await self.rt.aclose()
        log.info("stopped")

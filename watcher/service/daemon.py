"""The daemon: APScheduler drives a poll job and a delivery job until SIGTERM/SIGINT.

APScheduler is the one owner of time: the poll (a failed tick backs off by rescheduling the
poll job; a reload re-times it), the one-second delivery job (drain wake-ups and the loop's
heartbeat), the systemd watchdog and pruning. Polling backs off on API errors (capped at ten
intervals and five minutes) and recovers by itself; delivery runs beside it, each channel in
its own task, so a slow or hung channel delays neither a poll nor another channel. SIGHUP
reloads the config between ticks; a bad one is rejected and the old one kept, as Alertmanager
does. What the operator sees (systemd notifications, health, metrics) comes from
`watcher.service.monitor`.

Lifetimes: `Daemon.open` makes the vitals and metrics, opens the `Runtime` they observe and
closes it; `Daemon.run` owns the scheduler, the signal handlers and the health listener, in
one `AsyncExitStack`, and never closes the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from watcher.config import ConfigError, Settings, config_warnings, load_settings
from watcher.deliver.policy import poll_delay
from watcher.errors import (
    ApiError,
    RateLimited,
    StateConflict,
    StateError,
    StateReplaced,
    Unauthorized,
)
from watcher.service.drains import Drains
from watcher.service.health import ListenError, Vitals
from watcher.service.metrics import Metrics
from watcher.service.monitor import Monitor
from watcher.service.opswatch import EVERY as OPS_EVERY
from watcher.service.opswatch import OpsWatch
from watcher.service.reload import apply_reload
from watcher.service.runtime import Runtime
from watcher.service.sdnotify import Notifier, watchdog_interval

log = structlog.get_logger("watcher.service.daemon")

UNAUTHORIZED_LOG_EVERY = 300.0  # seconds between repeated 401 error lines
_JOB = {"max_instances": 1, "coalesce": True}
_TICK_ERRORS = (ApiError, StateError, StateConflict)  # logged and counted by Daemon._tick


class Daemon:
    """`dataframer-watcher run`: poll and deliver on a schedule until told to stop."""

    def __init__(self, runtime: Runtime, monitor: Monitor, *, config_path: Path | None) -> None:
        self.rt = runtime
        self.monitor = monitor
        self.notifier = monitor.notifier
        self.config_path = config_path
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.stopping = asyncio.Event()
        self._serial = asyncio.Lock()  # a tick and a reload never interleave
        self._poll_idle = asyncio.Event()  # no poll job between its first step and its end
        self._poll_idle.set()
        self.drains = Drains(runtime, monitor)
        self.ops = OpsWatch(runtime, monitor.vitals, started=datetime.now(UTC))
        self._background: set[asyncio.Task[None]] = set()
        self.tick_id = 0
        self._last_unauthorized_log = -UNAUTHORIZED_LOG_EVERY
        self._retry_after: float | None = None
        self.exit_code = 0

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        config_path: Path | None,
        notifier: Notifier | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncIterator[Daemon]:
        """A daemon on a runtime opened for it inside the running loop, closed on exit.

        The metrics exist before the runtime, which reports each API request and delivery try
        to them; `transport` answers the API client in-process (tests).
        """
        vitals = Vitals()
        metrics = Metrics(poll_age=vitals.poll_age, last_ok_wall=lambda: vitals.last_ok_wall)
        async with Runtime.open(settings, observer=metrics, transport=transport) as rt:
            notifier = notifier if notifier is not None else Notifier.from_env()
            monitor = Monitor(rt, notifier, vitals=vitals, metrics=metrics)
            yield cls(rt, monitor, config_path=config_path)

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
        loop = asyncio.get_running_loop()
        async with contextlib.AsyncExitStack() as stack:
            try:
                self.monitor.open_health(self.settings.health)
            except ListenError as exc:
                log.error("health_unavailable", error=str(exc))
            stack.callback(self.monitor.close)
            # The stop handlers stay through the grace period: a second SIGTERM or Ctrl-C
            # changes nothing, where the default action would kill the process mid-ack.
            stops = dict.fromkeys((signal.SIGTERM, signal.SIGINT), self.stop)
            stack.enter_context(_signal_handlers(loop, stops))
            stack.push_async_callback(self._shutdown)
            stack.enter_context(_signal_handlers(loop, {signal.SIGHUP: self.reload}))
            self._start_scheduler()
            backoff = await self._poll(first=True)
            self._schedule_poll(self.settings.poll.interval if backoff is None else backoff)
            # Config and state are open and the first poll is done (or retrying): READY=1.
            self.notifier.ready(self.monitor.status_text())
            for warning in config_warnings(self.settings):  # what check-config would say
                log.warning("config_warning", warning=warning)
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
        return self.exit_code

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
        add(self._ops_job, "interval", seconds=OPS_EVERY, id="ops", next_run_time=later, **_JOB)
        every = watchdog_interval()
        if every is not None and self.notifier.enabled:
            add(self._watchdog_job, "interval", seconds=every, id="watchdog", **_JOB)
        self.scheduler.start()

    def _schedule_poll(self, delay: float) -> None:
        """The next poll in `delay` seconds, then one every interval (a backoff moves it on)."""
        at = datetime.now(UTC) + timedelta(seconds=delay)
        if self.scheduler.get_job("poll") is not None:
            self.scheduler.modify_job("poll", next_run_time=at)
            return
        self.scheduler.add_job(
            self._poll_job,
            IntervalTrigger(seconds=self.settings.poll.interval, timezone=UTC),
            id="poll",
            next_run_time=at,
            misfire_grace_time=None,
            **_JOB,
        )

    def _next_tick_id(self) -> int:
        self.tick_id += 1
        return self.tick_id

    async def _poll_job(self) -> None:
        if self.stopping.is_set():
            return
        self._poll_idle.clear()
        try:
            backoff = await self._poll()
        finally:
            self._poll_idle.set()
        if backoff is not None and not self.stopping.is_set():
            # Out of the tick's log context: APScheduler's wakeup would lend it to later jobs.
            self._schedule_poll(backoff)

    async def _poll(self, *, first: bool = False) -> float | None:
        """One tick, every line it logs carrying its id; after a failed one, the backoff.

        The backoff (seconds to the next poll) grows with the failures in a row and honours
        a Retry-After. The first tick also proves the key (Unauthorized is raised then).
        """
        with structlog.contextvars.bound_contextvars(tick=self._next_tick_id()):
            try:
                await self._tick()
                if first:
                    await self.rt.check_key_if_unused()
            except Unauthorized:
                if first:
                    raise  # the key is wrong: exit 1 rather than retry forever
            except _TICK_ERRORS:
                pass  # logged and counted by _tick; the schedule retries with backoff
            failures = self.failures
            if not failures:
                return None
            delay = poll_delay(self.settings.poll.interval, failures, self._retry_after)
            log.info("poll_backoff", seconds=round(delay, 3), failures=failures)
            return delay

    async def _tick(self) -> None:
        """One tick, never during a reload; errors are logged, counted and re-raised."""
        self._retry_after = None
        monitor = self.monitor
        async with self._serial:
            if self.stopping.is_set():
                return
            if not self._state_file_in_place():
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
            except _TICK_ERRORS as exc:
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
                self.drains.kick()

    async def _deliver_job(self) -> None:
        if self.stopping.is_set() or not self._state_file_in_place():
            return
        self.monitor.beat()
        try:
            self.rt.pipeline.release()  # held alerts whose wait is over join the outbox
        except StateError as exc:
            # Once a minute at most: the file refusing writes is logged by the drains too.
            level = log.warning if self.monitor.beats % 60 == 0 else log.debug
            level("release_failed", error=str(exc))
        self.drains.kick()

    def _state_file_in_place(self) -> bool:
        """False, and the daemon stopping with exit 1, once its state file was deleted or
        replaced: the supervisor restarts it on the file that is there, and the operator sees
        why, where going on would write alerts into a file nobody else can open."""
        try:
            self.rt.store.check_in_place()
        except StateReplaced as exc:
            log.error("state_file_replaced", state=str(self.rt.store.path), error=str(exc))
            self.exit_code = 1
            self.stop()
            return False
        return True

    async def _ops_job(self) -> None:
        if self.stopping.is_set():
            return
        try:
            if self.ops.check():
                self.drains.kick()
        except StateError as exc:
            log.debug("ops_check_failed", error=str(exc))  # the state file's woes are logged

    async def _watchdog_job(self) -> None:
        # A coroutine on purpose: APScheduler would run a plain function in a worker thread,
        # which keeps running when the loop hangs, and the ping must come from the loop.
        if not self.stopping.is_set():
            self.monitor.watchdog()

    async def _prune_job(self) -> None:
        if self.stopping.is_set():
            return
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
        async with self._serial:
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
        if interval != old_interval:
            self._retime_poll(interval)
        if result.not_applied:
            log.warning("reload_partial", not_applied=list(result.not_applied), needs="a restart")
        log.info(
            "reloaded",
            channels=sorted(result.settings.channels),
            interval=interval,
            runs_added=list(result.runs_added),
            log_level=result.settings.log.level,
        )

    def _retime_poll(self, interval: float) -> None:
        """A new poll interval: the next tick comes at most one new interval from now, and no
        later than planned."""
        job = self.scheduler.get_job("poll")
        if job is None:
            return
        latest = datetime.now(UTC) + timedelta(seconds=interval)
        planned = job.next_run_time
        job.modify(
            trigger=IntervalTrigger(seconds=interval, timezone=UTC),
            next_run_time=latest if planned is None else min(planned, latest),
        )

    async def _shutdown(self) -> None:
        self.stop()
        # No new drain or send starts; those in flight get the grace period.
        self.drains.close()
        self.rt.deliverer.stop()
        if self.scheduler.running:
            # APScheduler's shutdown() cancels the jobs it finds pending: start none from here.
            self.scheduler.pause()
        # The tick under way finishes and records; a reload waiting for it sees the stop.
        await self._poll_idle.wait()
        await asyncio.gather(*self._background)
        await self.drains.finish()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        log.info("stopped")


@contextlib.contextmanager
def _signal_handlers(
    loop: asyncio.AbstractEventLoop, handlers: Mapping[signal.Signals, Callable[[], None]]
) -> Iterator[None]:
    """These loop signal handlers while the block runs."""
    for signum, handler in handlers.items():
        loop.add_signal_handler(signum, handler)
    try:
        yield
    finally:
        for signum in handlers:
            loop.remove_signal_handler(signum)

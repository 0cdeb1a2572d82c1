"""The daemon's delivery side: one drain task per channel, and their grace period on stop.

A channel that hangs (each send waits up to `delivery.timeout`) holds only its own task, so
the other channels' new alerts go out meanwhile. The daemon's one-second delivery job and a
tick that queued alerts call `kick`, which starts the due actions too
(`watcher.actions.runner`); the stop calls `close`, then `finish`.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import TYPE_CHECKING

import structlog

from watcher.errors import StateError

if TYPE_CHECKING:
    from watcher.service.monitor import Monitor
    from watcher.service.runtime import Runtime

log = structlog.get_logger("watcher.service.drains")

STOP_GRACE = 10.0  # seconds in-flight sends get on shutdown, at most


class Drains:
    """The drain tasks of one daemon, by channel."""

    def __init__(self, rt: Runtime, monitor: Monitor) -> None:
        self.rt = rt
        self.monitor = monitor
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._failures = 0  # delivery passes failed in a row on the state file
        self._closed = False

    def kick(self) -> None:
        """Start a drain task for each channel with something due that has none running.

        The tasks let the caller return at once (a job never "overlaps"), and start in a fresh
        context, so the tick that kicked them does not lend them its id.
        """
        if self._closed:
            return
        if self.rt.actions is not None:
            self.rt.actions.kick()  # due actions run beside the sends, each in its own task
        self._tasks = {name: task for name, task in self._tasks.items() if not task.done()}
        try:
            due = self.rt.store.due_deliveries(self.rt.clock(), limit=1)
        except StateError as exc:
            self._failed(exc)
            return
        loop = asyncio.get_running_loop()
        for channel in dict.fromkeys(delivery.channel for delivery in due):
            if channel not in self._tasks:
                self._tasks[channel] = loop.create_task(
                    self._drain(channel), context=contextvars.Context()
                )

    def close(self) -> None:
        """Start no drain, nor action, from now on (shutdown); those running go on."""
        self._closed = True
        if self.rt.actions is not None:
            self.rt.actions.stop()

    async def finish(self) -> None:
        """Give each channel's sends in flight `delivery.timeout` plus a second (at most
        `STOP_GRACE`), and running actions `STOP_GRACE`; unacked sends stay pending in the
        outbox, and actions cut short are recorded as interrupted, for the next start."""
        running = {task for task in self._tasks.values() if not task.done()}
        actions = self.rt.actions
        acting = asyncio.ensure_future(actions.finish(STOP_GRACE) if actions else asyncio.sleep(0))
        try:
            await self._finish_sends(running)
        finally:
            await acting

    async def _finish_sends(self, running: set[asyncio.Task[None]]) -> None:
        if not running:
            return
        grace = min(STOP_GRACE, self.rt.settings.delivery.timeout + 1)
        _, late = await asyncio.wait(running, timeout=grace)
        if late:
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            log.warning("stop_grace_expired", seconds=grace)

    async def _drain(self, channel: str) -> None:
        try:
            summary = await self.rt.drain_all(channels=[channel])
        except StateError as exc:
            self._failed(exc)
            return
        if self._failures:
            log.info("deliver_recovered", after_failures=self._failures)
            self._failures = 0
        changed = bool(summary.tried)
        if changed:
            # "delivered" only when everything tried went out; a pass with failures is named
            # for what it was (each failure is also a channel_failing or delivery_dead line).
            clean = not (summary.failed or summary.dead)
            log.info(
                "delivered" if clean else "delivery_pass",
                channel=channel,
                sent=summary.sent,
                failed=summary.failed,
                dead=summary.dead,
            )
        self.monitor.drained(changed=changed)

    def _failed(self, exc: StateError) -> None:
        # One warning when the state file stops taking delivery writes, not one a second.
        self._failures += 1
        level = log.warning if self._failures == 1 else log.debug
        level("deliver_failed", error=str(exc), failures=self._failures)
        self.monitor.drained(changed=True, error=exc)

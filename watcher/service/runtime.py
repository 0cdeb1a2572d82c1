"""Assembly: build the pipeline's parts from one Settings object, and run one full cycle.

`Runtime.open` is the one owner of the parts' lifetimes: inside the running loop it opens the
state file, the API client, the sender and the actions' file client in one `async with`,
and closes them there, in reverse order, whatever failed. `run` (the daemon), `once` and
`demo` use it, so they can never wire things differently; `test-notify` takes only its
sender, from `open_sender`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AsyncExitStack, asynccontextmanager, closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import httpx
import structlog

from watcher import __version__
from watcher.actions.download import storage_client
from watcher.actions.runner import ActionRunner
from watcher.api import DataframerClient
from watcher.assess import Thresholds
from watcher.clock import utcnow
from watcher.config import Settings, resolve_api_key, secrets_of
from watcher.deliver import Deliverer, Outcome, RetryPolicy, Tally
from watcher.deliver.sender import Sender, message_limits
from watcher.discover import DiscoveryFilter
from watcher.hold import DigestPolicy
from watcher.logs import SCRUBBER
from watcher.pipeline import Pipeline, TickPolicy, TickSummary
from watcher.state import Store
from watcher.stuck import StuckRules
from watcher.templates import Templates

log = structlog.get_logger("watcher.service.runtime")


class Observer(Protocol):
    """What hears of the runtime's work as it happens (the daemon's metrics)."""

    def api_request(self, seconds: float) -> None:
        """One API request took this long (failed ones and timeouts included)."""

    def delivery(self, channel: str, outcome: Outcome) -> None:
        """One delivery try was acked: sent, failed (will retry) or dead."""


def retry_policy(settings: Settings) -> RetryPolicy:
    """The delivery retry policy the settings describe."""
    delivery = settings.delivery
    return RetryPolicy(delivery.retry_initial, delivery.retry_max, delivery.horizon)


def tick_policy(settings: Settings) -> TickPolicy:
    """The frozen policy a tick decides with, from the settings."""
    digest = settings.alerts.digest
    return TickPolicy(
        routes=tuple(settings.routes),
        channels=tuple(settings.channels),
        track_all=settings.track.all,
        track_kinds=tuple(settings.track.kinds),
        track_filter=DiscoveryFilter(
            settings.track.filter.specs,
            settings.track.filter.creators,
            settings.track.filter.datasets,
        ),
        max_runs_per_message=settings.delivery.max_runs_per_message,
        limits={name: message_limits(urls) for name, urls in settings.channels.items()},
        digest=None if digest is None else DigestPolicy(digest.window, digest.threshold),
        stuck=_stuck_rules(settings),
        progress_every=settings.poll.progress_every,
        slow_below=settings.alerts.slow_below,
        thresholds=Thresholds(
            failure_rate_above=settings.alerts.failure_rate_above,
            cost_above=settings.alerts.cost_above,
        ),
        templates=Templates.build(
            {name: t.model_dump() for name, t in settings.templates.items()},
            settings.alerts.run_url,
        ),
        action_routes=tuple(settings.routes) if any(r.actions for r in settings.routes) else (),
    )


def _stuck_rules(settings: Settings) -> StuckRules | None:
    stuck = settings.alerts.stuck
    if stuck is None:
        return None
    return StuckRules(stuck.pending_after, stuck.no_progress_after, stuck.repeat)


def open_sender(settings: Settings, *, threads: int | None = None) -> closing[Sender]:
    """The sender the settings describe, as a context that stops its threads on exit.

    `threads` overrides `delivery.concurrency` (test-notify sends to every URL at once).
    """
    return closing(
        Sender(
            concurrency=threads or settings.delivery.concurrency,
            timeout=settings.delivery.timeout,
            secrets=SCRUBBER.secrets,
        )
    )


@dataclass
class Runtime:
    """The live parts of a watcher: store, API client, sender, deliverer and pipeline.

    `settings` are the ones in force; `apply` replaces them on a config reload.
    """

    settings: Settings
    store: Store
    client: DataframerClient
    sender: Sender
    deliverer: Deliverer
    pipeline: Pipeline
    clock: Callable[[], datetime] = field(default=utcnow)
    # Always set by `open`; None only in a runtime assembled by hand with no actions to run.
    actions: ActionRunner | None = None

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings,
        *,
        lock: bool = True,
        clock: Callable[[], datetime] = utcnow,
        observer: Observer | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> AsyncIterator[Runtime]:
        """Open the state file (taking the daemon lock), sync config-tracked runs, build clients.

        Raises ConfigError (no API key), StateError or StateLocked; whatever was opened before
        a step failed, and everything on leaving the block, is closed again. `observer` hears
        of each API request and delivery try; `transport` answers the API client in-process.
        """
        api_key = resolve_api_key(settings)
        SCRUBBER.update([api_key, *secrets_of(settings)])
        async with AsyncExitStack() as stack:
            store = stack.enter_context(Store.open(settings.state.path))
            if lock:
                store.acquire_daemon_lock()
                # Refuse at start, as `once` would at its first write: a daemon on a file it
                # cannot write would only fail every tick. (One that becomes read-only later
                # backs off and reports it on /readyz.)
                store.check_writable()
            _track_configured_runs(store, settings, clock)
            client = await stack.enter_async_context(
                DataframerClient(
                    settings.dataframer.base_url,
                    api_key,
                    timeout=settings.dataframer.timeout,
                    max_concurrency=settings.dataframer.max_concurrency,
                    transport=transport,
                    on_request=None if observer is None else observer.api_request,
                )
            )
            sender = stack.enter_context(open_sender(settings))
            deliverer = Deliverer(
                store,
                sender,
                settings.channels,
                policy=retry_policy(settings),
                clock=clock,
                rng=random.Random(),
                observe=None if observer is None else observer.delivery,
            )
            pipeline = Pipeline(tick_policy(settings), store, client, clock=clock)
            storage = await stack.enter_async_context(
                storage_client(
                    timeout=settings.dataframer.timeout,
                    user_agent=f"dataframer-watcher/{__version__}",
                )
            )
            actions = ActionRunner(
                store,
                client,
                storage,
                policy=retry_policy(settings),
                clock=clock,
                secrets=lambda: SCRUBBER.secrets,
                concurrency=settings.delivery.concurrency,
            )
            yield cls(settings, store, client, sender, deliverer, pipeline, clock, actions)

    def apply(self, settings: Settings) -> None:
        """Make `settings` the ones in force (a reload): the pipeline gets a new frozen policy,
        the deliverer the channels and retry policy. Values that need a restart must already
        be the old ones (`watcher.service.reload.in_force`): the open parts keep theirs."""
        self.settings = settings
        self.pipeline.policy = tick_policy(settings)
        self.deliverer.update_channels(settings.channels)
        self.deliverer.policy = retry_policy(settings)
        if self.actions is not None:
            self.actions.policy = retry_policy(settings)

    async def drain_all(self, *, channels: Collection[str] | None = None) -> Tally:
        """Deliver everything due now (of `channels` only, if given); see `Deliverer.drain_due`."""
        return await self.deliverer.drain_due(channels=channels)

    async def check_key_if_unused(self) -> None:
        """At start, prove the API key even when the first tick needed no request.

        With nothing to poll (no active tracked run, no discovery) a wrong key would otherwise
        go unnoticed until the next `track`; Unauthorized here means exit 1.
        """
        if self.client.requests == 0:
            await self.client.check_key()

    async def cycle(self) -> tuple[TickSummary, Tally]:
        """One full cycle for `once`: tick, then deliver what is due and run the actions
        that are (beside the sends), waiting for both."""
        tick = await self.pipeline.tick()
        await self.check_key_if_unused()
        log.info("tick", **tick.as_log())
        self.pipeline.release()
        if self.actions is None:
            return tick, await self.drain_all()
        acting = asyncio.ensure_future(self.actions.run_due())
        try:
            drained = await self.drain_all()
        finally:
            await acting
        return tick, drained


def _track_configured_runs(store: Store, settings: Settings, clock: Callable[[], datetime]) -> None:
    # A configured run untracked by hand stays untracked across restarts.
    known = store.snapshots() if settings.track.runs else {}
    wanted = [r for r in settings.track.runs if r not in known or not known[r].muted]
    if wanted:
        store.track(wanted, clock())

"""Assembly: build the pipeline's parts from one Settings object, and run one full cycle.

Shared by `run` (the daemon), `once` and `test-notify`, so they can never wire things differently.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self

import structlog

from watcher.clock import utcnow
from watcher.config import Settings, resolve_api_key, secrets_of
from watcher.deliver import Deliverer, RetryPolicy, Tally
from watcher.deliver.sender import Sender
from watcher.fetch import DataframerClient
from watcher.logs import SCRUBBER
from watcher.pipeline import Pipeline, TickSummary
from watcher.state import Store

log = structlog.get_logger("watcher.service.runtime")


def retry_policy(settings: Settings) -> RetryPolicy:
    """The delivery retry policy the settings describe."""
    delivery = settings.delivery
    return RetryPolicy(delivery.retry_initial, delivery.retry_max, delivery.horizon)


@dataclass
class Runtime:
    """The live parts of a watcher: store, API client, sender, deliverer and pipeline."""

    settings: Settings
    store: Store
    client: DataframerClient
    sender: Sender
    deliverer: Deliverer
    pipeline: Pipeline
    clock: Callable[[], datetime] = field(default=utcnow)

    @classmethod
    def open(
        cls, settings: Settings, *, lock: bool = True, clock: Callable[[], datetime] = utcnow
    ) -> Self:
        """Open the state file (taking the daemon lock), sync config-tracked runs, build clients.

        Raises ConfigError (no API key), StateError or StateLocked; nothing is left open then.
        """
        api_key = resolve_api_key(settings)
        SCRUBBER.update([api_key, *secrets_of(settings)])
        store = Store.open(settings.state.path)
        try:
            if lock:
                store.acquire_daemon_lock()
            # A configured run untracked by hand stays untracked across restarts.
            known = store.snapshots() if settings.track.runs else {}
            wanted = [r for r in settings.track.runs if r not in known or not known[r].muted]
            if wanted:
                store.track(wanted, clock())
        except BaseException:
            store.close()
            raise
        client = DataframerClient(
            settings.dataframer.base_url,
            api_key,
            timeout=settings.dataframer.timeout,
            max_concurrency=settings.dataframer.max_concurrency,
        )
        sender = Sender(
            concurrency=settings.delivery.concurrency,
            timeout=settings.delivery.timeout,
            secrets=SCRUBBER.secrets,
        )
        deliverer = Deliverer(
            store,
            sender,
            settings.channels,
            policy=retry_policy(settings),
            clock=clock,
            rng=random.Random(),
        )
        pipeline = Pipeline(settings, store, client, clock=clock)
        return cls(settings, store, client, sender, deliverer, pipeline, clock)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the API client, the sender's threads and the state file (releasing the lock)."""
        try:
            await self.client.aclose()
        finally:
            self.sender.close()
            self.store.close()

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
        """One full cycle for `once`: tick, then deliver what is due."""
        tick = await self.pipeline.tick()
        await self.check_key_if_unused()
        log.info("tick", **tick.as_log())
        drained = await self.drain_all()
        return tick, drained

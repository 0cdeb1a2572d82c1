"""deliver -> ack: drain the outbox through the sender, one channel independent of another.

Each due delivery is sent, then acked at once (one `record_attempt` per send, never batched),
so a crash mid-drain loses only the acks of the sends in flight: those messages go out again
on the next start, the one duplicate the design allows. A failed send is retried with
exponential backoff and jitter, and dead-lettered once it has kept failing for `horizon`.

Channels drain concurrently, and each drain takes the oldest due deliveries of each channel
(a batch per channel, so a broken channel's backlog never crowds out the others). The daemon
goes further and drains each channel in its own task (`drain(channels=[name])`), so a channel
that hangs holds only its own task, never another channel's next message. The deliveries of
one channel go oldest first, and once one fails the channel's later ones wait for the next
drain, so a drain never reorders a channel's messages. Across drains a later delivery may
overtake one still waiting for its retry: holding it back too would let one message the
channel always rejects (too long, say) block all the others for `horizon`.

A retry skips the URLs that already took the message. They are recorded by `url_key`, a
digest of the URL string (never the URL itself, which holds tokens), not by position: a
reload may reorder, add or remove a channel's URLs between two tries.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from watcher.deliver.sender import Sender, SendOutcome
from watcher.events import Attempt, Delivery

__all__ = [
    "ChannelStats",
    "Deliverer",
    "DrainSummary",
    "OutboxStore",
    "backoff_delay",
    "plan_after_failure",
    "url_key",
]


class OutboxStore(Protocol):
    """The outbox side of the state store, as the deliverer uses it.

    `due_deliveries` returns the `limit` oldest due deliveries of each channel, oldest first.
    """

    def due_deliveries(
        self, now: datetime, *, limit: int = 100, channels: Collection[str] | None = None
    ) -> list[Delivery]: ...

    def record_attempt(self, attempt: Attempt) -> None: ...

    def dead_letter(self, delivery_id: int, at: datetime, reason: str) -> None: ...


@dataclass(frozen=True, slots=True)
class DrainSummary:
    """What one drain did: sent, failed (will retry), dead-lettered, skipped (not tried)."""

    sent: int
    failed: int
    dead: int
    skipped: int


@dataclass(slots=True)
class ChannelStats:
    """Counters of one channel since start, for metrics."""

    sent: int = 0
    failed: int = 0
    dead: int = 0


def url_key(url: str) -> str:
    """The key a delivery records for a URL that took it: a digest, stable across reloads.

    16 hex digits of SHA-256: the URL holds secrets, and the state file is readable by
    whoever runs the CLI, so the URL itself is never stored.
    """
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def backoff_delay(attempts: int, *, initial: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after `attempts` failures: exponential, capped, "equal jitter".

    The base doubles from `initial` up to `cap`; the delay is drawn from [base/2, base].
    """
    if attempts < 1:
        raise ValueError(f"attempts counts failures so far and must be >= 1, not {attempts}")
    if not 0 < initial <= cap:
        raise ValueError(f"need 0 < initial <= cap, got initial={initial}, cap={cap}")
    # Past 1022 doublings any cap is reached, and 2.0**1024 would overflow.
    base = cap if attempts > 1023 else min(cap, initial * 2.0 ** (attempts - 1))
    return min(base, rng.uniform(base / 2, base))


def plan_after_failure(
    delivery: Delivery,
    now: datetime,
    outcome: SendOutcome,
    *,
    initial: float,
    cap: float,
    horizon: float,
    rng: random.Random,
    done_urls: frozenset[str],
) -> Attempt:
    """The attempt to record for a failed send: retry later, or dead once past `horizon`.

    `done_urls` are the keys (`url_key`) of the URLs that have the message so far.
    """
    first = delivery.first_attempt_at or now
    dead = (now - first).total_seconds() >= horizon
    next_attempt_at = None
    if not dead:
        delay = backoff_delay(delivery.attempts + 1, initial=initial, cap=cap, rng=rng)
        next_attempt_at = now + timedelta(seconds=max(delay, outcome.retry_after or 0.0))
    return Attempt(
        delivery_id=delivery.id,
        at=now,
        ok=False,
        reason=outcome.reason,
        done_urls=done_urls,
        next_attempt_at=next_attempt_at,
        dead=dead,
    )


@dataclass(slots=True)
class _Pass:
    """One drain's counters, and the flag that stops new sends once acking has failed."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0
    aborted: bool = False


class Deliverer:
    """Drains due deliveries through a Sender, acking each one as soon as its send returns."""

    def __init__(
        self,
        store: OutboxStore,
        sender: Sender,
        channels: Mapping[str, Sequence[str]],
        *,
        retry_initial: float,
        retry_max: float,
        horizon: float,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        log: Any | None = None,  # a structlog BoundLogger
    ) -> None:
        if not 0 < retry_initial <= retry_max:
            raise ValueError("need 0 < retry_initial <= retry_max")
        if horizon < 0:
            raise ValueError("horizon must not be negative")
        self._store = store
        self._sender = sender
        self._channels: dict[str, tuple[str, ...]] = {}
        self.update_channels(channels)
        self._initial = retry_initial
        self._cap = retry_max
        self._horizon = horizon
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._log = log if log is not None else structlog.get_logger("watcher.deliver")
        self.stats: dict[str, ChannelStats] = {}
        self._failing_since: dict[str, datetime] = {}
        self._stopped = False

    def update_channels(self, channels: Mapping[str, Sequence[str]]) -> None:
        """Use a new channel configuration from the next drain on (config reload).

        A channel without URLs counts as not configured: its deliveries are dead-lettered
        rather than acked as sent to nobody.
        """
        normalized = {
            name: (urls,) if isinstance(urls, str) else tuple(urls)
            for name, urls in channels.items()
        }
        self._channels = {name: urls for name, urls in normalized.items() if urls}

    def update_policy(self, *, retry_initial: float, retry_max: float, horizon: float) -> None:
        """Use new retry and dead-letter settings from the next failure on (config reload)."""
        if not 0 < retry_initial <= retry_max or horizon < 0:
            raise ValueError("need 0 < retry_initial <= retry_max and horizon >= 0")
        self._initial, self._cap, self._horizon = retry_initial, retry_max, horizon

    def stop(self) -> None:
        """Start no new send from now on (shutdown); sends in flight finish and are acked.

        Cutting a backlog short at a send boundary leaves the rest pending, where a grace
        period that expired mid-send would leave a sent but unacked message: a duplicate.
        """
        self._stopped = True

    async def drain(
        self,
        *,
        limit: int = 100,
        channels: Collection[str] | None = None,
        due_by: datetime | None = None,
    ) -> DrainSummary:
        """Send what is due, each channel concurrently and in order; ack each at once.

        Takes up to `limit` deliveries of each channel (of `channels` only, if given) due by
        `due_by` (default: now). A caller that drains again and again with the same `due_by`
        tries each delivery at most once: a failed one is next due after it.

        A store error while acking stops new sends, lets those in flight finish and ack, and
        is raised once every channel has stopped.
        """
        now = self._clock()
        due = self._store.due_deliveries(
            now if due_by is None else due_by, limit=limit, channels=channels
        )
        by_channel: dict[str, list[Delivery]] = {}
        for delivery in sorted(due, key=lambda d: (d.created_at, d.id)):
            by_channel.setdefault(delivery.channel, []).append(delivery)
        tally = _Pass()
        for name in [name for name in by_channel if name not in self._channels]:
            self._dead_letter_unconfigured(name, by_channel.pop(name), now, tally)
        outcomes = await asyncio.gather(
            *(
                self._drain_channel(name, self._channels[name], queue, tally)
                for name, queue in by_channel.items()
            ),
            return_exceptions=True,
        )
        for error in outcomes:
            if isinstance(error, BaseException):
                raise error
        return DrainSummary(
            sent=tally.sent, failed=tally.failed, dead=tally.dead, skipped=tally.skipped
        )

    async def _drain_channel(
        self,
        name: str,
        urls: tuple[str, ...],
        queue: list[Delivery],
        tally: _Pass,
    ) -> None:
        keys = [url_key(url) for url in urls]
        for position, delivery in enumerate(queue):
            if tally.aborted or self._stopped:
                tally.skipped += len(queue) - position
                return
            # Every line about this delivery names it, its channel and its runs (each channel
            # drains in its own task, so the binding stays in this task's context).
            with structlog.contextvars.bound_contextvars(
                delivery_id=delivery.id, channel=name, run_ids=list(delivery.run_ids)
            ):
                skip = frozenset(i for i, key in enumerate(keys) if key in delivery.done_urls)
                outcome = await self._sender.send(urls, delivery.title, delivery.body, skip=skip)
                # Keys of URLs since dropped from the channel stay: a reload that brings one
                # back must not send it the message again.
                done = delivery.done_urls | {keys[i] for i in outcome.done_urls}
                try:
                    sent = self._settle(name, delivery, outcome, done, tally)
                except BaseException:
                    # An ack that failed: no channel starts another send it could not ack.
                    tally.aborted = True
                    raise
            if not sent:
                # Later deliveries of this channel wait, so they cannot overtake this one.
                tally.skipped += len(queue) - position - 1
                return

    def _settle(
        self,
        name: str,
        delivery: Delivery,
        outcome: SendOutcome,
        done: frozenset[str],
        tally: _Pass,
    ) -> bool:
        """Ack one send, count it and track the channel's health; True when it was sent."""
        at = self._clock()
        stats = self.stats.setdefault(name, ChannelStats())
        if outcome.ok:
            self._store.record_attempt(
                Attempt(
                    delivery_id=delivery.id,
                    at=at,
                    ok=True,
                    reason=None,
                    done_urls=done,
                    next_attempt_at=None,
                )
            )
            tally.sent += 1
            stats.sent += 1
            since = self._failing_since.pop(name, None)
            if since is not None:
                failed_for = round((at - since).total_seconds(), 3)
                self._log.info("channel_recovered", channel=name, failed_for=failed_for)
            return True

        attempt = plan_after_failure(
            delivery,
            at,
            outcome,
            initial=self._initial,
            cap=self._cap,
            horizon=self._horizon,
            rng=self._rng,
            done_urls=done,
        )
        self._store.record_attempt(attempt)
        if attempt.dead:
            tally.dead += 1
            stats.dead += 1
            self._log.warning(
                "delivery_dead",
                channel=name,
                delivery_id=delivery.id,
                attempts=delivery.attempts + 1,
                reason=outcome.reason,
            )
        else:
            tally.failed += 1
            stats.failed += 1
        event = dict(
            channel=name,
            reason=outcome.reason,
            delivery_id=delivery.id,
            attempts=delivery.attempts + 1,
            next_attempt_at=attempt.next_attempt_at.isoformat()
            if attempt.next_attempt_at
            else None,
        )
        if name in self._failing_since:
            self._log.debug("channel_still_failing", **event)
        else:
            self._failing_since[name] = at
            self._log.warning("channel_failing", **event)
        return False

    def _dead_letter_unconfigured(
        self, name: str, deliveries: list[Delivery], now: datetime, tally: _Pass
    ) -> None:
        reason = f"channel '{name}' is no longer configured"
        stats = self.stats.setdefault(name, ChannelStats())
        for delivery in deliveries:
            self._store.dead_letter(delivery.id, now, reason)
            tally.dead += 1
            stats.dead += 1
            self._log.warning(
                "delivery_dead",
                channel=name,
                delivery_id=delivery.id,
                run_ids=list(delivery.run_ids),
                reason=reason,
            )
        self._failing_since.pop(name, None)

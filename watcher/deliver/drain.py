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
from datetime import datetime
from typing import Any, Literal, Protocol

import structlog

from watcher.deliver.policy import RetryPolicy
from watcher.deliver.sender import Sender, SendOutcome
from watcher.events import Attempt, Delivery

__all__ = ["Deliverer", "OutboxStore", "Outcome", "Tally", "url_key"]

Outcome = Literal["sent", "failed", "dead"]
"""What one try at a delivery came to: sent, failed (will retry) or dead (given up)."""


class OutboxStore(Protocol):
    """The outbox side of the state store, as the deliverer uses it.

    `due_deliveries` returns the `limit` oldest due deliveries of each channel, oldest first;
    `check_writable` raises StateError unless the file takes a write.
    """

    def due_deliveries(
        self, now: datetime, *, limit: int = 100, channels: Collection[str] | None = None
    ) -> list[Delivery]: ...

    def record_attempt(self, attempt: Attempt) -> None: ...

    def dead_letter(self, delivery_id: int, at: datetime, reason: str) -> None: ...

    def check_writable(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Tally:
    """What a drain did: sent, failed (will retry), dead-lettered, skipped (not tried)."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.sent + other.sent,
            self.failed + other.failed,
            self.dead + other.dead,
            self.skipped + other.skipped,
        )

    @property
    def tried(self) -> int:
        """Deliveries that were sent, failed or given up (not the skipped ones)."""
        return self.sent + self.failed + self.dead


def url_key(url: str) -> str:
    """The key a delivery records for a URL that took it: a digest, stable across reloads.

    16 hex digits of SHA-256: the URL holds secrets, and the state file is readable by
    whoever runs the CLI, so the URL itself is never stored.
    """
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass(slots=True)
class _Pass:
    """One drain's counters, and the flag that stops new sends once acking has failed."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0
    aborted: bool = False

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def tally(self) -> Tally:
        return Tally(self.sent, self.failed, self.dead, self.skipped)


def plan_after_failure(
    delivery: Delivery,
    now: datetime,
    reason: str | None,
    *,
    policy: RetryPolicy,
    rng: random.Random,
    delivered_to: frozenset[str],
) -> Attempt:
    """The attempt to record for a failed send: retry after the backoff, or dead once the
    first try is `policy.horizon` old. `delivered_to` are the keys of the URLs that have it."""
    next_attempt_at = policy.retry_at(delivery.first_attempt_at, delivery.attempts + 1, now, rng)
    dead = next_attempt_at is None
    return Attempt(
        delivery_id=delivery.id,
        at=now,
        ok=False,
        reason=reason,
        delivered_to=delivered_to,
        next_attempt_at=next_attempt_at,
        dead=dead,
    )


class Deliverer:
    """Drains due deliveries through a Sender, acking each one as soon as its send returns.

    `observe(channel, outcome)`, given by whoever builds it (the runtime, for the daemon's
    metrics), hears of every try as it is acked.
    """

    def __init__(
        self,
        store: OutboxStore,
        sender: Sender,
        channels: Mapping[str, Sequence[str]],
        *,
        policy: RetryPolicy,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        observe: Callable[[str, Outcome], None] | None = None,
        log: Any | None = None,  # a structlog BoundLogger
    ) -> None:
        self._store = store
        self._sender = sender
        self._channels: dict[str, tuple[str, ...]] = {}
        self.update_channels(channels)
        self.policy = policy
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._observe = observe
        self._log = log if log is not None else structlog.get_logger("watcher.deliver")
        self._failing_since: dict[str, datetime] = {}
        self._stopped = False

    def update_channels(self, channels: Mapping[str, Sequence[str]]) -> None:
        """Use a new channel configuration from the next drain on (config reload).

        A channel without URLs counts as not configured: its deliveries are dead-lettered
        rather than acked as sent to nobody.
        """
        self._channels = {name: tuple(urls) for name, urls in channels.items() if urls}

    def stop(self) -> None:
        """Start no new send from now on (shutdown); sends in flight finish and are acked.

        Cutting a backlog short at a send boundary leaves the rest pending, where a grace
        period that expired mid-send would leave a sent but unacked message: a duplicate.
        """
        self._stopped = True

    async def drain_due(
        self, *, channels: Collection[str] | None = None, max_rounds: int = 50
    ) -> Tally:
        """Deliver everything due now (of `channels` only, if given), each delivery tried at
        most once per call.

        Each round takes a batch of every channel, so all channels progress together; every
        round selects what was due when the call began, so a delivery that failed in one
        round (due again only after its backoff) is not retried in the next. The daemon calls
        this for one channel at a time, each in its own task.

        When something is due, the state file must first take a write: read-only or full,
        it raises StateError before any send, since a message sent but not acked would go
        out again on every pass until the file took writes again.
        """
        now = self._clock()
        total = Tally()
        if not self._store.due_deliveries(now, limit=1, channels=channels):
            return total
        self._store.check_writable()
        for _ in range(max_rounds):
            tally = await self.drain(channels=channels, due_by=now)
            total += tally
            if not tally.tried:
                break
        return total

    async def drain(
        self,
        *,
        limit: int = 100,
        channels: Collection[str] | None = None,
        due_by: datetime | None = None,
    ) -> Tally:
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
        counts = _Pass()
        for name in [name for name in by_channel if name not in self._channels]:
            self._dead_letter_unconfigured(name, by_channel.pop(name), now, counts)
        outcomes = await asyncio.gather(
            *(
                self._drain_channel(name, self._channels[name], queue, counts)
                for name, queue in by_channel.items()
            ),
            return_exceptions=True,
        )
        for error in outcomes:
            if isinstance(error, BaseException):
                raise error
        return counts.tally()

    async def _drain_channel(
        self,
        name: str,
        urls: tuple[str, ...],
        queue: list[Delivery],
        counts: _Pass,
    ) -> None:
        keys = [url_key(url) for url in urls]
        for position, delivery in enumerate(queue):
            if counts.aborted or self._stopped:
                counts.skipped += len(queue) - position
                return
            # Every line about this delivery names it, its channel and its runs (each channel
            # drains in its own task, so the binding stays in this task's context).
            with structlog.contextvars.bound_contextvars(
                delivery_id=delivery.id, channel=name, run_ids=list(delivery.run_ids)
            ):
                skip = frozenset(i for i, key in enumerate(keys) if key in delivery.delivered_to)
                outcome = await self._sender.send(
                    urls,
                    delivery.title,
                    delivery.body,
                    notify_type=delivery.notify_type,
                    skip=skip,
                    bodies=delivery.bodies,
                )
                # Keys of URLs since dropped from the channel stay: a reload that brings one
                # back must not send it the message again.
                delivered_to = delivery.delivered_to | {keys[i] for i in outcome.accepted}
                try:
                    sent = self._settle(name, delivery, outcome, delivered_to, counts)
                except BaseException:
                    # An ack that failed: no channel starts another send it could not ack.
                    counts.aborted = True
                    raise
            if not sent:
                # Later deliveries of this channel wait, so they cannot overtake this one.
                counts.skipped += len(queue) - position - 1
                return

    def _count(self, name: str, outcome: Outcome, counts: _Pass) -> None:
        counts.count(outcome)
        if self._observe is not None:
            self._observe(name, outcome)

    def _settle(
        self,
        name: str,
        delivery: Delivery,
        outcome: SendOutcome,
        delivered_to: frozenset[str],
        counts: _Pass,
    ) -> bool:
        """Ack one send, count it and track the channel's health; True when it was sent."""
        at = self._clock()
        if outcome.ok:
            self._store.record_attempt(
                Attempt(
                    delivery_id=delivery.id,
                    at=at,
                    ok=True,
                    reason=None,
                    delivered_to=delivered_to,
                    next_attempt_at=None,
                )
            )
            self._count(name, "sent", counts)
            since = self._failing_since.pop(name, None)
            if since is not None:
                failed_for = round((at - since).total_seconds(), 3)
                self._log.info("channel_recovered", channel=name, failed_for=failed_for)
            return True

        attempt = plan_after_failure(
            delivery,
            at,
            outcome.reason,
            policy=self.policy,
            rng=self._rng,
            delivered_to=delivered_to,
        )
        self._store.record_attempt(attempt)
        self._count(name, "dead" if attempt.dead else "failed", counts)
        if attempt.dead:
            self._log.warning(
                "delivery_dead",
                channel=name,
                delivery_id=delivery.id,
                attempts=delivery.attempts + 1,
                reason=outcome.reason,
            )
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
        self, name: str, deliveries: list[Delivery], now: datetime, counts: _Pass
    ) -> None:
        reason = f"channel '{name}' is no longer configured"
        for delivery in deliveries:
            self._store.dead_letter(delivery.id, now, reason)
            self._count(name, "dead", counts)
            self._log.warning(
                "delivery_dead",
                channel=name,
                delivery_id=delivery.id,
                run_ids=list(delivery.run_ids),
                reason=reason,
            )
        self._failing_since.pop(name, None)

"""Fakes for the deliver tests: a clock moved by hand and an in-memory outbox."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.events import Attempt, Delivery

START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclasses.dataclass
class _Row:
    delivery: Delivery
    next_attempt_at: datetime
    state: str = "pending"  # pending | sent | dead
    reason: str | None = None


class FakeOutbox:
    """An in-memory OutboxStore: due means pending and next_attempt_at <= now."""

    def __init__(self) -> None:
        self.rows: dict[int, _Row] = {}
        self.attempts: list[Attempt] = []
        self.fail_ack_after: int | None = None  # raise on the ack after this many

    def add(self, channel: str, body: str, created_at: datetime = START) -> int:
        delivery_id = len(self.rows) + 1
        self.rows[delivery_id] = _Row(
            Delivery(delivery_id, channel, f"title {body}", body, created_at), created_at
        )
        return delivery_id

    def due_deliveries(
        self, now: datetime, *, limit: int = 100, channels: Any = None
    ) -> list[Delivery]:
        due = [
            row
            for row in self.rows.values()
            if row.state == "pending"
            and row.next_attempt_at <= now
            and (channels is None or row.delivery.channel in channels)
        ]
        due.sort(key=lambda row: (row.next_attempt_at, row.delivery.id))
        taken: dict[str, int] = {}
        batch = []
        for row in due:  # the `limit` oldest of each channel, as the real outbox
            channel = row.delivery.channel
            if taken.get(channel, 0) < limit:
                taken[channel] = taken.get(channel, 0) + 1
                batch.append(row.delivery)
        return batch

    def record_attempt(self, attempt: Attempt) -> None:
        if self.fail_ack_after is not None and len(self.attempts) >= self.fail_ack_after:
            raise OSError("disk I/O error")
        self.attempts.append(attempt)
        row = self.rows[attempt.delivery_id]
        if attempt.ok:
            row.state = "sent"
        elif attempt.dead:
            row.state, row.reason = "dead", attempt.reason
        else:
            assert attempt.next_attempt_at is not None
            row.next_attempt_at = attempt.next_attempt_at
        row.delivery = dataclasses.replace(
            row.delivery,
            attempts=row.delivery.attempts + 1,
            first_attempt_at=row.delivery.first_attempt_at or attempt.at,
            delivered_to=attempt.delivered_to,
        )

    def check_writable(self) -> None:
        if self.fail_ack_after is not None and len(self.attempts) >= self.fail_ack_after:
            raise OSError("disk I/O error")

    def dead_letter(self, delivery_id: int, at: datetime, reason: str) -> None:
        row = self.rows[delivery_id]
        row.state, row.reason = "dead", reason

    def attempts_of(self, delivery_id: int) -> list[Attempt]:
        return [a for a in self.attempts if a.delivery_id == delivery_id]

"""Watching the watcher: the service's side of `watcher.ops`, every few seconds.

It reads what is failing from what the daemon already knows (its vitals: failed polls in a
row and the last error) and from the state file (deliveries waiting for a retry, per channel,
and what was already told), lets `watcher.ops.assess` decide, and queues the ops messages in
the outbox like any other (retried, dead-lettered, in `history`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from watcher.deliver.sender import message_limits
from watcher.events import Notification
from watcher.ops import API, Health, OpsPolicy, assess, targets
from watcher.render import compose_ops

if TYPE_CHECKING:
    from watcher.service.health import Vitals
    from watcher.service.runtime import Runtime

log = structlog.get_logger("watcher.service.opswatch")

EVERY = 2.0  # seconds between checks: a few queries, and an outage is told within seconds


class OpsWatch:
    """Decides and queues ops alerts for one daemon."""

    def __init__(self, rt: Runtime, vitals: Vitals, *, started: datetime) -> None:
        self.rt = rt
        self.vitals = vitals
        self.started = started

    def policy(self) -> OpsPolicy:
        """`ops.*` as the settings in force say (a reload applies at the next check)."""
        ops = self.rt.settings.ops
        return OpsPolicy(tuple(ops.channels), ops.api_down_after, ops.channel_failing_after)

    def health(self) -> Health:
        """What fails now: the API since its last good poll (or since start), and channels."""
        down_since = None
        if self.vitals.failures:
            last_ok = self.vitals.last_ok_wall
            last = datetime.fromtimestamp(last_ok, UTC) if last_ok is not None else self.started
            down_since = max(last, self.started)
        configured = self.rt.settings.channels
        failing = self.rt.store.failing_channels()
        return Health(
            api_down_since=down_since,
            api_error=self.vitals.last_error,
            channels_failing={n: f for n, f in failing.items() if n in configured},
        )

    def check(self) -> int:
        """Queue the ops messages due now; how many. Nothing without `ops.channels`."""
        policy = self.policy()
        if not policy.channels:
            return 0
        now = self.rt.clock()
        told_before = self.rt.store.ops_told()
        # A channel dropped from the config neither fails nor recovers: it is forgotten.
        told: dict[str, datetime | None] = {
            s: None for s in told_before if s != API and s not in self.rt.settings.channels
        }
        known = {s: since for s, since in told_before.items() if s not in told}
        alerts = assess(self.health(), known, policy, now)
        if not alerts and not told:
            return 0
        messages: list[Notification] = []
        for alert in alerts:
            to = targets(alert, policy)
            channels = self.rt.settings.channels
            messages += [
                compose_ops(alert, name, limits=message_limits(channels[name])) for name in to
            ]
            told[alert.subject] = alert.since if alert.down else None
            level = log.warning if alert.down else log.info
            level(
                "ops_alert",
                subject="api" if alert.subject == API else f"channel:{alert.subject}",
                down=alert.down,
                since=alert.since.isoformat(),
                channels=to,
                error=alert.error,
            )
        self.rt.store.queue_ops(now, messages, told)
        return len(messages)

"""deliver -> ack: drain the outbox through apprise, each channel on its own.

`Deliverer` (`watcher.deliver.drain`) takes due deliveries, sends them through the `Sender`
(`watcher.deliver.sender`, the one apprise boundary) and acks each at once; `policy` holds the
retry rules.
"""

from watcher.deliver.drain import (
    ChannelStats,
    Deliverer,
    DrainSummary,
    OutboxStore,
    backoff_delay,
    plan_after_failure,
    url_key,
)

__all__ = [
    "ChannelStats",
    "Deliverer",
    "DrainSummary",
    "OutboxStore",
    "backoff_delay",
    "plan_after_failure",
    "url_key",
]

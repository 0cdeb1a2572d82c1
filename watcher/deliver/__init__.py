"""deliver -> ack: drain the outbox through apprise, each channel on its own.

`Deliverer` (`watcher.deliver.drain`) takes due deliveries, sends them through the `Sender`
(`watcher.deliver.sender`, the one apprise boundary) and acks each at once; `policy` holds the
one backoff of polls and sends, and the retry policy.

The names that need apprise load on first use (PEP 562), so that the configuration, which
checks its retry policy here, never imports the sending side.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from watcher.deliver.policy import RetryPolicy

if TYPE_CHECKING:
    from watcher.deliver.drain import Deliverer, OutboxStore, Outcome, Tally, url_key

__all__ = ["Deliverer", "OutboxStore", "Outcome", "RetryPolicy", "Tally", "url_key"]

_LAZY = {name: "watcher.deliver.drain" for name in __all__ if name != "RetryPolicy"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

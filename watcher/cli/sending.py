"""`test-notify`: a sample alert to each channel (or one), through the real sender."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from watcher.cli.usage import channel_argument
from watcher.config import Settings
from watcher.deliver.sender import Sender
from watcher.errors import UsageError
from watcher.render import sample_alert
from watcher.service.runtime import open_sender


async def send_sample_alerts(
    settings: Settings, channel: str | None
) -> list[tuple[str, str | None]]:
    """Send the sample alert to each channel (or one); (name, failure reason or None) each."""
    if not settings.channels:
        raise UsageError("no channels configured: add one under `channels:` in the config")
    channel = channel_argument(settings, channel)
    names = [channel] if channel is not None else sorted(settings.channels)
    # Every channel at once, so hung channels cost one delivery.timeout, not one each; with a
    # thread per URL (at least), since a URL queued behind busy threads would report a
    # timeout it never had.
    threads = max(settings.delivery.concurrency, sum(len(settings.channels[n]) for n in names))
    with open_sender(settings, threads=threads) as sender:
        reasons = await asyncio.gather(
            *(_send_sample(sender, name, settings.channels[name]) for name in names)
        )
    return list(zip(names, reasons, strict=True))


async def _send_sample(sender: Sender, name: str, urls: Sequence[str]) -> str | None:
    title, body = sample_alert(name)
    outcome = await sender.send(urls, title, body)
    return None if outcome.ok else outcome.reason or "failed"

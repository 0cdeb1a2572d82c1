"""`test-notify`: a sample alert to each channel (or one), through the real sender."""

from __future__ import annotations

import asyncio

from watcher.cli.usage import channel_argument
from watcher.config import Settings
from watcher.deliver.sender import Sender
from watcher.errors import UsageError
from watcher.render import sample_alert


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
    sender = Sender(concurrency=threads, timeout=settings.delivery.timeout)

    async def one(name: str) -> str | None:
        title, body = sample_alert(name)
        outcome = await sender.send(settings.channels[name], title, body)
        return None if outcome.ok else outcome.reason or "failed"

    try:
        reasons = await asyncio.gather(*(one(name) for name in names))
    finally:
        sender.close()
    return list(zip(names, reasons, strict=True))

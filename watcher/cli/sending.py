"""`test-notify`: a realistic sample alert to each channel (or one), through the channel's
real templates, limits and body formats (`watcher.cli.rendering.preview`), and the real
sender."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from watcher.cli.rendering import ChannelPreview, preview
from watcher.cli.usage import channel_argument
from watcher.clock import utcnow
from watcher.config import Settings
from watcher.deliver.sender import Sender
from watcher.errors import UsageError
from watcher.service.runtime import open_sender
from watcher.templates.samples import sample_event


async def send_sample_alerts(
    settings: Settings, channel: str | None
) -> list[tuple[str, str | None]]:
    """Send the sample alert to each channel (or one); (name, failure reason or None) each."""
    if not settings.channels:
        raise UsageError("no channels configured: add one under `channels:` in the config")
    channel = channel_argument(settings, channel)
    previews = preview(settings, sample_event(now=utcnow()), channel, test=True)
    # Every channel at once, so hung channels cost one delivery.timeout, not one each; with a
    # thread per URL (at least), since a URL queued behind busy threads would report a
    # timeout it never had.
    urls = sum(len(settings.channels[p.channel]) for p in previews)
    threads = max(settings.delivery.concurrency, urls)
    with open_sender(settings, threads=threads) as sender:
        reasons = await asyncio.gather(
            *(_send_sample(sender, p, settings.channels[p.channel]) for p in previews)
        )
    return [(p.channel, reason) for p, reason in zip(previews, reasons, strict=True)]


async def _send_sample(sender: Sender, sample: ChannelPreview, urls: Sequence[str]) -> str | None:
    note = sample.note
    outcome = await sender.send(
        urls, note.title, note.body, notify_type=note.notify_type, bodies=note.bodies
    )
    return None if outcome.ok else outcome.reason or "failed"

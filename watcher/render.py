"""Alert text: pure functions from events to a title and a body.

Every run is named by its full id, because people paste it into the API or the UI.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from watcher.events import (
    MAX_TITLE_LENGTH,
    STUCK,
    Event,
    EventKind,
    Intent,
    MessageLimits,
    Notification,
    NotifyType,
)
from watcher.models import Run, RunStatus

MAX_FILES_LISTED = 10
_SYMBOL: dict[str, str] = {
    RunStatus.SUCCEEDED: "✅",
    RunStatus.FAILED: "❌",
    RunStatus.CANCELED: "⛔",
}


def human_duration(seconds: float) -> str:
    """A short, readable duration: 45s, 12m 5s, 3h 2m, 2d 4h."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value]
    return " ".join(shown[:2]) if shown else "0s"


def human_size(size: int) -> str:
    """Bytes as B, KB, MB, GB (decimal units, one decimal)."""
    if size < 1000:
        return f"{size} B"
    value = size / 1000
    for unit in ("KB", "MB"):
        if round(value, 1) < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def run_duration(event: Event) -> float | None:
    """Seconds from creation to completion when the API says both, else None."""
    run = event.run
    if run is None or run.created_at is None:
        return None
    end = run.completed_at or event.at
    return (end - run.created_at).total_seconds()


def _spec(run: Run | None) -> str:
    if run is None or not run.spec_name:
        return "unknown spec"
    return f"{run.spec_name} v{run.spec_version}" if run.spec_version is not None else run.spec_name


_NOTIFY_TYPE: dict[str, NotifyType] = {
    RunStatus.SUCCEEDED: NotifyType.SUCCESS,
    RunStatus.FAILED: NotifyType.FAILURE,
    RunStatus.CANCELED: NotifyType.WARNING,
    STUCK: NotifyType.WARNING,
}


def notify_type_for(events: Sequence[Event]) -> NotifyType:
    """SUCCEEDED is success, FAILED failure, CANCELED and STUCK warning; several take the
    worst."""
    types = [_NOTIFY_TYPE.get(event.alert_status or "", NotifyType.INFO) for event in events]
    return max(types, key=lambda kind: kind.severity, default=NotifyType.INFO)


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…" if limit > 0 else ""


def title_for(event: Event, limit: int = MAX_TITLE_LENGTH) -> str:
    """`✅ Dataframer run SUCCEEDED: invoice-extraction v3`, the spec shortened to fit `limit`
    (the body names it in full)."""
    status = event.to_status or "GONE"
    symbol = _SYMBOL.get(status, "•")
    prefix = f"{symbol} Dataframer run {status}: "
    room = limit - len(prefix)
    if room < 8:  # a service with tiny titles: the whole title is cut instead
        return shorten(prefix + _spec(event.run), limit)
    return prefix + shorten(_spec(event.run), room)


def body_for(event: Event) -> str:
    """Every fact someone needs to act on one finished run, one per line."""
    run = event.run
    transition = (
        f"{event.to_status} (already finished when first seen)"
        if event.kind is EventKind.FIRST_SEEN or event.from_status is None
        else f"{event.from_status} → {event.to_status}"
    )
    lines = [f"Run: {event.run_id}", f"Spec: {_spec(run)}", f"Status: {transition}"]
    duration = run_duration(event)
    if duration is not None:
        lines.append(f"Duration: {human_duration(duration)}")
    if run is not None:
        if run.samples_completed is not None or run.samples_failed is not None:
            lines.append(
                f"Samples: {run.samples_completed or 0} completed, {run.samples_failed or 0} failed"
            )
        if run.total_cost is not None:
            lines.append(f"Cost: ${run.total_cost:,.2f}")
        if run.created_by_email:
            lines.append(f"Created by: {run.created_by_email}")
        if run.dataset_name:
            lines.append(f"Dataset: {run.dataset_name}")
        if run.created_at is not None:
            lines.append(f"Created: {_utc(run.created_at)}")
        if run.completed_at is not None:
            lines.append(f"Completed: {_utc(run.completed_at)}")
        lines.extend(_files(run))
    return "\n".join(lines)


def _files(run: Run) -> list[str]:
    files = run.generated_files or []
    if not files:
        return []
    lines = [f"Generated files ({len(files)}):"]
    for item in files[:MAX_FILES_LISTED]:
        detail = ", ".join(
            part
            for part in (
                item.file_type,
                human_size(item.size_bytes) if item.size_bytes is not None else None,
            )
            if part
        )
        name = item.path or item.id or "(unnamed)"
        lines.append(f"  - {name} ({detail})" if detail else f"  - {name}")
    if len(files) > MAX_FILES_LISTED:
        lines.append(f"  … and {len(files) - MAX_FILES_LISTED} more")
    return lines


_NO_LIMITS = MessageLimits()


def render(events: Sequence[Event], limits: MessageLimits = _NO_LIMITS) -> tuple[str, str]:
    """Title and body of one message covering one or more alert events, within `limits`.

    A body too long even for one run is cut, keeping its first lines (the run's full id first).
    """
    if len(events) == 1:
        title, body = title_for(events[0], limits.title), body_for(events[0])
    else:
        counts = Counter(event.to_status or "GONE" for event in events)
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        title = shorten(f"{len(events)} Dataframer runs finished: {summary}", limits.title)
        body = "\n\n".join(_block(event) for event in events)
    return title, _cut(body, limits.body)


def _block(event: Event) -> str:
    """One run's part of a message covering several."""
    return f"{title_for(event)}\n{body_for(event)}"


_CUT_NOTE = "\n… (cut to fit the channel; `dataframer-watcher history RUN_ID` has it all)"


def _cut(body: str, limit: int) -> str:
    if len(body) <= limit:
        return body
    room = max(0, limit - len(_CUT_NOTE))
    kept = body[:room].rsplit("\n", 1)[0] if "\n" in body[:room] else body[:room]
    return (kept + _CUT_NOTE)[:limit]


def compose_messages(
    events: Sequence[Event],
    intents: Sequence[Intent],
    *,
    max_runs_per_message: int,
    limits: Mapping[str, MessageLimits] | None = None,
) -> list[Notification]:
    """Group one tick's intents per channel into messages of at most max_runs_per_message runs,
    each within its channel's limits (a run that would overflow the body starts a new message)."""
    per_channel: dict[str, list[int]] = {}
    for intent in intents:
        per_channel.setdefault(intent.channel, []).append(intent.event_index)
    result: list[Notification] = []
    for channel, indexes in per_channel.items():
        channel_limits = (limits or {}).get(channel, _NO_LIMITS)
        for chunk in _pack(events, indexes, max_runs_per_message, channel_limits.body):
            covered = [events[i] for i in chunk]
            title, body = render(covered, channel_limits)
            result.append(Notification(channel, chunk, title, body, notify_type_for(covered)))
    return result


def _pack(
    events: Sequence[Event], indexes: list[int], max_runs: int, body_limit: int
) -> list[tuple[int, ...]]:
    """Consecutive groups of at most `max_runs` runs whose joined blocks fit `body_limit`."""
    groups: list[tuple[int, ...]] = []
    current: list[int] = []
    size = 0
    for index in indexes:
        block = len(_block(events[index]))
        grown = size + block + (2 if current else 0)
        if current and (len(current) == max_runs or grown > body_limit):
            groups.append(tuple(current))
            current, grown = [], block
        current.append(index)
        size = grown
    if current:
        groups.append(tuple(current))
    return groups


def compose_digest(
    events: Sequence[Event], channel: str, *, limits: MessageLimits = _NO_LIMITS
) -> list[Notification]:
    """Held alerts of one channel as digest messages (`event_indexes` index `events`): counts
    per status, then each run by its full id, within the channel's limits. One alert alone
    reads as the alert it is."""
    if len(events) == 1:
        title, body = render(events, limits)
        return [Notification(channel, (0,), title, body, notify_type_for(events))]
    lines = [_digest_line(event) for event in events]
    groups: list[list[int]] = [[]]
    size = 0
    for index, line in enumerate(lines):
        if groups[-1] and size + len(line) + 2 > limits.body - 200:  # room for the summary
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += len(line) + 2
    notes: list[Notification] = []
    for group in groups:
        covered = [events[i] for i in group]
        counts = Counter(event.alert_status or "GONE" for event in covered)
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        title = shorten(f"Digest: {len(covered)} Dataframer runs: {summary}", limits.title)
        head = f"{len(covered)} alerts held back (a burst, or quiet hours): {summary}"
        body = _cut("\n\n".join([head, *(lines[i] for i in group)]), limits.body)
        notes.append(Notification(channel, tuple(group), title, body, notify_type_for(covered)))
    return notes


def _digest_line(event: Event) -> str:
    """One run in a digest: its status and spec, then its full id and transition."""
    status = event.alert_status or "GONE"
    symbol = _SYMBOL.get(status, "•")
    duration = run_duration(event)
    took = f" after {human_duration(duration)}" if duration is not None else ""
    change = (
        f"{event.from_status} → {event.to_status}"
        if event.from_status and event.kind is EventKind.TRANSITION
        else f"{event.to_status}"
    )
    return f"{symbol} {status}: {_spec(event.run)}{took}\nRun: {event.run_id}\nStatus: {change}"


def sample_alert(channel: str) -> tuple[str, str]:
    """The title and body `test-notify` sends."""
    return (
        "🔔 dataframer-watcher test alert",
        f"This is a test alert for channel '{channel}'. If you can read it, alerts will reach you.",
    )

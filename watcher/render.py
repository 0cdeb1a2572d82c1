"""render: pure functions from alert events to messages, through the templates.

A message has one title and a body in each format its channel's services take (text always;
Markdown for Slack-like services; HTML for email): `MessageLimits.formats`. One alert renders
through its route's template (`templates.NAME`), else the built-in ones
(`watcher/templates/builtin/`); several alerts in one message (`group`: a poll in which several
runs finished; `digest`: alerts that were held back) use the built-in layouts, each run headed
by its template's title. Every run is named by its full id, because people paste it into the
API or the UI. A template that fails to render never costs the alert: that part falls back to
the built-in one, and the message's `notes` say why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from watcher.events import (
    MAX_TITLE_LENGTH,
    Event,
    EventKind,
    Intent,
    MessageLimits,
    Notification,
    NotifyType,
)
from watcher.ops import API, OpsAlert
from watcher.templates import (
    BUILTIN,
    TEXT,
    NamedTemplate,
    Templates,
    builtin,
    render_template,
)
from watcher.templates.bodies import Rendered, bodies_for, render_part
from watcher.templates.context import (
    KIND_WORDS,
    MAX_FILES_LISTED,
    NOTIFY_TYPES,
    alert_fields,
    job_kind,
    mark_of,
    run_duration,
    status_counts,
    subject_of,
)
from watcher.templates.helpers import human_duration, human_size, shorten, utc_time

__all__ = [
    "MAX_FILES_LISTED",
    "MAX_TITLE_LENGTH",
    "Rendered",
    "body_for",
    "compose_digest",
    "compose_messages",
    "compose_ops",
    "human_duration",
    "human_size",
    "notify_type_for",
    "render",
    "render_message",
    "run_duration",
    "shorten",
    "title_for",
]

_NO_LIMITS = MessageLimits()


def notify_type_for(events: Sequence[Event]) -> NotifyType:
    """SUCCEEDED is success, FAILED failure, CANCELED and STUCK warning; several take the
    worst."""
    types = [NotifyType(NOTIFY_TYPES.get(e.alert_status or "", "info")) for e in events]
    return max(types, key=lambda kind: kind.severity, default=NotifyType.INFO)


def title_for(event: Event, limit: int = MAX_TITLE_LENGTH) -> str:
    """`✅ Dataframer run SUCCEEDED: invoice-extraction v3`, the spec shortened to fit `limit`
    (the body names it in full); a flagged alert names its flags, a stuck one says STUCK."""
    status = event.alert_status or "GONE"
    kind = KIND_WORDS.get(job_kind(event), "run")
    still = "still " if event.kind is EventKind.STUCK and event.reminder else ""
    shown = [flag for flag in event.flags if flag.upper() != status]  # not "SLOW (slow)"
    flags = f" ({', '.join(shown)})" if shown else ""
    prefix = f"{mark_of(status)} Dataframer {kind} {still}{status}{flags}: "
    room = limit - len(prefix)
    subject = subject_of(event)
    if room < 8:  # a service with tiny titles: the whole title is cut instead
        return shorten(prefix + subject, limit)
    return prefix + shorten(subject, room)


def body_for(event: Event) -> str:
    """The built-in plain-text body of one alert: every fact, one per line, the id first."""
    fields = alert_fields(event)
    text, _ = render_template(builtin("alert", TEXT), {**fields, "alert": fields})
    return text


def render(events: Sequence[Event], limits: MessageLimits = _NO_LIMITS) -> tuple[str, str]:
    """Title and plain-text body of one message covering `events`, with the built-in
    templates, within `limits`."""
    rendered = render_message(events, limits)
    return rendered.title, rendered.body


def render_message(
    events: Sequence[Event],
    limits: MessageLimits = _NO_LIMITS,
    *,
    templates: Templates = BUILTIN,
    template: str | None = None,
    channel: str | None = None,
    test: bool = False,
) -> Rendered:
    """The message covering `events` (one alert, or several in the `group` layout) for a
    channel with `limits`, through `template` (a name in `templates`; None: built-in).

    A body too long for the channel is cut, keeping its first lines (the run's full id
    first); an HTML body that does not fit is left out (the sender sends the text one).
    """
    chosen = templates.get(template)
    notes: list[str] = []
    alerts = [_fields(e, templates, chosen, limits, notes) for e in events]
    base = {"channel": channel, "test": test}
    if len(alerts) == 1:
        alert = alerts[0]
        title = alert["title"]
        context = {**base, **alert, "alert": alert}
        bodies = bodies_for("alert", context, chosen, limits, notes)
    else:
        summary = ", ".join(f"{n} {status}" for status, n in status_counts(events))
        finished = all(e.kind not in (EventKind.STUCK, EventKind.SLOW) for e in events)
        noun = "Dataframer runs finished" if finished else "Dataframer alerts"
        title = shorten(f"{len(events)} {noun}: {summary}", limits.title)
        context = _many(base, alerts, events, title, summary)
        bodies = bodies_for("group", context, None, limits, notes)
    return Rendered(_test_title(title, limits, test), bodies, tuple(dict.fromkeys(notes)))


def _test_title(title: str, limits: MessageLimits, test: bool) -> str:
    return shorten(f"[test] {title}", limits.title) if test else title


def _many(
    base: dict[str, Any],
    alerts: list[dict[str, Any]],
    events: Sequence[Event],
    title: str,
    summary: str,
) -> dict[str, Any]:
    return {
        **base,
        "alerts": alerts,
        "counts": status_counts(events),
        "summary": summary,
        "total": len(alerts),
        "title": title,
        "notify_type": str(notify_type_for(events)),
    }


def _fields(
    event: Event,
    templates: Templates,
    chosen: NamedTemplate | None,
    limits: MessageLimits,
    notes: list[str],
) -> dict[str, Any]:
    """One alert's variables, its link rendered, its title (the template's, or built-in)."""
    fields = alert_fields(event)
    if templates.run_url is not None:
        url = render_part(templates.run_url, fields, "alerts.run_url", notes)
        if url:
            fields = alert_fields(event, run_url=url)
    mine = None
    if chosen is not None and chosen.title is not None:
        mine = render_part(chosen.title, fields, f"templates.{chosen.name}.title", notes)
    duration = fields["duration"]
    took = f" after {duration}" if duration and not fields["stuck"] else ""
    if mine and mine.strip():  # a title is one line: a template's newlines are spaces
        fields["title"] = fields["headline"] = shorten(" ".join(mine.split()), limits.title)
    else:
        fields["title"] = title_for(event, limits.title)
        fields["headline"] = f"{fields['mark']} {fields['status']}: {fields['spec']}{took}"
    return fields


def _note(
    channel: str, event_indexes: tuple[int, ...], rendered: Rendered, kind: NotifyType
) -> Notification:
    return Notification(
        channel,
        event_indexes,
        rendered.title,
        rendered.body,
        kind,
        bodies=dict(rendered.bodies),
        notes=rendered.notes,
    )


def compose_messages(
    events: Sequence[Event],
    intents: Sequence[Intent],
    *,
    max_runs_per_message: int,
    limits: Mapping[str, MessageLimits] | None = None,
    templates: Templates = BUILTIN,
) -> list[Notification]:
    """Group one tick's intents per channel and template into messages of at most
    `max_runs_per_message` runs, each within its channel's limits (a run that would overflow
    the body starts a new message)."""
    groups: dict[tuple[str, str | None], list[int]] = {}
    for intent in intents:
        groups.setdefault((intent.channel, intent.template), []).append(intent.event_index)
    result: list[Notification] = []
    for (channel, template), indexes in groups.items():
        channel_limits = (limits or {}).get(channel, _NO_LIMITS)
        for chunk in _pack(events, indexes, max_runs_per_message, channel_limits.body):
            covered = [events[i] for i in chunk]
            rendered = render_message(
                covered, channel_limits, templates=templates, template=template, channel=channel
            )
            result.append(_note(channel, chunk, rendered, notify_type_for(covered)))
    return result


def _pack(
    events: Sequence[Event], indexes: list[int], max_runs: int, body_limit: int
) -> list[tuple[int, ...]]:
    """Consecutive groups of at most `max_runs` runs whose joined blocks fit `body_limit`."""
    groups: list[tuple[int, ...]] = []
    current: list[int] = []
    size = 0
    for index in indexes:
        block = len(title_for(events[index])) + 1 + len(body_for(events[index]))
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
    events: Sequence[Event],
    channel: str,
    *,
    limits: MessageLimits = _NO_LIMITS,
    templates: Templates = BUILTIN,
    template: str | None = None,
) -> list[Notification]:
    """Held alerts of one channel (and route template) as digest messages: counts per status,
    then each run by its full id, within the channel's limits; `event_indexes` index
    `events`. One alert alone reads as the alert it is (through `template`)."""
    if len(events) == 1:
        rendered = render_message(
            events, limits, templates=templates, template=template, channel=channel
        )
        return [_note(channel, (0,), rendered, notify_type_for(events))]
    notes: list[str] = []
    chosen = templates.get(template)
    alerts = [_fields(e, templates, chosen, limits, notes) for e in events]
    sizes = [len(a["headline"]) + len(a["run_id"]) + len(a["transition"]) + 40 for a in alerts]
    groups: list[list[int]] = [[]]
    size = 0
    for index, line in enumerate(sizes):
        if groups[-1] and size + line > limits.body - 200:  # room for the summary
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += line
    result: list[Notification] = []
    for group in groups:
        covered = [events[i] for i in group]
        summary = ", ".join(f"{n} {status}" for status, n in status_counts(covered))
        title = shorten(f"Digest: {len(covered)} Dataframer runs: {summary}", limits.title)
        context = _many(
            {"channel": channel, "test": False}, [alerts[i] for i in group], covered, title, summary
        )
        bodies = bodies_for("digest", context, None, limits, notes)
        rendered = Rendered(title, bodies, tuple(dict.fromkeys(notes)))
        result.append(_note(channel, tuple(group), rendered, notify_type_for(covered)))
    return result


def compose_ops(
    alert: OpsAlert, channel: str, *, limits: MessageLimits = _NO_LIMITS
) -> Notification:
    """The message about the watcher's own health (`watcher.ops`) for one channel: failure
    while down, success on recovery; built-in templates in every format the channel takes."""
    rendered = render_ops(alert, limits)
    kind = NotifyType.FAILURE if alert.down else NotifyType.SUCCESS
    return _note(channel, (), rendered, kind)


def render_ops(alert: OpsAlert, limits: MessageLimits = _NO_LIMITS) -> Rendered:
    """Title and bodies of an ops alert: what is down since when, the last error, or its
    recovery and how long it lasted."""
    what = "the Dataframer API" if alert.subject == API else f"channel '{alert.subject}'"
    since = utc_time(alert.since)
    lasted = human_duration((alert.at - alert.since).total_seconds())
    if alert.down:
        problem = "unreachable" if alert.subject == API else "failing"
        title = f"🚨 dataframer-watcher: {what} is {problem}"
        sentence = f"{what[0].upper()}{what[1:]} has been {problem} since {since} ({lasted})."
        reassurance = "Nothing is lost: " + (
            "polling goes on, backing off, and picks up every change once it answers."
            if alert.subject == API
            else "its alerts are retried, and go out once it takes them again."
        )
    else:
        again = "reachable again" if alert.subject == API else "delivering again"
        title = f"✅ dataframer-watcher: {what} is {again}"
        sentence = (
            f"{what[0].upper()}{what[1:]} is {again}, after {lasted} of failure (since {since})."
        )
        reassurance = ""
    title = shorten(title, limits.title)
    ops = {
        "subject": alert.subject,
        "api": alert.subject == API,
        "what": what,
        "down": alert.down,
        "since": alert.since,
        "at": alert.at,
        "lasted": lasted,
        "error": alert.error,
        "sentence": sentence,
        "reassurance": reassurance,
    }
    context = {"ops": ops, "title": title, "notify_type": "failure" if alert.down else "success"}
    notes: list[str] = []
    return Rendered(title, bodies_for("ops", context, None, limits, notes), ())

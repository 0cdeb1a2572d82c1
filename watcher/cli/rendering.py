"""`render`: what each channel would get for a run (or a sample), without sending anything.

It goes the way of a real send: the tick policy the daemon would use (routes, each channel's
limits and formats, the compiled templates), `route` to find which channels the alert goes
to and with which template, `compose_messages` to write it, and the sender's `choose_body` to
pick, per URL, the body format its service takes. `test-notify` previews the same way, then
sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.api import DataframerClient
from watcher.assess import assess_all
from watcher.cli.base import run_async
from watcher.cli.usage import channel_argument
from watcher.clock import utcnow
from watcher.config import Settings, resolve_api_key
from watcher.deliver.sender import choose_body, text_part
from watcher.errors import UsageError
from watcher.events import SLOW, Event, EventKind, Intent, MessageLimits, Notification
from watcher.kinds import kind_info
from watcher.models import Job, is_terminal
from watcher.pipeline import TickPolicy
from watcher.plugins import apprise_plugin
from watcher.render import compose_messages, notify_type_for, render_message
from watcher.route import route
from watcher.run_refs import kind_name
from watcher.service.runtime import tick_policy
from watcher.state import Store
from watcher.templates import HTML
from watcher.templates.samples import sample_event

__all__ = ["ChannelPreview", "load_event", "preview", "preview_text", "render_command"]

_SERVICE_UNKNOWN = "a URL apprise cannot use"


@dataclass(frozen=True, slots=True)
class ChannelPreview:
    """What one channel would get: the message, and per URL its service and body format.
    `routed` says whether a route sends this alert there (`render` shows the others too)."""

    channel: str
    routed: bool
    template: str | None
    note: Notification
    urls: tuple[tuple[str, str], ...]  # (service name, format) per URL, in the channel's order


def _sample(status: str, kind: str = "run") -> Event:
    return sample_event(status, now=utcnow(), kind=kind)


async def load_event(
    settings: Settings, run_id: str | None, status: str | None, kind: str = "run"
) -> Event:
    """The alert to show: a sample (`status`, `kind`), or the run `run_id` as the state file
    holds it, else as the API answers (key and base URL from the config)."""
    if run_id is None:
        return _sample(status or "SUCCEEDED", kind)
    run = _stored(settings, run_id)
    if run is None:
        config = settings.dataframer
        async with DataframerClient(
            config.base_url, resolve_api_key(settings), timeout=config.timeout
        ) as client:
            run = await client.get_job(run_id)
    return _as_alert(run, utcnow())


def _stored(settings: Settings, run_id: str) -> Job | None:
    path = settings.state.path
    if not path.exists():
        return None
    with Store.open(path, create=False) as store:
        return store.stored_run(run_id)


def _as_alert(run: Job, now: datetime) -> Event:
    """The alert a run's last status raises: a finished run as just finished (from
    PROCESSING); one still going as if it had just reached its status."""
    return Event(
        run_id=run.ref,
        kind=EventKind.TRANSITION,
        from_status="PROCESSING" if is_terminal(run.status) else None,
        to_status=run.status,
        at=run.completed_at or now,
        alert=True,
        run=run,
        previous_since=run.created_at,
    )


def preview(
    settings: Settings, event: Event, channel: str | None, *, test: bool = False
) -> list[ChannelPreview]:
    """What each configured channel (or `channel`) would get for `event`."""
    policy = tick_policy(settings)
    # As a tick does: flags on the run's numbers first, then the routes match on them.
    (event,) = assess_all((event,), policy.thresholds)
    routed = route([event], policy.routes, policy.channels, now=utcnow())
    intents = {i.channel: i for i in routed}
    names = [channel] if channel is not None else sorted(settings.channels)
    previews = []
    for name in names:
        intent = intents.get(name, Intent(0, name))
        note = _compose(policy, event, intent, test=test)
        urls = tuple(_choice(url, note) for url in settings.channels[name])
        previews.append(ChannelPreview(name, name in intents, intent.template, note, urls))
    return previews


def _compose(policy: TickPolicy, event: Event, intent: Intent, *, test: bool) -> Notification:
    if not test:
        [note] = compose_messages(
            [event],
            [intent],
            max_runs_per_message=policy.max_runs_per_message,
            limits=policy.limits,
            templates=policy.templates,
        )
        return note
    limits = policy.limits.get(intent.channel, MessageLimits())
    rendered = render_message(
        [event],
        limits,
        templates=policy.templates,
        template=intent.template,
        channel=intent.channel,
        test=True,
    )
    return Notification(
        intent.channel,
        (0,),
        rendered.title,
        rendered.body,
        notify_type_for([event]),
        bodies=dict(rendered.bodies),
        notes=rendered.notes,
    )


def _choice(url: str, note: Notification) -> tuple[str, str]:
    plugin = apprise_plugin(url)
    fmt, _ = choose_body(plugin, note.body, note.bodies)
    name = str(getattr(plugin, "service_name", "") or "") if plugin is not None else ""
    return name or _SERVICE_UNKNOWN, fmt


def builtin_preview(event: Event) -> ChannelPreview:
    """No channel configured: the built-in message in every format."""
    rendered = render_message([event])
    note = Notification(
        "", (0,), rendered.title, rendered.body, notify_type_for([event]), rendered.bodies
    )
    return ChannelPreview("(none configured: the built-in templates)", False, None, note, ())


def preview_text(previews: Sequence[ChannelPreview]) -> str:
    """`render`'s output: per channel, the title and notify type, then each body its URLs
    get, the format named, and the text part apprise derives from an HTML body."""
    out: list[str] = []
    for p in previews:
        head = f"=== channel {p.channel}"
        if p.template:
            head += f", template {p.template}"
        if p.urls and not p.routed:
            head += " (no route sends this alert here; shown as it would read)"
        out += [head + " ===", f"Title: {p.note.title}", f"Type: {p.note.notify_type}"]
        by_format: dict[str, list[str]] = {}
        for index, (service, fmt) in enumerate(p.urls, start=1):
            by_format.setdefault(fmt, []).append(f"url {index} ({service})")
        if not p.urls:
            by_format = {fmt: [] for fmt in p.note.bodies}
        for fmt, who in by_format.items():
            body = p.note.bodies.get(fmt, p.note.body)
            out += ["", f"--- {fmt} body" + (f" for {', '.join(who)}" if who else "") + " ---"]
            out.append(body)
            if fmt == HTML:
                out += ["", "--- its plain-text part, as apprise derives it ---", text_part(body)]
        out.append("")
    return "\n".join(out).rstrip("\n")


def render_command(
    settings: Settings,
    *,
    run_id: str | None,
    sample: bool,
    status: str | None,
    channel: str | None,
    kind: str | None = None,
) -> tuple[str, list[str]]:
    """`render`'s output and its warnings (a template that fell back, a name that rendered
    blank, a run still under way). Raises UsageError on conflicting options."""
    if (run_id is None) == (not sample):
        raise UsageError("give exactly one of --run RUN_ID and --sample")
    if status is not None and not sample:
        raise UsageError("--status goes with --sample (a run's status is its own)")
    if kind is not None and not sample:
        raise UsageError("--kind goes with --sample (a run's kind is in its reference)")
    name = channel_argument(settings, channel)
    wanted = status.upper() if status else None
    job_kind = kind_name(kind or "run") or "run"
    if wanted == SLOW and not kind_info(job_kind).progress:
        raise UsageError(
            f"--status SLOW goes with a kind that reports progress (run), not {job_kind}"
        )
    event = run_async(load_event(settings, run_id, wanted, job_kind))
    problems = []
    # A STUCK or SLOW alert is about a run under way: that is no surprise worth a warning.
    if event.kind not in (EventKind.STUCK, EventKind.SLOW) and not is_terminal(event.to_status):
        problems.append(
            f"run {event.run_id} is {event.to_status or 'without a status'}, not finished:"
            " shown as the alert it would raise at that status"
        )
    found = preview(settings, event, name) if settings.channels else [builtin_preview(event)]
    problems += [problem for p in found for problem in p.note.notes]
    return preview_text(found), list(dict.fromkeys(problems))

"""The values that flow through the pipeline: snapshots in, events and notifications out.

fetch -> detect -> route -> record -> deliver -> ack; every stage speaks these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from watcher.models import Job


class Source(StrEnum):
    """How a run came to be watched."""

    EXPLICIT = "explicit"  # named by `track` or track.runs
    DISCOVERED = "discovered"  # found through the list endpoint (track.all)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the watcher last knew of one run; the row `detect` compares an observation against.

    The stuck-run fields (`alerts.stuck`, see `watcher.stuck`): `progress_at` is when the run
    last moved (first sight, a new status, a new `samples_completed`); `stuck_since` is when
    the last stall the watcher reported began (the run's `progress_at` then), None if it was
    never reported stuck; `stuck_notified_at` when that stall was last told (its STUCK alert or
    latest reminder); `stuck_ended_at` when the run moved again, ending it (None while it goes
    on). A reported stall stays on record after it ends, so the final alert can say it.
    """

    run_id: str
    source: Source
    status: str | None  # None: tracked but not observed yet
    status_since: datetime | None = None
    first_seen: datetime | None = None
    last_polled: datetime | None = None
    gone: bool = False
    muted: bool = False  # untracked by hand: kept so discovery does not announce it again
    run: Job | None = None
    progress_at: datetime | None = None
    stuck_since: datetime | None = None
    stuck_notified_at: datetime | None = None
    stuck_ended_at: datetime | None = None

    @property
    def stuck(self) -> bool:
        """Reported stuck and not moved since: the stall (the episode) is still going on."""
        return self.stuck_since is not None and self.stuck_ended_at is None


class NotifyType(StrEnum):
    """How an alert presents itself to services that colour or rank by type (apprise's types)."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"

    @property
    def severity(self) -> int:
        """Its rank: a message covering several alerts takes the worst (highest) type."""
        return _SEVERITY[self]


_SEVERITY = {
    NotifyType.INFO: 0,
    NotifyType.SUCCESS: 1,
    NotifyType.WARNING: 2,
    NotifyType.FAILURE: 3,
}


class EventKind(StrEnum):
    """What happened to a run between two observations."""

    FIRST_SEEN = "first_seen"  # first observation of a run (from no status to one)
    TRANSITION = "transition"  # the status changed
    GONE = "gone"  # the API answered 404 for it: deleted
    STUCK = "stuck"  # no move for too long (alerts.stuck): its status is unchanged
    SLOW = "slow"  # much slower than its spec's earlier runs (alerts.slow_below): once per run


STUCK = "STUCK"
"""The status routes name for a stuck-run alert (a run's own status stays what it was)."""
SLOW = "SLOW"
"""The status routes name for a slow-run alert (`alerts.slow_below`), likewise."""


@dataclass(frozen=True, slots=True)
class Event:
    """One change detect found; `alert` marks the ones people are told about.

    `flags` (quality, cost) and `reasons` (their explanation, in words) come from assessing a
    finished run against `alerts.*`; `stuck_for` is how long a stuck run has not moved (on its
    STUCK alert), or had not moved before it finished (on its final alert); `reminder` marks a
    repeated STUCK alert.
    """

    run_id: str
    kind: EventKind
    from_status: str | None
    to_status: str | None
    at: datetime
    alert: bool
    run: Job | None = None
    # When the previous status began, so an alert can say how long the run took.
    previous_since: datetime | None = None
    flags: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    stuck_for: float | None = None
    reminder: bool = False

    @property
    def alert_status(self) -> str | None:
        """What routes match this alert on: its new status, or STUCK."""
        if self.kind is EventKind.SLOW:
            return SLOW
        return STUCK if self.kind is EventKind.STUCK else self.to_status


@dataclass(frozen=True, slots=True)
class Observation:
    """What one tick's fetch saw.

    `runs` are the runs the API returned; `missing` the ids it confirmed gone (404);
    `baseline` is True on a first discovery pass, whose new runs are recorded silently: of
    every kind, or only of those in `baseline_kinds` when it names some (a kind added to
    `track.kinds` later gets a silent first pass of its own).
    """

    runs: tuple[Job, ...]
    missing: frozenset[str] = frozenset()
    baseline: bool = False
    baseline_kinds: frozenset[str] = frozenset()

    def silent(self, job: Job) -> bool:
        """Whether this observation of `job` is part of a silent baseline."""
        return self.baseline and (not self.baseline_kinds or job.kind in self.baseline_kinds)


@dataclass(frozen=True, slots=True)
class Detection:
    """detect's output: the snapshots to write and the events to record."""

    snapshots: tuple[Snapshot, ...]
    events: tuple[Event, ...]


@dataclass(frozen=True, slots=True)
class Intent:
    """route's output: deliver this alert event (by index into the tick's events) to a channel,
    with the route's template (None: the built-in ones); `hold_until` keeps it back until
    then (the end of the route's quiet hours), to go out in a digest."""

    event_index: int
    channel: str
    template: str | None = None
    hold_until: datetime | None = None


class HoldReason(StrEnum):
    """Why an alert waits."""

    QUIET_HOURS = "quiet_hours"
    DIGEST = "digest"


@dataclass(frozen=True, slots=True)
class Window:
    """A channel's current burst window, and how many alerts went out at once in it."""

    started_at: datetime
    ends_at: datetime
    sent: int


@dataclass(frozen=True, slots=True)
class Held:
    """An alert that waits until `until` (quiet hours' end, or its digest window's end)."""

    intent: Intent
    until: datetime
    why: HoldReason


@dataclass(frozen=True, slots=True)
class Suppressed:
    """An alert a mute silenced."""

    intent: Intent
    mute_id: str


MAX_TITLE_LENGTH = 80  # a title that shows whole as an email subject in most mail clients
DEFAULT_BODY_LIMIT = 32_768  # apprise's own default body limit (json://, mailto://, ...)
# The body formats a message can carry (apprise's names): plain text always, Markdown for
# Slack-like services, HTML for email.
BODY_FORMATS: frozenset[str] = frozenset({"text", "markdown", "html"})


@dataclass(frozen=True, slots=True)
class MessageLimits:
    """How long one channel's titles and bodies may be (the smallest its services accept),
    and the body formats its services take (`watcher.deliver.sender.message_limits`)."""

    title: int = MAX_TITLE_LENGTH
    body: int = DEFAULT_BODY_LIMIT
    formats: frozenset[str] = BODY_FORMATS


@dataclass(frozen=True, slots=True)
class Notification:
    """One message to one channel covering one or more alert events (indexes into events).

    `body` is plain text (what `history` shows, what every service can take); `bodies` the
    body in each format the channel's services take (format -> body, `text` among them when
    set), from which the sender picks per URL; `notes` what went wrong in a template while
    composing it (a fallback to the built-in one, a name that rendered blank), to be logged.
    """

    channel: str
    event_indexes: tuple[int, ...]
    title: str
    body: str
    notify_type: NotifyType = NotifyType.INFO
    bodies: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """An action a route asks for on one finished run's alert (by index into the tick's
    events): `spec` is what the outbox keeps to run it (`exec` argv and `timeout`, or
    `download` DIR), `run_kind` the job kind; `muted_by` the mute that suppresses it."""

    event_index: int
    kind: str  # "exec" or "download"
    spec: Mapping[str, object]
    label: str
    run_kind: str = "run"
    muted_by: str | None = None


@dataclass(frozen=True, slots=True)
class TickRecord:
    """Everything one tick writes, in ONE transaction (the transactional outbox)."""

    at: datetime
    snapshots: tuple[Snapshot, ...]
    events: tuple[Event, ...]
    notifications: tuple[Notification, ...]
    baseline_done: bool = False  # set the "discovery baseline taken" flag (generation runs)
    baseline_kinds: frozenset[str] = frozenset()  # the kinds whose baseline this tick took
    # Alerts that wait (quiet hours, the rest of a digest burst) or that a mute silenced, and
    # the channels' digest windows as this tick left them (`watcher.hold`).
    held: tuple[Held, ...] = ()
    suppressed: tuple[Suppressed, ...] = ()
    windows: Mapping[str, Window] = field(default_factory=dict)
    # The routes' actions on finished runs, queued beside the deliveries (`watcher.actions`).
    actions: tuple[PlannedAction, ...] = ()


@dataclass(frozen=True, slots=True)
class Delivery:
    """A pending notification for one channel, as the outbox holds it."""

    id: int
    channel: str
    title: str
    body: str
    created_at: datetime
    attempts: int = 0
    first_attempt_at: datetime | None = None
    # Keys (`watcher.deliver.url_key`: a digest, never the URL, which holds secrets) of the
    # URLs that already accepted this message: a retry skips them, wherever a reload has
    # moved them in the channel's list.
    delivered_to: frozenset[str] = field(default_factory=frozenset)
    run_ids: tuple[str, ...] = ()
    notify_type: NotifyType = NotifyType.INFO
    bodies: Mapping[str, str] = field(default_factory=dict)  # format -> body, as composed


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one try at sending a delivery, as `deliver` reports it to the outbox."""

    delivery_id: int
    at: datetime
    ok: bool
    reason: str | None  # redacted failure reason, None on success
    delivered_to: frozenset[str]  # keys of the URLs that have accepted the message so far
    next_attempt_at: datetime | None  # when to retry; None when sent or dead
    dead: bool = False

"""One poll tick, stage by stage: fetch -> detect -> assess -> route -> record.

The routes' actions on finished runs are planned beside the intents and recorded with them.

Delivery (deliver -> ack) drains the outbox separately, so a slow channel never delays polling.
A tick decides with a frozen `TickPolicy` (routes, channel names, discovery, grouping, stuck
runs), never with the whole settings; a config reload hands the pipeline a new one between two
ticks. With `alerts.stuck`, the runs detect's snapshots show past a threshold are read again
in detail after detect, and only those the read confirms unchanged get their STUCK alert.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from watcher.actions.plan import ActionRule, plan_actions
from watcher.api import DataframerClient
from watcher.assess import Thresholds, assess_all
from watcher.detect import detect
from watcher.discover import DiscoveryFilter
from watcher.errors import ApiError, StateConflict
from watcher.events import (
    Event,
    EventKind,
    MessageLimits,
    Notification,
    PlannedAction,
    Snapshot,
    TickRecord,
)
from watcher.fetch import FetchReport, enrich, is_active, observe, reread
from watcher.hold import Decision, DigestPolicy, hold, silencing
from watcher.models import KNOWN_STATUSES
from watcher.render import compose_digest, compose_messages
from watcher.route import RouteRule, job_kind, route
from watcher.state import Store
from watcher.state.alerts import HeldAlert, Release
from watcher.state.record import baseline_key
from watcher.stuck import StuckRules, candidates, decide, stall_of
from watcher.templates import BUILTIN, Templates

log = structlog.get_logger("watcher.pipeline")

# A `track`/`untrack` landing mid-tick makes the record stage refuse; the tick is redone from
# the new state this many times before the conflict counts as a failed tick.
REDOS = 2


@dataclass(frozen=True, slots=True)
class TickPolicy:
    """What a tick decides with: the routes in order, the configured channels' names, whether
    to discover every run (`track.all`), how many runs one message may group, how long
    each channel's titles and bodies may be (what its services accept), the quality and
    cost thresholds that flag an alert (`alerts.failure_rate_above`, `alerts.cost_above`),
    how a channel's bursts are paced (`alerts.digest`), and when a run is stuck
    (`alerts.stuck`; None: never), and the routes whose actions run on finished runs."""

    routes: tuple[RouteRule, ...]
    channels: tuple[str, ...]
    track_all: bool
    max_runs_per_message: int
    limits: Mapping[str, MessageLimits] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    digest: DigestPolicy | None = None
    stuck: StuckRules | None = None
    templates: Templates = BUILTIN
    # The kinds discovery reads (`track.kinds`) and which new jobs it tracks (`track.filter`).
    track_kinds: tuple[str, ...] = ("run",)
    track_filter: DiscoveryFilter = field(default_factory=DiscoveryFilter)
    # The routes again, when any has actions (else empty: no action is ever planned).
    action_routes: tuple[ActionRule, ...] = ()


@dataclass(frozen=True)
class TickSummary:
    """Counts from one tick, logged as its one summary line and kept for health and metrics."""

    at: datetime
    observed: int
    events: int
    alerts: int
    notifications: int
    requests: int
    run_errors: int
    baseline: bool
    tracked_active: int
    # New status -> how many runs changed to it ("GONE" for vanished runs); the baseline's
    # silent first sightings are an inventory, not changes, and are left out.
    transitions: dict[str, int] = dataclasses.field(default_factory=dict)
    stuck: int = 0  # STUCK alerts this tick, reminders included (not transitions)
    # The same changes by (kind, new status), for the metrics' kind label.
    kind_transitions: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    actions: int = 0  # actions queued (`routes[].actions`), muted ones left out

    def as_log(self) -> dict[str, object]:
        """The fields of the tick summary log line."""
        fields = dataclasses.asdict(self)
        del fields["at"], fields["kind_transitions"]
        return fields


class Pipeline:
    """Holds what a tick needs (policy, store, API client) and runs one tick at a time.

    `policy` is replaced whole on a config reload; each tick reads it once, at its start.
    """

    def __init__(
        self,
        policy: TickPolicy,
        store: Store,
        client: DataframerClient,
        *,
        clock: Callable[[], datetime],
    ) -> None:
        self.policy = policy
        self.store = store
        self.client = client
        self.clock = clock

    async def tick(self) -> TickSummary:
        """Fetch, detect, route and record once. Raises ApiError or StateError when it cannot.

        A `track`/`untrack` that lands on a run while the tick decides about it makes the
        record stage refuse; the tick is then redone from the new state, up to `REDOS` times,
        after which the StateConflict is raised (a failed tick, not a state-file failure).
        """
        for _ in range(REDOS):
            try:
                return await self._tick(self.policy)
            except StateConflict as exc:
                log.info("tick_redone", reason=str(exc))
        try:
            return await self._tick(self.policy)
        except StateConflict as exc:
            raise StateConflict(
                f"a track or untrack kept landing during the tick ({REDOS + 1} tries);"
                " it recorded nothing"
            ) from exc

    async def _tick(self, policy: TickPolicy) -> TickSummary:
        now = self.clock()
        snapshots = self.store.snapshots()
        track_all = policy.track_all
        # Each discovered kind takes its own silent first pass, also one added to it later.
        pending = {k for k in policy.track_kinds if self.store.get_meta(baseline_key(k)) is None}
        flt = policy.track_filter
        report = await observe(
            self.client,
            snapshots,
            track_all=track_all,
            baseline=bool(pending),
            kinds=policy.track_kinds,
            pending_baselines=pending,
            admit=flt.admits if flt.active else None,
        )
        silent = report.observation.baseline_kinds
        baseline = bool(silent)
        for run_id, error in report.run_errors.items():
            log.warning("run_fetch_failed", run_id=run_id, error=str(error))
        detection = detect(snapshots, report.observation, now)
        written, stuck_events = await self._stuck(policy.stuck, detection.snapshots, report, now)
        # Flags are set on the detail read's numbers, before routes match on them.
        events = assess_all(await self._enriched(detection.events), policy.thresholds)
        events += stuck_events
        intents = route(events, policy.routes, policy.channels, now=now)
        wants_actions = bool(policy.action_routes) and any(e.alert for e in events)
        mutes = self.store.mutes(now) if intents or wants_actions else ()
        actions = (
            plan_actions(events, policy.action_routes, mutes=mutes, now=now)
            if wants_actions
            else ()
        )
        decision = hold(
            events,
            intents,
            mutes=mutes,
            windows=self.store.digest_windows() if intents and policy.digest else {},
            digest=policy.digest,
            now=now,
        )
        notes = compose_messages(
            events,
            decision.now,
            # Paced by a digest, the first alerts of a burst go one message each: the digest
            # is what groups them.
            max_runs_per_message=1 if policy.digest else policy.max_runs_per_message,
            limits=policy.limits,
            templates=policy.templates,
        )
        _log_notes(notes)
        self.store.record(
            TickRecord(
                at=now,
                snapshots=written,
                events=events,
                notifications=tuple(notes),
                baseline_done="run" in silent,
                baseline_kinds=silent,
                held=decision.held,
                suppressed=decision.suppressed,
                windows=decision.windows,
                actions=actions,
            )
        )
        _log_decision(events, decision)
        _log_actions(events, actions)
        channels_of: dict[int, list[str]] = {}
        for intent in intents:
            channels_of.setdefault(intent.event_index, []).append(intent.channel)
        for index, event in enumerate(events):
            _log_event(event, channels_of.get(index, []))
        _log_unstuck(snapshots, written, now)
        changes = [
            (job_kind(e), "GONE" if e.kind is EventKind.GONE else str(e.to_status))
            for e in events
            if e.kind is not EventKind.STUCK
            and not (e.kind is EventKind.FIRST_SEEN and e.run is not None and e.run.kind in silent)
        ]
        return TickSummary(
            at=now,
            observed=len(report.observation.runs),
            events=len(events),
            alerts=sum(1 for e in events if e.alert),
            notifications=len(notes),
            requests=report.requests,
            run_errors=len(report.run_errors),
            baseline=baseline,
            tracked_active=sum(1 for s in self.store.snapshots().values() if is_active(s)),
            transitions=dict(Counter(status for _, status in changes)),
            kind_transitions=dict(Counter(changes)),
            stuck=len(stuck_events),
            actions=sum(1 for a in actions if a.muted_by is None),
        )

    def release(self) -> int:
        """Send the held alerts whose wait is over (quiet hours ended, a digest window closed):
        per channel (and template) one digest, queued in the outbox in one transaction; a mute
        set meanwhile still silences them. Returns how many messages it queued."""
        policy = self.policy
        now = self.clock()
        due = self.store.held_due(now)
        if not due:
            return 0
        mutes = self.store.mutes(now)
        suppressed: list[tuple[int, str]] = []
        groups: dict[tuple[str, str | None], list[HeldAlert]] = {}
        for alert in due:
            mute = silencing(mutes, alert.event, alert.channel, now)
            if mute is not None:
                suppressed.append((alert.id, mute.id))
            else:
                groups.setdefault((alert.channel, alert.template), []).append(alert)
        messages: list[tuple[Notification, list[int]]] = []
        for (channel, template), alerts in groups.items():
            limits = policy.limits.get(channel, MessageLimits())
            digests = compose_digest(
                [a.event for a in alerts],
                channel,
                limits=limits,
                templates=policy.templates,
                template=template,
            )
            _log_notes(digests)
            for note in digests:
                messages.append((note, [alerts[i].id for i in note.event_indexes]))
        self.store.release(now, Release(messages, suppressed))
        log.info(
            "held_released",
            messages=len(messages),
            alerts=sum(len(ids) for _, ids in messages),
            suppressed=len(suppressed),
            run_ids=[a.event.run_id for a in due],
        )
        return len(messages)

    async def _stuck(
        self,
        rules: StuckRules | None,
        snapshots: tuple[Snapshot, ...],
        report: FetchReport,
        now: datetime,
    ) -> tuple[tuple[Snapshot, ...], tuple[Event, ...]]:
        """The snapshots to write and the STUCK alerts, after a detail read of each run that
        looks stuck (a run this tick already read in detail is not read twice). A failed read
        postpones that run's decision to a later tick."""
        due = [] if rules is None else candidates(snapshots, now, rules)
        if not due:
            return snapshots, ()
        observed = {run.ref: run for run in report.observation.runs}
        details = {s.run_id: observed[s.run_id] for s in due if s.run_id in report.detailed}
        read, errors = await reread(self.client, (s.run_id for s in due if s.run_id not in details))
        for run_id, error in errors.items():
            log.warning("stuck_check_failed", run_id=run_id, error=str(error))
        verdicts = decide(snapshots, due, {**details, **read}, now)
        for run_id in verdicts.moved:
            log.info("stuck_check_moved", run_id=run_id)
        return verdicts.snapshots, verdicts.events

    async def _enriched(self, events: tuple[Event, ...]) -> tuple[Event, ...]:
        """Alerts get the run's detail read (generated files) once, when it just finished."""
        finished = [e.run for e in events if e.alert and e.run is not None]
        if not finished:
            return events
        try:
            detailed = await enrich(self.client, finished)
        except ApiError as exc:  # Unauthorized mid-tick: alert with what the list said
            log.warning("enrich_failed", run_ids=[run.ref for run in finished], error=str(exc))
            return events
        return tuple(
            dataclasses.replace(e, run=detailed[e.run_id]) if e.run_id in detailed else e
            for e in events
        )


def _log_event(event: Event, channels: list[str]) -> None:
    bound = log.bind(run_id=event.run_id, from_status=event.from_status, to_status=event.to_status)
    if event.stuck_for is not None:
        bound = bound.bind(stuck_for=round(event.stuck_for, 3))
    if event.kind is EventKind.STUCK:
        bound.warning("run_stuck", reminder=event.reminder, channels=channels)
    elif event.kind is EventKind.GONE:
        bound.warning("run_gone")
    elif event.to_status is not None and event.to_status not in KNOWN_STATUSES:
        bound.warning("unknown_status")
    elif event.alert:
        bound.info("run_finished", channels=channels)
    else:
        bound.info("run_" + event.kind.value)


def _log_notes(notes: list[Notification]) -> None:
    """A template that fell back to the built-in one, or named a value that is not there."""
    for note in notes:
        for problem in note.notes:
            log.warning("template_problem", channel=note.channel, problem=problem)


def _log_decision(events: tuple[Event, ...], decision: Decision) -> None:
    for held in decision.held:
        log.info(
            "alert_held",
            run_id=events[held.intent.event_index].run_id,
            channel=held.intent.channel,
            until=held.until.isoformat(),
            why=str(held.why),
        )
    for quiet in decision.suppressed:
        log.info(
            "alert_suppressed",
            run_id=events[quiet.intent.event_index].run_id,
            channel=quiet.intent.channel,
            mute=quiet.mute_id,
        )


def _log_actions(events: tuple[Event, ...], actions: tuple[PlannedAction, ...]) -> None:
    for action in actions:
        run_id = events[action.event_index].run_id
        if action.muted_by is None:
            log.info("action_queued", run_id=run_id, action=action.label)
        else:
            log.info("action_suppressed", run_id=run_id, action=action.label, mute=action.muted_by)


def _log_unstuck(
    before: Mapping[str, Snapshot], after: tuple[Snapshot, ...], now: datetime
) -> None:
    """One line per run whose reported stall this tick's observation ended."""
    for snapshot in after:
        prev = before.get(snapshot.run_id)
        if prev is not None and prev.stuck and not snapshot.stuck:
            log.info("run_unstuck", run_id=snapshot.run_id, stuck_for=stall_of(snapshot, now))

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
    Observation,
    Snapshot,
    TickRecord,
)
from watcher.fetch import FetchReport, Reading, enrich, is_active, observe, reread
from watcher.hold import DigestPolicy, hold, silencing
from watcher.models import Job
from watcher.render import compose_digest, compose_messages
from watcher.route import RouteRule, job_kind, route
from watcher.slow import judged, slow_events
from watcher.state import Store
from watcher.state.alerts import HeldAlert, Release
from watcher.state.record import baseline_key
from watcher.stuck import StuckRules, candidates, decide, is_due, observed_view
from watcher.templates import BUILTIN, Templates
from watcher.ticklog import log_actions, log_decision, log_event, log_notes, log_unstuck

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
    progress_every: float = 30.0  # `poll.progress_every`: how often progress alone is written
    templates: Templates = BUILTIN
    # The kinds discovery reads (`track.kinds`) and which new jobs it tracks (`track.filter`).
    track_kinds: tuple[str, ...] = ("run",)
    track_filter: DiscoveryFilter = field(default_factory=DiscoveryFilter)
    slow_below: float | None = None  # alerts.slow_below (None: no run is ever slow)
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
    written: int = 0  # run rows written: the runs that changed (the baseline's included)
    plan: str | None = None  # how explicit runs were read: "list" or "each" (`watcher.plan`)
    listed: int = 0  # list items read (the read stops early once past what it needs)
    parsed: int = 0  # of which parsed fully (new or changed)
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
        # The list as last recorded and what reading costs: kept across ticks (`watcher.plan`).
        self.reading = Reading(concurrency=client.max_concurrency)

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
        rules = policy.stuck
        inventory: list[int] = []

        def record_new(runs: list[Job]) -> None:
            # A baseline's new jobs, a batch at a time: no events (silent), so each batch is
            # its own transaction and memory stays bounded; an interrupted baseline is redone.
            batch = detect(snapshots, Observation(runs=tuple(runs), baseline=True), now)
            self.store.record(
                TickRecord(at=now, snapshots=batch.snapshots, events=(), notifications=())
            )
            inventory.append(len(batch.snapshots))

        report = await observe(
            self.client,
            snapshots,
            track_all=track_all,
            baseline=bool(pending),
            kinds=policy.track_kinds,
            pending_baselines=pending,
            admit=flt.admits if flt.active else None,
            reading=self.reading,
            now=now,
            hold=lambda prev: rules is None or not is_due(prev, now, rules),
            progress_every=policy.progress_every,
            on_new=record_new if track_all and pending else None,
            live_ids=self.store.live_ids(),
        )
        silent = report.observation.baseline_kinds
        baseline = bool(silent)
        for run_id, error in report.run_errors.items():
            log.warning("run_fetch_failed", run_id=run_id, error=str(error))
        detection = detect(snapshots, report.observation, now)
        written, stuck_events = await self._stuck(
            rules, snapshots, detection.snapshots, report, now
        )
        # Flags are set on the detail read's numbers, before routes match on them.
        events = assess_all(await self._enriched(detection.events), policy.thresholds)
        events += stuck_events + self._slow(policy.slow_below, written, now)
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
        log_notes(notes)
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
        log_decision(events, decision)
        log_actions(events, actions)
        channels_of: dict[int, list[str]] = {}
        for intent in intents:
            channels_of.setdefault(intent.event_index, []).append(intent.channel)
        for index, event in enumerate(events):
            log_event(event, channels_of.get(index, []))
        log_unstuck(snapshots, written, now)
        changes = [
            (job_kind(e), "GONE" if e.kind is EventKind.GONE else str(e.to_status))
            for e in events
            if e.kind not in (EventKind.STUCK, EventKind.SLOW)
            and not (e.kind is EventKind.FIRST_SEEN and e.run is not None and e.run.kind in silent)
        ]
        after = self.store.snapshots()
        live = [s for r in self.store.live_ids() if (s := after.get(r)) is not None]
        active = {s.run_id for s in live if is_active(s)}
        for kind, result in report.scans.items():
            self.reading.memory_of(kind).commit(result, active.__contains__)
        return TickSummary(
            at=now,
            # Every run the API showed (changed or not; the baseline's batches included).
            observed=len(report.seen | {run.ref for run in report.observation.runs}),
            events=len(events),
            alerts=sum(1 for e in events if e.alert),
            notifications=len(notes),
            requests=report.requests,
            run_errors=len(report.run_errors),
            baseline=baseline,
            tracked_active=len(active),
            transitions=dict(Counter(status for _, status in changes)),
            kind_transitions=dict(Counter(changes)),
            stuck=len(stuck_events),
            written=len(written) + sum(inventory),
            plan=None if report.plan is None else str(report.plan),
            listed=sum(result.items for result in report.scans.values()),
            parsed=sum(result.parsed for result in report.scans.values()),
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
            log_notes(digests)
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
        previous: Mapping[str, Snapshot],
        changed: tuple[Snapshot, ...],
        report: FetchReport,
        now: datetime,
    ) -> tuple[tuple[Snapshot, ...], tuple[Event, ...]]:
        """The snapshots to write and the STUCK alerts, after a detail read of each run that
        looks stuck (a run this tick already read in detail is not read twice). A failed read
        postpones that run's decision to a later tick. Runs seen unchanged are checked too
        (from their previous snapshot); only the changed and the confirmed are written."""
        if rules is None:
            return changed, ()
        view = observed_view(previous, changed, report.seen)
        due = candidates(view, now, rules)
        if not due:
            return changed, ()
        observed = {run.ref: run for run in report.observation.runs}
        details = {s.run_id: observed[s.run_id] for s in due if s.run_id in report.detailed}
        read, errors = await reread(self.client, (s.run_id for s in due if s.run_id not in details))
        for run_id, error in errors.items():
            log.warning("stuck_check_failed", run_id=run_id, error=str(error))
        verdicts = decide(view, due, {**details, **read}, now)
        for run_id in verdicts.moved:
            log.info("stuck_check_moved", run_id=run_id)
        mine = {s.run_id for s in changed}
        written = [
            s
            for s, before in zip(verdicts.snapshots, view, strict=True)
            if s.run_id in mine or s is not before
        ]
        return tuple(written), verdicts.events

    def _slow(
        self, below: float | None, snapshots: tuple[Snapshot, ...], now: datetime
    ) -> tuple[Event, ...]:
        """The SLOW alerts of this tick (`watcher.slow`): only runs that moved are judged."""
        due = [] if below is None else judged(snapshots, now)
        if below is None or not due:
            return ()
        firsts, paces, alerted = self.store.slow_inputs([s.run_id for s in due])
        return slow_events(due, now, firsts=firsts, paces=paces, alerted=alerted, below=below)

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

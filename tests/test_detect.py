"""detect: every rule of its docstring and of the brief's alert semantics, then properties.

detect is pure, so these tests call it directly and fold it over sequences of observations,
applying the snapshots it returns to a plain dict as the store would.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.detect import detect
from watcher.events import Detection, Event, EventKind, Observation, Snapshot, Source
from watcher.models import TERMINAL_STATUSES, Run, RunStatus

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TERMINAL = sorted(TERMINAL_STATUSES)
ACTIVE = [RunStatus.PENDING.value, RunStatus.PROCESSING.value]
KNOWN = ACTIVE + TERMINAL
UNKNOWN = ["PAUSED", "", "succeeded"]


def at(minute: int) -> datetime:
    """The moment `minute` minutes after T0."""
    return T0 + timedelta(minutes=minute)


def run(run_id: str, status: str | None, **fields: object) -> Run:
    """A run as the API would return it."""
    return Run.model_validate({"id": run_id, "status": status, **fields})


def observed(*runs: Run, missing: Iterable[str] = (), baseline: bool = False) -> Observation:
    """One tick's observation."""
    return Observation(runs=tuple(runs), missing=frozenset(missing), baseline=baseline)


def explicit(run_id: str) -> Snapshot:
    """A run named by `track` and not observed yet."""
    return Snapshot(run_id=run_id, source=Source.EXPLICIT, status=None)


def known(
    run_id: str,
    status: str | None,
    *,
    since: datetime = T0,
    source: Source = Source.DISCOVERED,
    **fields: Any,
) -> Snapshot:
    """A run the watcher has already observed with `status` since `since`; fields override."""
    snapshot = Snapshot(
        run_id=run_id,
        source=source,
        status=status,
        status_since=since,
        first_seen=since,
        last_polled=since,
        run=run(run_id, status),
        progress_at=since,
    )
    return replace(snapshot, **fields)


def state_of(*snapshots: Snapshot) -> dict[str, Snapshot]:
    """The store's mapping of run id to snapshot."""
    return {snapshot.run_id: snapshot for snapshot in snapshots}


def applied(state: Mapping[str, Snapshot], detection: Detection) -> dict[str, Snapshot]:
    """The state after the store writes the detection's snapshots."""
    new = dict(state)
    new.update((snapshot.run_id, snapshot) for snapshot in detection.snapshots)
    return new


def only_event(detection: Detection) -> Event:
    """The single event of a detection (fails otherwise)."""
    assert len(detection.events) == 1, detection.events
    return detection.events[0]


def alerts(detection: Detection) -> list[Event]:
    """The alert events of a detection."""
    return [event for event in detection.events if event.alert]


# --- discovery and its silent baseline -------------------------------------------------------


def test_baseline_records_every_run_without_events() -> None:
    """The first discovery pass records every run, finished or not, and announces none."""
    runs = [run(f"r{i}", status) for i, status in enumerate([*KNOWN, "PAUSED"])]
    detection = detect({}, observed(*runs, baseline=True), at(1))
    assert detection.events == ()
    assert [s.run_id for s in detection.snapshots] == [r.id for r in runs]
    for snapshot, source_run in zip(detection.snapshots, runs, strict=True):
        assert snapshot.source is Source.DISCOVERED
        assert snapshot.status == source_run.status
        assert snapshot.status_since == snapshot.first_seen == snapshot.last_polled == at(1)
        assert snapshot.run == source_run
        assert not snapshot.gone
        assert not snapshot.muted


@pytest.mark.parametrize("status", TERMINAL)
def test_baseline_terminal_run_never_alerts_later(status: str) -> None:
    """A run already finished during the baseline stays silent whatever the API says later."""
    state = applied({}, detect({}, observed(run("a", status), baseline=True), at(1)))
    for later in [*KNOWN, "PAUSED"]:
        detection = detect(state, observed(run("a", later)), at(2))
        assert detection == Detection(snapshots=(), events=())


@pytest.mark.parametrize("status", ACTIVE)
def test_baseline_active_run_alerts_when_it_finishes(status: str) -> None:
    """A run active during the baseline is announced when it later finishes."""
    state = applied({}, detect({}, observed(run("a", status), baseline=True), at(1)))
    event = only_event(detect(state, observed(run("a", "FAILED")), at(2)))
    assert event.kind is EventKind.TRANSITION
    assert (event.from_status, event.to_status, event.alert) == (status, "FAILED", True)
    assert event.previous_since == at(1)
    assert event.at == at(2)


@pytest.mark.parametrize("status", TERMINAL)
def test_new_run_after_baseline_first_seen_finished_alerts(status: str) -> None:
    """After the baseline, a new run first seen finished is an alert (it ran between two polls)."""
    state = applied({}, detect({}, observed(run("old", "PROCESSING"), baseline=True), at(1)))
    new = run("new", status, spec_name="s")
    detection = detect(state, observed(run("old", "PROCESSING"), new), at(2))
    event = only_event(detection)
    assert event.kind is EventKind.FIRST_SEEN
    assert (event.run_id, event.from_status, event.to_status) == ("new", None, status)
    assert event.alert
    assert event.run == new
    assert event.previous_since is None
    assert event.at == at(2)


def test_baseline_flag_only_silences_runs_without_a_snapshot() -> None:
    """In a baseline observation, a run the watcher already knew still alerts when it finishes."""
    state = state_of(known("a", "PROCESSING"))
    event = only_event(detect(state, observed(run("a", "SUCCEEDED"), baseline=True), at(1)))
    assert (event.kind, event.alert) == (EventKind.TRANSITION, True)


def test_new_run_without_any_baseline_first_seen_finished_alerts() -> None:
    """A run first seen finished in a non-baseline observation alerts even with an empty state."""
    event = only_event(detect({}, observed(run("a", "CANCELED")), at(1)))
    assert (event.kind, event.to_status, event.alert) == (EventKind.FIRST_SEEN, "CANCELED", True)


@pytest.mark.parametrize("status", [*ACTIVE, *UNKNOWN])
def test_new_run_after_baseline_first_seen_active_is_not_an_alert(status: str) -> None:
    """A new run first seen active (or in an unknown status) gives a FIRST_SEEN non-alert event."""
    detection = detect({}, observed(run("a", status)), at(1))
    event = only_event(detection)
    assert (event.kind, event.from_status, event.to_status) == (EventKind.FIRST_SEEN, None, status)
    assert not event.alert
    (snapshot,) = detection.snapshots
    assert snapshot.status == status
    assert snapshot.first_seen == at(1)


# --- explicitly tracked runs ----------------------------------------------------------------


@pytest.mark.parametrize("status", TERMINAL)
@pytest.mark.parametrize("baseline", [False, True])
def test_explicit_run_first_seen_finished_alerts_once(status: str, baseline: bool) -> None:
    """A tracked run already finished is announced once, even in a baseline observation."""
    state = state_of(explicit("a"))
    detection = detect(state, observed(run("a", status), baseline=baseline), at(1))
    event = only_event(detection)
    assert (event.kind, event.from_status, event.to_status) == (EventKind.FIRST_SEEN, None, status)
    assert event.alert
    (snapshot,) = detection.snapshots
    assert snapshot.source is Source.EXPLICIT
    assert snapshot.status == status
    assert snapshot.first_seen == snapshot.status_since == snapshot.last_polled == at(1)
    state = applied(state, detection)
    assert detect(state, observed(run("a", status)), at(2)).events == ()


def test_explicit_run_first_seen_processing_then_terminal_alerts_once() -> None:
    """A tracked run first seen PROCESSING: a FIRST_SEEN non-alert, then one alert when done."""
    state = state_of(explicit("a"))
    first = detect(state, observed(run("a", "PROCESSING")), at(1))
    event = only_event(first)
    assert (event.kind, event.to_status, event.alert) == (EventKind.FIRST_SEEN, "PROCESSING", False)
    state = applied(state, first)
    assert state["a"].source is Source.EXPLICIT
    assert detect(state, observed(run("a", "PROCESSING")), at(2)).events == ()
    done = detect(state, observed(run("a", "SUCCEEDED")), at(3))
    event = only_event(done)
    assert event.kind is EventKind.TRANSITION
    assert (event.from_status, event.to_status, event.alert) == ("PROCESSING", "SUCCEEDED", True)
    assert event.previous_since == at(1)
    state = applied(state, done)
    assert detect(state, observed(run("a", "SUCCEEDED")), at(4)).events == ()


def test_explicit_run_not_observed_gives_nothing() -> None:
    """A tracked run absent from an observation (neither returned nor missing) is left alone."""
    state = state_of(explicit("a"))
    detection = detect(state, observed(run("b", "PENDING")), at(1))
    assert [s.run_id for s in detection.snapshots] == ["b"]
    assert [e.run_id for e in detection.events] == ["b"]
    assert detect(state, observed(), at(1)) == Detection((), ())


# --- transitions -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", TERMINAL)
def test_skipped_states_alert_once(status: str) -> None:
    """PENDING straight to a terminal status (PROCESSING never seen) is one alert."""
    state = state_of(known("a", "PENDING", since=at(0)))
    detection = detect(state, observed(run("a", status)), at(5))
    event = only_event(detection)
    assert event.kind is EventKind.TRANSITION
    assert (event.from_status, event.to_status, event.alert) == ("PENDING", status, True)
    assert event.previous_since == at(0)
    state = applied(state, detection)
    assert detect(state, observed(run("a", status)), at(6)).events == ()


def test_transition_updates_the_snapshot() -> None:
    """A status change moves status_since and last_polled, keeps first_seen and the source."""
    state = state_of(known("a", "PENDING", since=at(0), source=Source.EXPLICIT))
    new = run("a", "PROCESSING", samples_completed=3)
    detection = detect(state, observed(new), at(7))
    (snapshot,) = detection.snapshots
    assert snapshot == replace(
        state["a"],
        status="PROCESSING",
        status_since=at(7),
        last_polled=at(7),
        run=new,
        progress_at=at(7),
    )
    event = only_event(detection)
    assert (event.kind, event.alert, event.run) == (EventKind.TRANSITION, False, new)


def test_unknown_statuses_are_recorded_never_alerted() -> None:
    """PAUSED and "" are transitions like any other, never alerts; a terminal after them alerts."""
    state = state_of(known("a", "PROCESSING"))
    steps = [("PAUSED", False), ("", False), ("PROCESSING", False), ("PAUSED", False)]
    previous = "PROCESSING"
    for minute, (status, alert) in enumerate(steps, start=1):
        detection = detect(state, observed(run("a", status)), at(minute))
        event = only_event(detection)
        assert event.kind is EventKind.TRANSITION
        assert (event.from_status, event.to_status, event.alert) == (previous, status, alert)
        state = applied(state, detection)
        assert state["a"].status == status
        previous = status
    done = only_event(detect(state, observed(run("a", "CANCELED")), at(9)))
    assert (done.from_status, done.to_status, done.alert) == ("PAUSED", "CANCELED", True)


def test_lowercase_terminal_status_is_unknown() -> None:
    """ "succeeded" (wrong case) is an unknown status: recorded, not an alert, not final."""
    state = state_of(known("a", "PROCESSING"))
    detection = detect(state, observed(run("a", "succeeded")), at(1))
    assert not only_event(detection).alert
    state = applied(state, detection)
    assert only_event(detect(state, observed(run("a", "SUCCEEDED")), at(2))).alert


@pytest.mark.parametrize("status", TERMINAL)
@pytest.mark.parametrize("later", [*KNOWN, *UNKNOWN, None])
def test_terminal_is_final(status: str, later: str | None) -> None:
    """Once a run is recorded terminal, no later observation (or 404) gives a snapshot or event."""
    state = state_of(known("a", status))
    assert detect(state, observed(run("a", later)), at(1)) == Detection((), ())
    assert detect(state, observed(missing=["a"]), at(1)) == Detection((), ())


def test_unchanged_status_updates_the_snapshot_without_event() -> None:
    """The same status again refreshes last_polled and the run data, keeps status_since
    (new samples are progress: progress_at moves)."""
    state = state_of(known("a", "PROCESSING", since=at(0), source=Source.EXPLICIT))
    newer = run("a", "PROCESSING", samples_completed=40, total_cost=1.5)
    detection = detect(state, observed(newer), at(3))
    assert detection.events == ()
    (snapshot,) = detection.snapshots
    assert snapshot == replace(state["a"], last_polled=at(3), run=newer, progress_at=at(3))
    assert snapshot.status_since == snapshot.first_seen == at(0)


# --- duplicates -------------------------------------------------------------------------------


def test_duplicate_ids_in_one_observation_first_wins() -> None:
    """A list that repeats a run is read once, from its first (newest) copy."""
    state = state_of(known("a", "PENDING"))
    first, second = run("a", "PROCESSING"), run("a", "SUCCEEDED")
    detection = detect(state, observed(first, second), at(1))
    (snapshot,) = detection.snapshots
    assert snapshot.run == first
    event = only_event(detection)
    assert (event.to_status, event.alert) == ("PROCESSING", False)


def test_duplicate_new_run_alerts_once() -> None:
    """A new finished run listed twice gives one alert and one snapshot."""
    detection = detect({}, observed(run("a", "FAILED"), run("a", "FAILED")), at(1))
    assert len(detection.snapshots) == 1
    assert len(alerts(detection)) == 1


def test_run_both_returned_and_missing_is_not_gone() -> None:
    """An id the observation both returned and called missing is treated as returned."""
    state = state_of(known("a", "PROCESSING"))
    detection = detect(state, observed(run("a", "PROCESSING"), missing=["a"]), at(1))
    assert detection.events == ()
    assert detection.snapshots == ()  # returned unchanged: not gone, and nothing to write


def test_only_runs_that_changed_get_a_new_snapshot() -> None:
    """Runs observed exactly as recorded get no snapshot (nothing to write); a new status, new
    progress, a run never observed or one that came back from gone each get one."""
    state = state_of(
        known("same", "PROCESSING"),
        known("moved", "PENDING"),
        known("progress", "PROCESSING"),
        known("back", "PROCESSING", gone=True),
        known("unseen", None, first_seen=None, run=None),
    )
    detection = detect(
        state,
        observed(
            run("same", "PROCESSING"),
            run("moved", "PROCESSING"),
            run("progress", "PROCESSING", samples_completed=5),
            run("back", "PROCESSING"),
            run("unseen", "PENDING"),
        ),
        at(1),
    )
    assert sorted(s.run_id for s in detection.snapshots) == ["back", "moved", "progress", "unseen"]


# --- missing (404) runs -----------------------------------------------------------------------


def test_missing_active_run_is_gone_once() -> None:
    """A 404 for an active run gives one GONE non-alert event; a second 404 gives nothing."""
    state = state_of(
        known("a", "PROCESSING", since=at(0), run=run("a", "PROCESSING", spec_name="s"))
    )
    detection = detect(state, observed(missing=["a"]), at(4))
    event = only_event(detection)
    assert event == Event(
        run_id="a",
        kind=EventKind.GONE,
        from_status="PROCESSING",
        to_status=None,
        at=at(4),
        alert=False,
        run=state["a"].run,
        previous_since=at(0),
    )
    (snapshot,) = detection.snapshots
    assert snapshot.gone
    assert snapshot.status == "PROCESSING"
    assert snapshot.last_polled == at(4)
    state = applied(state, detection)
    assert detect(state, observed(missing=["a"]), at(5)) == Detection((), ())


def test_missing_explicit_run_never_seen_is_gone() -> None:
    """A tracked id the API never knew (404 on first look) is recorded gone with one event."""
    state = state_of(explicit("a"))
    detection = detect(state, observed(missing=["a"]), at(1))
    event = only_event(detection)
    assert (event.kind, event.from_status, event.alert) == (EventKind.GONE, None, False)
    assert detection.snapshots[0].gone


@pytest.mark.parametrize("status", TERMINAL)
def test_missing_finished_run_gives_nothing(status: str) -> None:
    """A finished run that later 404s (deleted) is left as it is."""
    state = state_of(known("a", status))
    assert detect(state, observed(missing=["a"]), at(1)) == Detection((), ())


def test_missing_unknown_id_gives_nothing() -> None:
    """A 404 for an id with no snapshot creates nothing."""
    assert detect({}, observed(missing=["ghost"]), at(1)) == Detection((), ())


def test_several_missing_runs_are_reported_in_id_order() -> None:
    """GONE events come out sorted by run id, whatever the set order."""
    state = state_of(*(known(name, "PENDING") for name in ["c", "a", "b"]))
    detection = detect(state, observed(missing=["c", "b", "a"]), at(1))
    assert [event.run_id for event in detection.events] == ["a", "b", "c"]
    assert all(event.kind is EventKind.GONE for event in detection.events)


def test_gone_run_reappearing_unchanged_is_restored_silently() -> None:
    """A gone run that comes back with the same status is no longer gone, with no event."""
    state = state_of(known("a", "PROCESSING", gone=True))
    detection = detect(state, observed(run("a", "PROCESSING")), at(1))
    assert detection.events == ()
    (snapshot,) = detection.snapshots
    assert not snapshot.gone
    assert snapshot.last_polled == at(1)


@pytest.mark.parametrize("status", TERMINAL)
def test_gone_run_reappearing_finished_alerts(status: str) -> None:
    """A gone run that comes back finished is announced once."""
    state = state_of(known("a", "PROCESSING", gone=True))
    detection = detect(state, observed(run("a", status)), at(1))
    event = only_event(detection)
    assert (event.kind, event.from_status, event.to_status) == (
        EventKind.TRANSITION,
        "PROCESSING",
        status,
    )
    assert event.alert
    assert not detection.snapshots[0].gone


def test_gone_explicit_run_never_seen_reappearing_finished_alerts() -> None:
    """A tracked run that 404ed before its first look and then appears finished is announced."""
    state = state_of(explicit("a"))
    state = applied(state, detect(state, observed(missing=["a"]), at(1)))
    assert state["a"].gone
    detection = detect(state, observed(run("a", "SUCCEEDED")), at(2))
    assert [event.alert for event in detection.events] == [True]
    assert detection.snapshots[0].status == "SUCCEEDED"
    assert not detection.snapshots[0].gone


# --- muted runs -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", TERMINAL)
def test_muted_run_finishing_is_recorded_not_alerted(status: str) -> None:
    """A muted (untracked) run that finishes is recorded, stays muted, and is never an alert."""
    state = state_of(known("a", "PROCESSING", muted=True))
    detection = detect(state, observed(run("a", status)), at(1))
    event = only_event(detection)
    assert (event.kind, event.to_status, event.alert) == (EventKind.TRANSITION, status, False)
    assert detection.snapshots[0].muted
    assert detection.snapshots[0].status == status


@pytest.mark.parametrize("status", TERMINAL)
def test_muted_run_first_seen_finished_is_not_alerted(status: str) -> None:
    """A muted run never observed before and first seen finished is not an alert."""
    state = state_of(Snapshot(run_id="a", source=Source.EXPLICIT, status=None, muted=True))
    event = only_event(detect(state, observed(run("a", status)), at(1)))
    assert (event.kind, event.alert) == (EventKind.FIRST_SEEN, False)


# --- null status (the API marks every field optional) -----------------------------------------


def test_null_status_observed_twice_gives_one_first_seen() -> None:
    """A run the API keeps reporting with status null is 'first seen' once, not every tick."""
    state = state_of(explicit("a"))
    first = detect(state, observed(run("a", None)), at(1))
    state = applied(state, first)
    again = detect(state, observed(run("a", None)), at(2))
    assert again.events == ()


def test_null_status_does_not_reset_first_seen() -> None:
    """PROCESSING -> null -> PROCESSING keeps the first_seen of the first observation."""
    state = state_of(known("a", "PROCESSING", since=at(0)))
    for minute, status in [(1, None), (2, "PROCESSING")]:
        state = applied(state, detect(state, observed(run("a", status)), at(minute)))
    assert state["a"].first_seen == at(0)


# --- properties -------------------------------------------------------------------------------

RUN_IDS = ["r0", "r1", "r2", "r3"]
STATUSES = [*KNOWN, "PAUSED"]


@dataclass(frozen=True)
class Present:
    """The run is in the observation, maybe twice (a duplicate copy with another status)."""

    status: str
    duplicate: str | None = None


ABSENT = "absent"
MISSING = "missing"

actions = st.one_of(
    st.just(ABSENT),
    st.just(MISSING),
    st.builds(Present, st.sampled_from(STATUSES), st.none() | st.sampled_from(STATUSES)),
)
steps = st.lists(
    st.fixed_dictionaries({run_id: actions for run_id in RUN_IDS}), min_size=1, max_size=8
)
initial_kinds = st.fixed_dictionaries(
    {run_id: st.sampled_from(["none", "explicit", "muted"]) for run_id in RUN_IDS}
)


def initial_state(kinds: Mapping[str, str]) -> dict[str, Snapshot]:
    """Snapshots for runs tracked before the sequence starts."""
    state: dict[str, Snapshot] = {}
    for run_id, kind in kinds.items():
        if kind == "explicit":
            state[run_id] = explicit(run_id)
        elif kind == "muted":
            state[run_id] = Snapshot(run_id=run_id, source=Source.EXPLICIT, status=None, muted=True)
    return state


def observation_of(step: Mapping[str, object], baseline: bool) -> Observation:
    """The Observation a step describes; duplicate copies follow their first copy."""
    runs: list[Run] = []
    missing: list[str] = []
    for run_id, action in step.items():
        if action == MISSING:
            missing.append(run_id)
        elif isinstance(action, Present):
            runs.append(run(run_id, action.status))
            if action.duplicate is not None:
                runs.append(run(run_id, action.duplicate))
    return observed(*runs, missing=missing, baseline=baseline)


def expected_alerts(
    kinds: Mapping[str, str], sequence: list[dict[str, object]], baseline: bool
) -> dict[str, int]:
    """The spec's answer: alerted once iff its first terminal sighting is not silent and not muted.

    A sighting is silent when it is the baseline pass and the run had no snapshot before it.
    """
    result: dict[str, int] = {}
    for run_id in RUN_IDS:
        result[run_id] = 0
        if kinds[run_id] == "muted":
            continue
        for index, step in enumerate(sequence):
            action = step[run_id]
            if isinstance(action, Present) and action.status in TERMINAL_STATUSES:
                silent = baseline and index == 0 and kinds[run_id] == "none"
                result[run_id] = 0 if silent else 1
                break
    return result


@settings(max_examples=400, deadline=None, database=None)
@given(kinds=initial_kinds, sequence=steps, baseline=st.booleans())
def test_folding_detect_keeps_the_alert_invariants(
    kinds: dict[str, str], sequence: list[dict[str, object]], baseline: bool
) -> None:
    """Over any observation sequence, every run alerts at most once, when finished, as specified."""
    state = initial_state(kinds)
    history: list[Event] = []
    gone_unseen: set[str] = set()  # runs reported gone and not returned since
    for index, step in enumerate(sequence):
        observation = observation_of(step, baseline=baseline and index == 0)
        before = dict(state)
        detection = detect(state, observation, at(index + 1))
        # (f) deterministic and pure: same answer twice, inputs untouched.
        assert detect(state, observation, at(index + 1)) == detection
        assert state == before
        assert observation == observation_of(step, baseline=baseline and index == 0)
        # Every snapshot written is of a run named by the observation, once.
        written = [snapshot.run_id for snapshot in detection.snapshots]
        assert len(written) == len(set(written))
        named = {r.id for r in observation.runs} | observation.missing
        assert set(written) <= named
        for event in detection.events:
            assert event.at == at(index + 1)
            assert event.run_id in named
        # A run is reported gone once, until it is returned again.
        gone_unseen -= {r.id for r in observation.runs}
        for event in detection.events:
            if event.kind is EventKind.GONE:
                assert event.run_id not in gone_unseen
                gone_unseen.add(event.run_id)
        history.extend(detection.events)
        state = applied(state, detection)

    alert_count = Counter(event.run_id for event in history if event.alert)
    terminal_count = Counter(
        event.run_id for event in history if event.to_status in TERMINAL_STATUSES
    )
    # (a) at most one alert per run; (b) at most one event reaching a terminal status per run.
    assert all(n == 1 for n in alert_count.values())
    assert all(n == 1 for n in terminal_count.values())
    for event in history:
        # (c) a transition always changes the status.
        if event.kind is EventKind.TRANSITION:
            assert event.from_status != event.to_status
        # (d) only terminal statuses alert; GONE never does.
        if event.alert:
            assert event.to_status in TERMINAL_STATUSES
            assert event.kind is not EventKind.GONE
    # (e) every run seen finishing after the baseline is alerted exactly once, unless muted
    # or already finished in the baseline.
    assert {run_id: alert_count[run_id] for run_id in RUN_IDS} == expected_alerts(
        kinds, sequence, baseline
    )


@settings(max_examples=200, deadline=None, database=None)
@given(kinds=initial_kinds, sequence=steps)
def test_detect_does_not_depend_on_the_mapping_order(
    kinds: dict[str, str], sequence: list[dict[str, object]]
) -> None:
    """detect's answer depends on the snapshots, not on the order the mapping yields them."""
    state = initial_state(kinds)
    for index, step in enumerate(sequence):
        observation = observation_of(step, baseline=index == 0)
        reordered = dict(reversed(list(state.items())))
        detection = detect(state, observation, at(index + 1))
        assert detect(reordered, observation, at(index + 1)) == detection
        state = applied(state, detection)

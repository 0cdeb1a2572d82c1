"""stuck: the pure rules of stuck runs, alone and folded with detect as a tick applies them.

A tick here is what the pipeline does, minus the I/O: detect, `candidates`, a detail read per
candidate (given by the test: the same run, a run that moved, or a failed read), `decide`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.detect import detect
from watcher.events import STUCK, Event, EventKind, Observation, Snapshot, Source
from watcher.models import TERMINAL_STATUSES, Run
from watcher.stuck import (
    StuckRules,
    advance,
    candidates,
    confirm,
    decide,
    is_due,
    moved,
    observed_view,
    stall_of,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TERMINAL = sorted(TERMINAL_STATUSES)
RULES = StuckRules(pending_after=30 * 60, no_progress_after=60 * 60)
Detail = Callable[[Snapshot], Run | None]


def at(minute: float) -> datetime:
    """The moment `minute` minutes after T0."""
    return T0 + timedelta(minutes=minute)


def run(status: str | None, samples: int | None = 0, run_id: str = "a", **fields: object) -> Run:
    """A run as the API returns it."""
    return Run.model_validate(
        {"id": run_id, "status": status, "samples_completed": samples, **fields}
    )


def seen(
    status: str | None, samples: int | None = 0, *, since: float = 0, **fields: Any
) -> Snapshot:
    """Run "a" observed at `status` with `samples`, still since minute `since`; fields override."""
    snapshot = Snapshot(
        run_id="a",
        source=Source.DISCOVERED,
        status=status,
        status_since=at(since),
        first_seen=at(since),
        last_polled=at(since),
        run=run(status, samples),
        progress_at=at(since),
    )
    return replace(snapshot, **fields)


def same(candidate: Snapshot) -> Run:
    """A detail read showing the run exactly as the list did."""
    assert candidate.run is not None
    return candidate.run


def tick(
    state: Mapping[str, Snapshot],
    runs: tuple[Run, ...],
    now: datetime,
    rules: StuckRules = RULES,
    detail: Detail = same,
    missing: frozenset[str] = frozenset(),
) -> tuple[dict[str, Snapshot], tuple[Event, ...]]:
    """One tick: the state after it and its events (detect's, then the STUCK alerts)."""
    detection = detect(state, Observation(runs=runs, missing=missing), now)
    # As the pipeline: runs observed unchanged get no new snapshot, but are checked too.
    view = observed_view(state, detection.snapshots, {r.id for r in runs} | missing)
    due = candidates(view, now, rules)
    details = {c.run_id: d for c in due if (d := detail(c)) is not None}
    verdicts = decide(view, due, details, now)
    new = dict(state)
    new.update((s.run_id, s) for s in verdicts.snapshots)
    return new, detection.events + verdicts.events


def stuck_events(events: tuple[Event, ...]) -> list[Event]:
    """The STUCK alerts and reminders among a tick's events."""
    return [e for e in events if e.kind is EventKind.STUCK]


# --- the rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("PENDING", 1800),
        ("PROCESSING", 3600),
        *((s, None) for s in TERMINAL),
        ("PAUSED", None),
        ("pending", None),
        ("", None),
        (None, None),
    ],
)
def test_only_pending_and_processing_have_a_threshold(
    status: str | None, expected: float | None
) -> None:
    """Finished, unknown (even a lowercase known one) and missing statuses are never stuck."""
    assert RULES.threshold(status) == expected


def test_a_threshold_left_out_means_that_status_is_never_stuck() -> None:
    """`pending_after` alone watches PENDING only, and `no_progress_after` alone PROCESSING."""
    assert StuckRules(pending_after=60).threshold("PROCESSING") is None
    assert StuckRules(no_progress_after=60).threshold("PENDING") is None


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (run("PENDING", 0), False),
        (run("PROCESSING", 0), True),
        (run("PENDING", 1), True),
        (run("PENDING", None), True),
        (run("PENDING", 0, total_cost=3.5), False),  # only status and samples count
    ],
)
def test_a_move_is_a_new_status_or_new_samples(after: Run, expected: bool) -> None:
    """Moving means a different status or samples_completed; other fields do not count."""
    assert moved(seen("PENDING", 0), after) is expected


def test_a_snapshot_without_run_data_counts_any_read_as_a_move() -> None:
    """Without what the run looked like, it cannot be called still: never falsely stuck."""
    assert moved(seen("PENDING", 0, run=None), run("PENDING", 0))


# --- progress: detect keeps when each run last moved ---------------------------------------------


@pytest.mark.parametrize("baseline", [False, True])
def test_first_sighting_sets_progress_at(baseline: bool) -> None:
    """A run first seen (in the baseline or not) has moved as of now."""
    detection = detect({}, Observation(runs=(run("PENDING"),), baseline=baseline), at(3))
    assert detection.snapshots[0].progress_at == at(3)


def test_an_explicit_runs_first_observation_sets_progress_at() -> None:
    """A run tracked by id and never observed starts its clock at its first observation."""
    state = {"a": Snapshot("a", Source.EXPLICIT, None)}
    detection = detect(state, Observation(runs=(run("PENDING"),)), at(2))
    assert detection.snapshots[0].progress_at == at(2)


def test_a_snapshot_from_before_progress_was_kept_starts_its_clock_now() -> None:
    """A state file upgraded from before schema v5 has no progress_at: counted from now."""
    state = {"a": seen("PENDING", since=0, progress_at=None)}
    snapshot = detect(state, Observation(runs=(run("PENDING"),)), at(90)).snapshots[0]
    assert snapshot.progress_at == at(90)
    assert not is_due(snapshot, at(90), RULES)


@pytest.mark.parametrize(
    "after", [run("PROCESSING", 0), run("PENDING", 4), run("PAUSED", 0), run("FAILED", 0)]
)
def test_a_status_or_samples_change_moves_progress_at(after: Run) -> None:
    """New status (known, unknown or terminal) or new samples: progress_at is now."""
    state = {"a": seen("PENDING", 0)}
    assert detect(state, Observation(runs=(after,)), at(5)).snapshots[0].progress_at == at(5)


def test_the_same_status_and_samples_keep_progress_at() -> None:
    """Observed unchanged (other fields may change): the run has not moved."""
    state = {"a": seen("PROCESSING", 7)}
    later = run("PROCESSING", 7, total_cost=2.0)
    assert detect(state, Observation(runs=(later,)), at(50)).snapshots[0].progress_at == at(0)


def test_advance_ends_a_reported_stall_and_keeps_an_ended_ones_end() -> None:
    """A move ends an open stall at now; later moves leave the ended stall's record alone."""
    stalled = seen("PENDING", since=0, stuck_since=at(0), stuck_notified_at=at(31))
    ended = advance(stalled, replace(stalled, run=run("PROCESSING")), at(40))
    assert (ended.progress_at, ended.stuck_since, ended.stuck_ended_at) == (at(40), at(0), at(40))
    assert not ended.stuck
    again = advance(ended, replace(ended, run=run("PROCESSING", 5)), at(45))
    assert (again.progress_at, again.stuck_ended_at) == (at(45), at(40))


# --- which runs are due for a check --------------------------------------------------------------


@pytest.mark.parametrize(("status", "limit"), [("PENDING", 30), ("PROCESSING", 60)])
def test_due_from_the_threshold_on_never_before(status: str, limit: int) -> None:
    """Still for less than the threshold: not due; from the threshold on: due."""
    snapshot = seen(status)
    assert not is_due(snapshot, at(limit) - timedelta(microseconds=1), RULES)
    assert is_due(snapshot, at(limit), RULES)


@pytest.mark.parametrize(
    "snapshot",
    [
        seen("PENDING", gone=True),
        seen("PENDING", muted=True),
        seen("PAUSED"),
        seen(None),
        *(seen(status) for status in TERMINAL),
    ],
    ids=["gone", "untracked", "unknown", "no-status", *TERMINAL],
)
def test_gone_untracked_unknown_and_finished_runs_are_never_due(snapshot: Snapshot) -> None:
    """However long they have been still."""
    assert not is_due(snapshot, at(10_000), RULES)


def test_a_reported_stall_is_not_due_again_without_repeat() -> None:
    """One alert per stall: reported, it is never due again while it lasts."""
    stalled = seen("PENDING", stuck_since=at(0), stuck_notified_at=at(30))
    assert not is_due(stalled, at(10_000), RULES)


def test_a_reported_stall_is_due_every_repeat_with_repeat() -> None:
    """With `repeat`, due again once `repeat` has passed since it was last told."""
    rules = replace(RULES, repeat=20 * 60)
    stalled = seen("PENDING", stuck_since=at(0), stuck_notified_at=at(35))
    assert not is_due(stalled, at(54), rules)
    assert is_due(stalled, at(55), rules)


def test_candidates_are_the_due_snapshots_in_id_order() -> None:
    """Sorted by run id, so a tick reads and alerts in a stable order."""
    snaps = [replace(seen("PENDING"), run_id=i) for i in ("c", "a", "b")]
    snaps.append(replace(seen("PENDING", since=20), run_id="fresh"))
    assert [s.run_id for s in candidates(snaps, at(31), RULES)] == ["a", "b", "c"]


# --- the detail read decides ----------------------------------------------------------------------


def test_a_run_the_detail_read_shows_unchanged_gets_its_stuck_alert() -> None:
    """The alert: kind STUCK, routed as STUCK, its status unchanged, how long it has not moved."""
    candidate = seen("PENDING", since=0)
    detail = run("PENDING", 0, runtime_params={"x": 1})
    snapshot, event = confirm(candidate, detail, at(31))
    assert event is not None
    assert (event.kind, event.alert, event.alert_status, event.reminder) == (
        EventKind.STUCK,
        True,
        STUCK,
        False,
    )
    assert (event.from_status, event.to_status, event.at) == ("PENDING", "PENDING", at(31))
    assert event.stuck_for == 31 * 60
    assert event.run is detail
    assert event.previous_since == at(0)
    assert (snapshot.stuck_since, snapshot.stuck_notified_at, snapshot.stuck_ended_at) == (
        at(0),
        at(31),
        None,
    )
    assert snapshot.stuck


def test_a_reminder_keeps_the_stall_start_and_moves_the_last_word() -> None:
    """The second word on the same stall is a reminder, measured from the same start."""
    candidate = seen("PROCESSING", 3, stuck_since=at(0), stuck_notified_at=at(60))
    snapshot, event = confirm(candidate, run("PROCESSING", 3), at(90))
    assert event is not None
    assert event.reminder
    assert event.stuck_for == 90 * 60
    assert (snapshot.stuck_since, snapshot.stuck_notified_at) == (at(0), at(90))


@pytest.mark.parametrize("detail", [run("PENDING", 1), run("PROCESSING", 0), run("FAILED", 0)])
def test_a_run_the_detail_read_shows_moved_gets_no_alert(detail: Run) -> None:
    """The list lagged: the run moved. No alert, and the snapshot stays as detect made it."""
    candidate = seen("PENDING")
    assert confirm(candidate, detail, at(40)) == (candidate, None)


def test_decide_leaves_unread_candidates_for_later_and_names_the_moved() -> None:
    """A failed read decides nothing; every snapshot of the tick is returned, in order."""
    snaps = [replace(seen("PENDING"), run_id=i, run=run("PENDING", run_id=i)) for i in "abc"]
    details = {"a": run("PENDING", run_id="a"), "b": run("PROCESSING", run_id="b")}
    verdicts = decide(snaps, snaps, details, at(31))
    assert [e.run_id for e in verdicts.events] == ["a"]
    assert (verdicts.moved, verdicts.unread) == (("b",), ("c",))
    assert [s.run_id for s in verdicts.snapshots] == ["a", "b", "c"]
    assert verdicts.snapshots[0].stuck
    assert verdicts.snapshots[1:] == tuple(snaps[1:])


# --- episodes, folded over ticks ------------------------------------------------------------------


def test_one_alert_per_stall_then_a_new_one_after_a_move() -> None:
    """PENDING past 30m: one alert, silence while it stays; it moves; stalls again: one more."""
    state: dict[str, Snapshot] = {}
    state, _ = tick(state, (run("PENDING"),), at(0))
    alerts = []
    for minute in range(5, 121, 5):
        state, events = tick(state, (run("PENDING"),), at(minute))
        alerts += [(minute, e.stuck_for, e.reminder) for e in stuck_events(events)]
    assert alerts == [(30, 1800, False)]
    state, events = tick(state, (run("PROCESSING", 0),), at(125))  # the move ends the stall
    assert stuck_events(events) == []
    assert not state["a"].stuck
    for minute in range(130, 191, 5):
        state, events = tick(state, (run("PROCESSING", 0),), at(minute))
        alerts += [(minute, e.stuck_for, e.reminder) for e in stuck_events(events)]
    assert alerts == [(30, 1800, False), (185, 3600, False)]


def test_reminders_every_repeat_while_stuck() -> None:
    """With repeat 20m: the alert at 30m, reminders at 50m, 70m, ..., each from the same start."""
    rules = replace(RULES, repeat=20 * 60)
    state, _ = tick({}, (run("PENDING"),), at(0), rules)
    told = []
    for minute in range(5, 101, 5):
        state, events = tick(state, (run("PENDING"),), at(minute), rules)
        told += [(minute, e.reminder, e.stuck_for) for e in stuck_events(events)]
    assert told == [
        (30, False, 1800),
        (50, True, 3000),
        (70, True, 4200),
        (90, True, 5400),
    ]


def test_samples_that_move_keep_a_processing_run_from_being_stuck() -> None:
    """One more sample each poll: never still for an hour, never stuck."""
    state, _ = tick({}, (run("PROCESSING", 0),), at(0))
    for minute in range(10, 500, 10):
        state, events = tick(state, (run("PROCESSING", minute),), at(minute))
        assert stuck_events(events) == []


def test_the_final_alert_of_a_run_stuck_until_it_finished_says_for_how_long() -> None:
    """Stuck from 0, alerted at 30m, FAILED seen at 75m: the final alert says 75m."""
    state, _ = tick({}, (run("PENDING"),), at(0))
    state, _ = tick(state, (run("PENDING"),), at(30))
    state, events = tick(state, (run("FAILED"),), at(75))
    (final,) = events
    assert (final.to_status, final.alert, final.stuck_for) == ("FAILED", True, 75 * 60)
    assert (state["a"].stuck_ended_at, stall_of(state["a"], at(999))) == (at(75), 75 * 60)


def test_the_final_alert_of_a_run_that_moved_on_after_a_stall_still_says_it() -> None:
    """Stuck PENDING 0 to 40m (seen moving at 40m), then a normal run: its alert says 40m."""
    state, _ = tick({}, (run("PENDING"),), at(0))
    state, _ = tick(state, (run("PENDING"),), at(30))
    state, _ = tick(state, (run("PROCESSING", 1),), at(40))
    state, _ = tick(state, (run("PROCESSING", 5),), at(50))
    state, events = tick(state, (run("SUCCEEDED", 9),), at(60))
    assert [(e.to_status, e.stuck_for) for e in events] == [("SUCCEEDED", 40 * 60)]


def test_a_run_never_reported_stuck_finishes_without_stuck_for() -> None:
    """Slow but under the threshold, or stuck while no rules applied: no stuck_for."""
    state, _ = tick({}, (run("PENDING"),), at(0))
    state, _ = tick(state, (run("PENDING"),), at(29))
    state, events = tick(state, (run("SUCCEEDED"),), at(31), StuckRules(no_progress_after=60))
    assert [(e.to_status, e.stuck_for) for e in events] == [("SUCCEEDED", None)]


def test_a_failed_detail_read_postpones_the_alert_to_the_next_tick() -> None:
    """No read, no decision, no change: the next tick checks again and alerts then."""
    state, _ = tick({}, (run("PENDING"),), at(0))
    state, events = tick(state, (run("PENDING"),), at(31), detail=lambda c: None)
    assert stuck_events(events) == []
    assert not state["a"].stuck
    state, events = tick(state, (run("PENDING"),), at(32))
    assert [e.stuck_for for e in stuck_events(events)] == [32 * 60]


def test_a_run_gone_while_stuck_is_never_stuck_again_and_not_reminded() -> None:
    """Confirmed gone (404): no check, no reminder, however long."""
    rules = replace(RULES, repeat=60)
    state, _ = tick({}, (run("PENDING"),), at(0), rules)
    state, _ = tick(state, (run("PENDING"),), at(30), rules)
    state, events = tick(state, (), at(31), rules, missing=frozenset({"a"}))
    assert [e.kind for e in events] == [EventKind.GONE]
    for minute in range(40, 200, 10):
        state, events = tick(state, (), at(minute), rules)
        assert events == ()


def test_a_repeated_list_entry_is_checked_once() -> None:
    """A list that repeats a run: one snapshot, one check, one alert."""
    state, _ = tick({}, (run("PENDING"),), at(0))
    _, events = tick(state, (run("PENDING"), run("PENDING")), at(31))
    assert len(stuck_events(events)) == 1


# --- properties -----------------------------------------------------------------------------------

STATUSES = ["PENDING", "PROCESSING", "PAUSED", "", *TERMINAL]


@dataclass(frozen=True)
class Step:
    """One poll: minutes since the previous one, how the list changed, what a detail read does."""

    minutes: int
    change: str  # "none", "samples" (one more), "status" (to `status`), "missing" (a 404)
    status: str
    detail: str  # "same", "moved" or "failed"


steps = st.builds(
    Step,
    minutes=st.integers(1, 45),
    change=st.sampled_from(["none"] * 5 + ["samples", "status", "status", "missing"]),
    status=st.sampled_from(STATUSES),
    detail=st.sampled_from(["same", "same", "same", "moved", "failed"]),
)


def listed(script: list[Step], start: str) -> list[tuple[str, int] | None]:
    """What the list shows at each step (None: the run is missing), from `start` with 0."""
    current, shown = (start, 0), []
    for step in script:
        if step.change == "samples":
            current = (current[0], current[1] + 1)
        elif step.change == "status":
            current = (step.status, current[1])
        shown.append(None if step.change == "missing" else current)
    return shown


minutes = st.one_of(st.none(), st.integers(1, 90))
rules_st = st.builds(
    lambda p, n, r: StuckRules(
        None if p is None else p * 60, None if n is None else n * 60, r * 60
    ),
    minutes,
    minutes,
    st.sampled_from([0, 0, 5, 20, 60]),
)


def detail_for(step: Step) -> Detail:
    def read(candidate: Snapshot) -> Run | None:
        assert candidate.run is not None
        if step.detail == "failed":
            return None
        if step.detail == "moved":
            return candidate.run.model_copy(
                update={"samples_completed": (candidate.run.samples_completed or 0) + 1}
            )
        return candidate.run

    return read


@settings(max_examples=400, deadline=None)
@given(
    rules=rules_st,
    start=st.sampled_from(["PENDING", "PROCESSING"]),
    script=st.lists(steps, min_size=1, max_size=40),
)
def test_folding_ticks_keeps_the_stuck_invariants(
    rules: StuckRules, start: str, script: list[Step]
) -> None:
    """Over any script of polls, against a model that only sees the list:

    - a STUCK alert goes only to a PENDING/PROCESSING run still for at least its threshold,
      confirmed by a detail read showing it unchanged (never to gone or unknown runs);
    - per stall, the first word is the alert and the others reminders; without `repeat`
      there is one, with it each comes at least `repeat` after the previous one;
    - with the detail read confirming, a stall past its threshold is reported that very tick;
    - the final alert carries stuck_for exactly when the run was reported stuck, and it is
      the last reported stall's length (from its last move to the poll that saw it move).
    """
    state: dict[str, Snapshot] = {}
    now = T0
    last_seen: tuple[str, int] | None = None  # the model: what the list last showed
    moved_at = T0
    gone = False
    stall: list[datetime] = []  # when this stall's alert and reminders were told
    reported: tuple[datetime, datetime | None] | None = None  # last reported stall's span
    finished = False
    for step, shown in zip(script, listed(script, start), strict=True):
        now += timedelta(minutes=step.minutes)
        runs = () if shown is None else (run(*shown),)
        missing = frozenset({"a"}) if shown is None and last_seen is not None else frozenset()
        state, events = tick(state, runs, now, rules, detail_for(step), missing)
        if finished:
            assert events == ()
            continue
        if shown is None:
            gone = gone or last_seen is not None
            assert stuck_events(events) == []
            continue
        gone = False
        status = shown[0]
        if shown != last_seen:
            moved_at = now
            if stall:
                assert reported is not None
                reported = (reported[0], now)
            stall = []
        last_seen = shown
        for event in events:
            if event.kind is EventKind.STUCK:
                limit = rules.threshold(status)
                assert limit is not None
                assert not gone
                assert step.detail == "same"
                assert event.stuck_for == (now - moved_at).total_seconds() >= limit
                assert event.reminder is bool(stall)
                if stall:
                    assert rules.repeat > 0
                    assert (now - stall[-1]).total_seconds() >= rules.repeat
                else:
                    reported = (moved_at, None)
                stall.append(now)
            elif event.alert:
                finished = True
                if reported is None:
                    assert event.stuck_for is None
                else:
                    end = now if reported[1] is None else reported[1]
                    assert event.stuck_for == (end - reported[0]).total_seconds()
        limit = rules.threshold(status)
        overdue = limit is not None and (now - moved_at).total_seconds() >= limit
        assert not (overdue and step.detail == "same" and not stall), "a stall went unreported"
        assert state["a"].stuck is bool(stall)


@settings(max_examples=200, deadline=None)
@given(start=st.sampled_from(STATUSES), script=st.lists(steps, min_size=1, max_size=30))
def test_rules_that_watch_no_status_never_find_a_stuck_run(start: str, script: list[Step]) -> None:
    """Rules without a threshold (only `repeat`): no check is ever due, whatever happens."""
    state: dict[str, Snapshot] = {}
    now = T0
    for step, shown in zip(script, listed(script, start), strict=True):
        now += timedelta(minutes=step.minutes)
        runs = () if shown is None else (run(*shown),)
        detection = detect(state, Observation(runs=runs), now)
        assert candidates(detection.snapshots, now, StuckRules(repeat=60)) == []
        state.update((s.run_id, s) for s in detection.snapshots)

"""hold: mutes suppress, quiet hours and digests hold, everything else goes at once. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.events import Event, EventKind, HoldReason, Intent, Window
from watcher.hold import DigestPolicy, Mute, MuteScope, hold, silencing
from watcher.models import Run

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def event(run_id: str = "r-1", spec: str | None = "invoice-extraction") -> Event:
    run = Run.model_validate({"id": run_id, "status": "FAILED", "spec_name": spec})
    return Event(run_id, EventKind.TRANSITION, "PROCESSING", "FAILED", NOW, alert=True, run=run)


def mute(scope: MuteScope, pattern: str, *, minutes: float = 60, ended: bool = False) -> Mute:
    return Mute(
        id=f"m-{scope}",
        scope=scope,
        pattern=pattern,
        until=NOW + timedelta(minutes=minutes),
        ended_at=NOW - timedelta(seconds=1) if ended else None,
    )


@pytest.mark.parametrize(
    ("the_mute", "channel", "silenced"),
    [
        (mute(MuteScope.SPEC, "invoice-*"), "team", True),
        (mute(MuteScope.SPEC, "Invoice-*"), "team", False),  # globs are case-sensitive
        (mute(MuteScope.SPEC, "billing-*"), "team", False),
        (mute(MuteScope.RUN, "r-1"), "team", True),
        (mute(MuteScope.RUN, "r-2"), "team", False),
        (mute(MuteScope.CHANNEL, "team"), "team", True),
        (mute(MuteScope.CHANNEL, "team"), "oncall", False),
        (mute(MuteScope.SPEC, "invoice-*", minutes=-1), "team", False),  # over
        (mute(MuteScope.RUN, "r-1", ended=True), "team", False),  # unmuted
    ],
)
def test_a_mute_silences_what_it_names_while_in_force(
    the_mute: Mute, channel: str, silenced: bool
) -> None:
    """Spec globs, one run, a whole channel; an expired or ended mute silences nothing."""
    assert (silencing([the_mute], event(), channel, NOW) is not None) == silenced


def test_a_spec_mute_never_silences_a_run_without_a_spec() -> None:
    """A run the API gave no spec name matches no spec glob, not even '*'."""
    assert silencing([mute(MuteScope.SPEC, "*")], event(spec=None), "team", NOW) is None


def test_without_mutes_quiet_hours_or_digest_everything_goes_now() -> None:
    """The defaults keep today's behaviour: every intent goes at once."""
    events = [event(f"r-{i}") for i in range(3)]
    intents = [Intent(i, c) for i in range(3) for c in ("team", "oncall")]
    decision = hold(events, intents, now=NOW)
    assert decision.now == tuple(intents)
    assert (decision.held, decision.suppressed, dict(decision.windows)) == ((), (), {})


def test_mutes_come_first_then_quiet_hours() -> None:
    """A muted alert is suppressed (with the mute's id) even inside quiet hours; an alert
    whose route is in quiet hours waits until their end; one past its end goes now."""
    events = [event("r-1"), event("r-2"), event("r-3")]
    later = NOW + timedelta(hours=7)
    intents = [
        Intent(0, "team", hold_until=later),
        Intent(1, "team", hold_until=later),
        Intent(2, "team", hold_until=NOW - timedelta(minutes=1)),
    ]
    decision = hold(events, intents, mutes=[mute(MuteScope.RUN, "r-1")], now=NOW)
    assert [(s.intent.event_index, s.mute_id) for s in decision.suppressed] == [(0, "m-run")]
    assert [(h.intent.event_index, h.until, h.why) for h in decision.held] == [
        (1, later, HoldReason.QUIET_HOURS)
    ]
    assert decision.now == (intents[2],)


def test_a_digest_lets_the_first_alerts_of_a_burst_go_and_holds_the_rest() -> None:
    """Threshold 5, window 30 s: of 12 alerts in one poll the first 5 go, 7 wait for the
    window's end; the window opened with the first alert and counts 5."""
    events = [event(f"r-{i}") for i in range(12)]
    intents = [Intent(i, "team") for i in range(12)]
    decision = hold(events, intents, digest=DigestPolicy(30, 5), now=NOW)
    end = NOW + timedelta(seconds=30)
    assert decision.now == tuple(intents[:5])
    assert [(h.intent.event_index, h.until, h.why) for h in decision.held] == [
        (i, end, HoldReason.DIGEST) for i in range(5, 12)
    ]
    assert decision.windows == {"team": Window(NOW, end, 5)}


def test_a_digest_window_spans_polls_and_a_new_one_opens_after_it() -> None:
    """Alerts in a later poll of the same window are held once the threshold is used up; a
    single alert after the window has ended goes at once and opens a new window."""
    open_window = {"team": Window(NOW - timedelta(seconds=10), NOW + timedelta(seconds=20), 5)}
    decision = hold(
        [event()], [Intent(0, "team")], windows=open_window, digest=DigestPolicy(30, 5), now=NOW
    )
    assert decision.now == ()
    assert decision.held[0].until == NOW + timedelta(seconds=20)
    closed = {"team": Window(NOW - timedelta(seconds=40), NOW - timedelta(seconds=10), 5)}
    decision = hold(
        [event()], [Intent(0, "team")], windows=closed, digest=DigestPolicy(30, 5), now=NOW
    )
    assert decision.now == (Intent(0, "team"),)
    assert decision.windows["team"] == Window(NOW, NOW + timedelta(seconds=30), 1)


def test_each_channel_has_its_own_window() -> None:
    """A burst to one channel does not hold another channel's alerts."""
    events = [event(f"r-{i}") for i in range(3)]
    intents = [Intent(i, "team") for i in range(3)] + [Intent(0, "oncall")]
    decision = hold(events, intents, digest=DigestPolicy(60, 1), now=NOW)
    assert decision.now == (Intent(0, "team"), Intent(0, "oncall"))
    assert [h.intent for h in decision.held] == [Intent(1, "team"), Intent(2, "team")]


intents_strategy = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=9),
        st.sampled_from(["a", "b", "c"]),
        st.none() | st.integers(min_value=-60, max_value=60),
    ),
    max_size=40,
)


@given(
    raw=intents_strategy,
    threshold=st.integers(min_value=1, max_value=6),
    muted=st.sets(st.integers(min_value=0, max_value=9), max_size=3),
    sent_before=st.integers(min_value=0, max_value=6),
)
def test_every_intent_lands_in_exactly_one_place_and_no_channel_passes_its_threshold(
    raw: list[tuple[int, str, int | None]], threshold: int, muted: set[int], sent_before: int
) -> None:
    """Each intent is sent, held or suppressed, once; a muted run is always suppressed; no
    channel sends more than the threshold within its window; held digests wait for their
    window's end and quiet-hours holds for their own."""
    events = [event(f"r-{i}") for i in range(10)]
    intents = [
        Intent(i, c, hold_until=None if m is None else NOW + timedelta(minutes=m))
        for i, c, m in raw
    ]
    mutes = [mute(MuteScope.RUN, f"r-{i}") for i in muted]
    windows = {"a": Window(NOW - timedelta(seconds=5), NOW + timedelta(seconds=25), sent_before)}
    decision = hold(
        events, intents, mutes=mutes, windows=windows, digest=DigestPolicy(30, threshold), now=NOW
    )
    placed = list(decision.now) + [h.intent for h in decision.held]
    placed += [s.intent for s in decision.suppressed]
    assert sorted(placed, key=repr) == sorted(intents, key=repr)
    assert {s.intent.event_index for s in decision.suppressed} <= muted
    assert not [i for i in decision.now if i.event_index in muted]
    for channel in "abc":
        before = sent_before if channel == "a" else 0
        sent = sum(1 for i in decision.now if i.channel == channel)
        assert sent <= max(0, threshold - before) or (channel != "a" and sent <= threshold)
    for held in decision.held:
        if held.why is HoldReason.QUIET_HOURS:
            assert held.until == held.intent.hold_until
            assert held.until > NOW
        else:
            assert held.until == decision.windows[held.intent.channel].ends_at > NOW

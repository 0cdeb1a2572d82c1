"""route: which alert goes to which channel, as the brief's routing contract says."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.events import Event, EventKind, Intent
from watcher.models import TERMINAL_STATUSES, Run
from watcher.route import channels_for, route

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TERMINAL = sorted(TERMINAL_STATUSES)
CHANNELS = ["team", "oncall", "ops"]


@dataclass(frozen=True)
class Rule:
    """A configured route, as watcher.config would give it."""

    statuses: tuple[str, ...]
    channels: tuple[str, ...]
    specs: tuple[str, ...] | None = None


def alert(
    status: str = "FAILED",
    spec_name: str | None = "invoice-extraction",
    *,
    is_alert: bool = True,
    kind: EventKind = EventKind.TRANSITION,
    with_run: bool = True,
) -> Event:
    """An event for run r1 reaching `status`."""
    run = Run(id="r1", status=status, spec_name=spec_name) if with_run else None
    return Event(
        run_id="r1",
        kind=kind,
        from_status="PROCESSING",
        to_status=status,
        at=NOW,
        alert=is_alert,
        run=run,
    )


CONFIG_ROUTES = (
    Rule(statuses=("FAILED", "CANCELED"), channels=("team", "oncall")),
    Rule(statuses=("SUCCEEDED",), channels=("team",)),
)


@pytest.mark.parametrize("status", TERMINAL)
def test_no_routes_send_every_terminal_status_to_every_channel(status: str) -> None:
    """Without routes every channel gets every terminal status, in configured order."""
    assert channels_for(alert(status), [], CHANNELS) == CHANNELS


@pytest.mark.parametrize(
    ("status", "expected"),
    [("FAILED", ["team", "oncall"]), ("CANCELED", ["team", "oncall"]), ("SUCCEEDED", ["team"])],
)
def test_brief_example_routes(status: str, expected: list[str]) -> None:
    """The brief's example config sends failures to team and oncall and successes to team only."""
    assert channels_for(alert(status), CONFIG_ROUTES, CHANNELS) == expected


def test_routes_union_in_config_order_each_channel_once() -> None:
    """Every matching route contributes its channels, first mention first, none twice."""
    routes = [
        Rule(statuses=("FAILED",), channels=("oncall", "team")),
        Rule(statuses=("SUCCEEDED",), channels=("ops",)),
        Rule(statuses=("FAILED", "SUCCEEDED"), channels=("team", "ops", "oncall")),
    ]
    assert channels_for(alert("FAILED"), routes, CHANNELS) == ["oncall", "team", "ops"]
    assert channels_for(alert("SUCCEEDED"), routes, CHANNELS) == ["ops", "team", "oncall"]


def test_a_channel_named_twice_in_one_route_gets_the_alert_once() -> None:
    """A route that repeats a channel still sends one message there."""
    routes = [Rule(statuses=("FAILED",), channels=("team", "team"))]
    assert channels_for(alert("FAILED"), routes, CHANNELS) == ["team"]


def test_routed_away_status_reaches_no_channel() -> None:
    """A status that no route names goes nowhere, not to every channel."""
    routes = [Rule(statuses=("FAILED",), channels=tuple(CHANNELS))]
    assert channels_for(alert("SUCCEEDED"), routes, CHANNELS) == []
    assert channels_for(alert("CANCELED"), routes, CHANNELS) == []
    assert route([alert("SUCCEEDED"), alert("CANCELED")], routes, CHANNELS) == []


def test_channels_in_routes_but_not_configured_are_ignored() -> None:
    """A route naming an unknown channel sends to the known ones only."""
    routes = [Rule(statuses=("FAILED",), channels=("nowhere", "team", "gone"))]
    assert channels_for(alert("FAILED"), routes, CHANNELS) == ["team"]
    assert channels_for(alert("FAILED"), routes, []) == []


@pytest.mark.parametrize(
    ("patterns", "spec_name", "matches"),
    [
        (("invoice-*",), "invoice-extraction", True),
        (("invoice-*",), "Invoice-extraction", False),  # case-sensitive on every platform
        (("INVOICE-*",), "invoice-extraction", False),
        (("*-extraction",), "invoice-extraction", True),
        (("invoice-extractio?",), "invoice-extraction", True),
        (("[ij]nvoice-*",), "invoice-extraction", True),
        (("[!i]nvoice-*",), "invoice-extraction", False),
        (("invoice",), "invoice-extraction", False),  # a glob, not a prefix or substring
        (("other", "invoice-*"), "invoice-extraction", True),  # any pattern matches
        (("*",), "", True),
        (("*",), None, False),  # a route with specs never matches a run without a spec name
    ],
)
def test_spec_globs(patterns: tuple[str, ...], spec_name: str | None, matches: bool) -> None:
    """A route's specs are case-sensitive fnmatch globs on the run's spec name."""
    routes = [Rule(statuses=("FAILED",), channels=("team",), specs=patterns)]
    expected = ["team"] if matches else []
    assert channels_for(alert("FAILED", spec_name), routes, CHANNELS) == expected


def test_spec_globs_without_run_data_never_match() -> None:
    """An alert without run data has no spec name, so only spec-less routes take it."""
    routes = [
        Rule(statuses=("FAILED",), channels=("team",), specs=("*",)),
        Rule(statuses=("FAILED",), channels=("ops",)),
    ]
    assert channels_for(alert("FAILED", with_run=False), routes, CHANNELS) == ["ops"]


def test_routes_without_specs_match_any_spec() -> None:
    """specs None means every spec, a missing spec name included."""
    routes = [Rule(statuses=("FAILED",), channels=("team",), specs=None)]
    for spec_name in ["invoice-extraction", "", None]:
        assert channels_for(alert("FAILED", spec_name), routes, CHANNELS) == ["team"]


def test_spec_routes_and_status_routes_combine() -> None:
    """A spec route adds its channels to those of the status routes for matching runs only."""
    routes = [
        *CONFIG_ROUTES,
        Rule(statuses=tuple(TERMINAL), channels=("ops",), specs=("invoice-*",)),
    ]
    assert channels_for(alert("SUCCEEDED", "invoice-x"), routes, CHANNELS) == ["team", "ops"]
    assert channels_for(alert("SUCCEEDED", "receipts"), routes, CHANNELS) == ["team"]


@pytest.mark.parametrize("with_routes", [False, True])
@pytest.mark.parametrize(
    "event",
    [
        alert("FAILED", is_alert=False),  # a muted run that failed
        alert("PROCESSING", is_alert=False),
        alert("PAUSED", is_alert=False),
        alert("PROCESSING", is_alert=True),  # inconsistent, but never routed
        alert("PAUSED", is_alert=True),
        alert("PENDING", is_alert=False, kind=EventKind.FIRST_SEEN),
    ],
)
def test_non_alert_events_are_never_routed(event: Event, with_routes: bool) -> None:
    """Only alert events with a terminal status reach a channel, with or without routes."""
    routes = [Rule(statuses=("FAILED", "PROCESSING", "PAUSED", "PENDING"), channels=("team",))]
    assert channels_for(event, routes if with_routes else [], CHANNELS) == []


def test_gone_events_are_never_routed() -> None:
    """A GONE event (no status) reaches no channel."""
    gone = Event(
        run_id="r1",
        kind=EventKind.GONE,
        from_status="PROCESSING",
        to_status=None,
        at=NOW,
        alert=False,
    )
    assert channels_for(gone, [], CHANNELS) == []
    assert route([gone], CONFIG_ROUTES, CHANNELS) == []


def test_route_indexes_events_in_order() -> None:
    """route yields (event index, channel) pairs, events in order, channels in config order."""
    events = [
        alert("SUCCEEDED"),
        alert("PROCESSING", is_alert=False),
        alert("FAILED"),
        alert("FAILED", is_alert=False),
    ]
    assert route(events, CONFIG_ROUTES, CHANNELS) == [
        Intent(0, "team"),
        Intent(2, "team"),
        Intent(2, "oncall"),
    ]
    assert route([], CONFIG_ROUTES, CHANNELS) == []


def test_route_without_channels_gives_nothing() -> None:
    """With no channels configured there is nowhere to send, routes or not."""
    assert route([alert("FAILED")], [], []) == []
    assert route([alert("FAILED")], CONFIG_ROUTES, []) == []


# --- property ---------------------------------------------------------------------------------

NAMES = ["team", "oncall", "ops", "email", "nowhere"]
STATUSES = [*TERMINAL, "PENDING", "PROCESSING", "PAUSED"]
SPECS = ["invoice-extraction", "Invoice-extraction", "receipts", ""]
PATTERNS = ["invoice-*", "*", "receipts", "Inv*", "[ir]*", "?"]

rules = st.builds(
    Rule,
    statuses=st.lists(st.sampled_from(STATUSES), max_size=4).map(tuple),
    channels=st.lists(st.sampled_from(NAMES), max_size=5).map(tuple),
    specs=st.none() | st.lists(st.sampled_from(PATTERNS), max_size=3).map(tuple),
)
events = st.builds(
    alert,
    status=st.sampled_from(STATUSES),
    spec_name=st.none() | st.sampled_from(SPECS),
    is_alert=st.booleans(),
    with_run=st.booleans(),
)


def union_of_matching(event: Event, routes: Sequence[Rule], channels: Sequence[str]) -> list[str]:
    """The contract read literally: the ordered union of the known channels of matching routes."""
    if not (event.alert and event.to_status in TERMINAL_STATUSES):
        return []
    if not routes:
        return list(channels)
    spec_name = event.run.spec_name if event.run is not None else None
    result: list[str] = []
    for rule in routes:
        status_ok = event.to_status in rule.statuses
        spec_ok = rule.specs is None or (
            spec_name is not None and any(fnmatchcase(spec_name, p) for p in rule.specs)
        )
        if status_ok and spec_ok:
            result.extend(c for c in rule.channels if c in channels and c not in result)
    return result


@settings(max_examples=300, deadline=None, database=None)
@given(
    batch=st.lists(events, max_size=6),
    routes=st.lists(rules, max_size=4),
    channels=st.lists(st.sampled_from(NAMES[:4]), unique=True),
)
def test_route_is_the_union_of_matching_routes(
    batch: list[Event], routes: list[Rule], channels: list[str]
) -> None:
    """For any config, each alert goes to configured channels only, once each, as routes say."""
    intents = route(batch, routes, channels)
    assert all(0 <= intent.event_index < len(batch) for intent in intents)
    assert [i.event_index for i in intents] == sorted(i.event_index for i in intents)
    for index, event in enumerate(batch):
        chosen = [intent.channel for intent in intents if intent.event_index == index]
        assert set(chosen) <= set(channels)
        assert len(chosen) == len(set(chosen))
        assert chosen == union_of_matching(event, routes, channels)
        assert chosen == channels_for(event, routes, channels)

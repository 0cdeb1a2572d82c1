"""route: which alert goes to which channel, with which template and hold, as the routes say.

The quiet-hours arithmetic itself (`quiet_until`) is tested in tests/test_route_quiet.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.config import Route
from watcher.events import STUCK, Event, EventKind, Intent
from watcher.models import TERMINAL_STATUSES, Evaluation, RedTeamRun, Run
from watcher.route import ROUTABLE, RouteRule, job_kind, matches, quiet_until, route

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # 13:00 in Berlin, 21:00 in Tokyo
TERMINAL = sorted(TERMINAL_STATUSES)
CHANNELS = ["team", "oncall", "ops"]


@dataclass(frozen=True)
class Quiet:
    """Quiet hours, as watcher.config.QuietHours would give them."""

    start: str
    end: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class Rule:
    """A configured route, as watcher.config.Route would give it."""

    statuses: tuple[str, ...]
    channels: tuple[str, ...]
    specs: tuple[str, ...] | None = None
    creators: tuple[str, ...] | None = None
    datasets: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    flags: tuple[str, ...] | None = None
    template: str | None = None
    quiet_hours: Quiet | None = None
    stop: bool = False


def alert(
    status: str = "FAILED",
    spec_name: str | None = "invoice-extraction",
    *,
    is_alert: bool = True,
    kind: EventKind = EventKind.TRANSITION,
    with_run: bool = True,
    flags: tuple[str, ...] = (),
    **fields: Any,
) -> Event:
    """An event for run r1 reaching `status` (STUCK: a stuck alert); `fields` go on the run."""
    if status == STUCK:
        kind, status = EventKind.STUCK, "PROCESSING"
    run = Run(id="r1", status=status, spec_name=spec_name, **fields) if with_run else None
    return Event(
        run_id="r1",
        kind=kind,
        from_status="PROCESSING",
        to_status=status,
        at=NOW,
        alert=is_alert,
        run=run,
        flags=flags,
    )


def channels_for(
    event: Event, routes: Sequence[RouteRule], channels: Sequence[str] = CHANNELS
) -> list[str]:
    """The channels one alert goes to, in order."""
    return [intent.channel for intent in route([event], routes, channels, now=NOW)]


CONFIG_ROUTES = (
    Rule(statuses=("FAILED", "CANCELED"), channels=("team", "oncall")),
    Rule(statuses=("SUCCEEDED",), channels=("team",)),
)


@pytest.mark.parametrize("status", [*TERMINAL, STUCK])
def test_no_routes_send_every_alert_to_every_channel(status: str) -> None:
    """Without routes every channel gets every terminal status, and STUCK alerts (which
    exist only when alerts.stuck is configured), in configured order, at once."""
    assert route([alert(status)], [], CHANNELS, now=NOW) == [Intent(0, c) for c in CHANNELS]


@pytest.mark.parametrize(
    ("status", "expected"),
    [("FAILED", ["team", "oncall"]), ("CANCELED", ["team", "oncall"]), ("SUCCEEDED", ["team"])],
)
def test_brief_example_routes(status: str, expected: list[str]) -> None:
    """The brief's example config sends failures to team and oncall and successes to team only."""
    assert channels_for(alert(status), CONFIG_ROUTES) == expected


def test_routes_union_in_config_order_each_channel_once() -> None:
    """Every matching route contributes its channels, first mention first, none twice."""
    routes = [
        Rule(statuses=("FAILED",), channels=("oncall", "team")),
        Rule(statuses=("SUCCEEDED",), channels=("ops",)),
        Rule(statuses=("FAILED", "SUCCEEDED"), channels=("team", "ops", "oncall")),
    ]
    assert channels_for(alert("FAILED"), routes) == ["oncall", "team", "ops"]
    assert channels_for(alert("SUCCEEDED"), routes) == ["ops", "team", "oncall"]


def test_a_channel_named_twice_in_one_route_gets_the_alert_once() -> None:
    """A route that repeats a channel still sends one message there."""
    routes = [Rule(statuses=("FAILED",), channels=("team", "team"))]
    assert channels_for(alert("FAILED"), routes) == ["team"]


def test_routed_away_status_reaches_no_channel() -> None:
    """A status that no route names goes nowhere, not to every channel."""
    routes = [Rule(statuses=("FAILED",), channels=tuple(CHANNELS))]
    assert channels_for(alert("SUCCEEDED"), routes) == []
    assert channels_for(alert("CANCELED"), routes) == []
    assert channels_for(alert(STUCK), routes) == []


def test_stuck_alerts_match_routes_naming_stuck_only() -> None:
    """A stuck alert's status is STUCK (its run's own status is unchanged): a route takes it
    only when its statuses name STUCK, and a STUCK route takes no finished run."""
    routes = [
        Rule(statuses=("FAILED", STUCK), channels=("oncall",)),
        Rule(statuses=("PROCESSING",), channels=("ops",)),  # the run's own status: no match
        Rule(statuses=tuple(TERMINAL), channels=("team",)),
    ]
    assert channels_for(alert(STUCK), routes) == ["oncall"]
    assert channels_for(alert("SUCCEEDED"), routes) == ["team"]


def test_channels_in_routes_but_not_configured_are_ignored() -> None:
    """A route naming an unknown channel sends to the known ones only."""
    routes = [Rule(statuses=("FAILED",), channels=("nowhere", "team", "gone"))]
    assert channels_for(alert("FAILED"), routes) == ["team"]
    assert channels_for(alert("FAILED"), routes, []) == []


# --- glob filters ---------------------------------------------------------------------------

GLOB_CASES = [
    (("invoice-*",), "invoice-extraction", True),
    (("*-extraction",), "invoice-extraction", True),
    (("invoice-extractio?",), "invoice-extraction", True),
    (("[ij]nvoice-*",), "invoice-extraction", True),
    (("[!i]nvoice-*",), "invoice-extraction", False),
    (("invoice",), "invoice-extraction", False),  # a glob, not a prefix or substring
    (("other", "invoice-*"), "invoice-extraction", True),  # any pattern matches
    (("*",), "", True),
    (("*",), None, False),  # a filter never matches a run without that field
]


@pytest.mark.parametrize(
    ("patterns", "spec_name", "hit"),
    [
        *GLOB_CASES,
        (("invoice-*",), "Invoice-extraction", False),  # case-sensitive on every platform
        (("INVOICE-*",), "invoice-extraction", False),
    ],
)
def test_spec_globs(patterns: tuple[str, ...], spec_name: str | None, hit: bool) -> None:
    """A route's specs are case-sensitive fnmatch globs on the run's spec name."""
    routes = [Rule(statuses=("FAILED",), channels=("team",), specs=patterns)]
    assert channels_for(alert("FAILED", spec_name), routes) == (["team"] if hit else [])


@pytest.mark.parametrize(
    ("patterns", "dataset", "hit"),
    [
        *GLOB_CASES,
        (("prod-*",), "prod-invoices", True),
        (("prod-*",), "Prod-invoices", False),  # case-sensitive, like spec names
        (("prod-*",), "staging-invoices", False),
    ],
)
def test_dataset_globs(patterns: tuple[str, ...], dataset: str | None, hit: bool) -> None:
    """A route's datasets are case-sensitive fnmatch globs on the run's dataset name."""
    routes = [Rule(statuses=("FAILED",), channels=("team",), datasets=patterns)]
    event = alert("FAILED", dataset_name=dataset)
    assert channels_for(event, routes) == (["team"] if hit else [])


@pytest.mark.parametrize(
    ("patterns", "creator", "hit"),
    [
        *GLOB_CASES,
        (("*@example.com",), "ada@example.com", True),
        (("*@example.com",), "Ada@Example.COM", True),  # an email address ignores case
        (("ADA@*",), "ada@example.com", True),
        (("*@example.com",), "ada@example.com.evil.org", False),  # a glob, anchored
        (("*@example.com",), "ada@sub.example.com", False),
        (("*@*example.com",), "ada@sub.example.com", True),
    ],
)
def test_creator_globs(patterns: tuple[str, ...], creator: str | None, hit: bool) -> None:
    """A route's creators are case-insensitive fnmatch globs on the creator's email."""
    routes = [Rule(statuses=("FAILED",), channels=("team",), creators=patterns)]
    event = alert("FAILED", created_by_email=creator)
    assert channels_for(event, routes) == (["team"] if hit else [])


def test_filters_without_run_data_never_match() -> None:
    """An alert without run data has no spec, creator or dataset: only unfiltered routes
    (and those filtering on kind or flags) take it."""
    routes = [
        Rule(statuses=("FAILED",), channels=("team",), specs=("*",)),
        Rule(statuses=("FAILED",), channels=("team",), creators=("*",)),
        Rule(statuses=("FAILED",), channels=("team",), datasets=("*",)),
        Rule(statuses=("FAILED",), channels=("oncall",), kinds=("run",)),
        Rule(statuses=("FAILED",), channels=("ops",)),
    ]
    assert channels_for(alert("FAILED", with_run=False), routes) == ["oncall", "ops"]


def test_routes_without_filters_match_any_run() -> None:
    """A filter left out (None) means any value, a missing one included."""
    routes = [Rule(statuses=("FAILED",), channels=("team",))]
    for spec_name in ["invoice-extraction", "", None]:
        event = alert("FAILED", spec_name, created_by_email=None, dataset_name=None)
        assert channels_for(event, routes) == ["team"]


def test_every_filter_of_a_route_must_pass() -> None:
    """Filters combine with AND: a run matching the spec but not the creator is not taken."""
    rule = Rule(
        statuses=("FAILED",),
        channels=("team",),
        specs=("invoice-*",),
        creators=("*@example.com",),
        datasets=("prod-*",),
    )
    fields = {"created_by_email": "ada@example.com", "dataset_name": "prod-1"}
    assert matches(rule, alert("FAILED", **fields))
    assert not matches(rule, alert("FAILED", "receipts", **fields))
    assert not matches(rule, alert("FAILED", **{**fields, "created_by_email": "x@other.org"}))
    assert not matches(rule, alert("FAILED", **{**fields, "dataset_name": "dev-1"}))


def test_spec_routes_and_status_routes_combine() -> None:
    """A spec route adds its channels to those of the status routes for matching runs only."""
    routes = [
        *CONFIG_ROUTES,
        Rule(statuses=tuple(TERMINAL), channels=("ops",), specs=("invoice-*",)),
    ]
    assert channels_for(alert("SUCCEEDED", "invoice-x"), routes) == ["team", "ops"]
    assert channels_for(alert("SUCCEEDED", "receipts"), routes) == ["team"]


# --- kinds and flags ------------------------------------------------------------------------


def test_kinds_match_the_job_kind_and_a_plain_run_is_a_run() -> None:
    """`kinds` matches the alert's job kind, read from its canonical reference: a bare id is
    a generation run, `evaluation:ID` an evaluation, `red-team:ID` a red-team run."""
    evaluation = dataclasses.replace(
        alert("FAILED"), run_id="evaluation:e1", run=Evaluation(id="e1", status="FAILED")
    )
    red_team = dataclasses.replace(
        alert("FAILED"), run_id="red-team:t1", run=RedTeamRun(id="t1", status="FAILED")
    )
    assert [job_kind(e) for e in (alert(), evaluation, red_team)] == [
        "run",
        "evaluation",
        "red_team",
    ]
    assert job_kind(alert(with_run=False)) == "run"
    routes = [
        Rule(statuses=("FAILED",), channels=("team",), kinds=("run",)),
        Rule(statuses=("FAILED",), channels=("oncall",), kinds=("evaluation", "red_team")),
    ]
    assert channels_for(alert("FAILED"), routes) == ["team"]
    assert channels_for(evaluation, routes) == ["oncall"]
    assert channels_for(red_team, routes) == ["oncall"]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ((), ["team"]),
        (("quality",), ["team", "oncall"]),
        (("cost",), ["team", "ops"]),
        (("quality", "cost"), ["team", "oncall", "ops"]),
    ],
)
def test_flags_match_only_alerts_carrying_one_of_them(
    flags: tuple[str, ...], expected: list[str]
) -> None:
    """A route with `flags` takes an alert only when it carries one of them."""
    routes = [
        Rule(statuses=tuple(TERMINAL), channels=("team",)),
        Rule(statuses=tuple(TERMINAL), channels=("oncall",), flags=("quality",)),
        Rule(statuses=tuple(TERMINAL), channels=("ops",), flags=("cost", "nonsense")),
    ]
    assert channels_for(alert("SUCCEEDED", flags=flags), routes) == expected


# --- stop, templates, quiet hours -----------------------------------------------------------


def test_stop_ends_the_reading_when_its_route_matches() -> None:
    """A matching route with `stop` keeps later routes from being read; one that does not
    match lets them be read as usual."""
    routes = [
        Rule(statuses=("FAILED",), channels=("oncall",), specs=("invoice-*",), stop=True),
        Rule(statuses=("FAILED", "SUCCEEDED"), channels=("team",)),
    ]
    assert channels_for(alert("FAILED", "invoice-x"), routes) == ["oncall"]
    assert channels_for(alert("FAILED", "receipts"), routes) == ["team"]
    assert channels_for(alert("SUCCEEDED", "invoice-x"), routes) == ["team"]


def test_stop_keeps_the_channels_of_routes_before_it() -> None:
    """`stop` ends the reading after its own route: what earlier routes added stays."""
    routes = [
        Rule(statuses=("FAILED",), channels=("ops",)),
        Rule(statuses=("FAILED",), channels=("oncall",), stop=True),
        Rule(statuses=("FAILED",), channels=("team",)),
    ]
    assert channels_for(alert("FAILED"), routes) == ["ops", "oncall"]


def test_a_stop_route_naming_only_unknown_channels_still_stops() -> None:
    """A route matches on the alert, not on its channels: stop holds even with none to send to."""
    routes = [
        Rule(statuses=("FAILED",), channels=("gone",), stop=True),
        Rule(statuses=("FAILED",), channels=("team",)),
    ]
    assert channels_for(alert("FAILED"), routes) == []


def test_the_route_template_is_carried_and_the_first_route_naming_a_channel_wins() -> None:
    """Each intent carries its route's template; when two matching routes name a channel,
    the first one decides (its template), and the second adds only its other channels."""
    routes = [
        Rule(statuses=("FAILED",), channels=("team",), template="short"),
        Rule(statuses=("FAILED",), channels=("oncall", "team"), template="long"),
        Rule(statuses=("FAILED",), channels=("ops",)),
    ]
    assert route([alert("FAILED")], routes, CHANNELS, now=NOW) == [
        Intent(0, "team", "short"),
        Intent(0, "oncall", "long"),
        Intent(0, "ops", None),
    ]


def test_quiet_hours_put_their_end_on_the_intent_while_open() -> None:
    """A route whose quiet hours are open at `now` holds its alerts until they end; a closed
    window, or a route without quiet hours, sends at once."""
    tokyo_night = Quiet("20:00", "07:00", "Asia/Tokyo")  # NOW is 21:00 there
    berlin_night = Quiet("22:00", "07:00", "Europe/Berlin")  # NOW is 13:00 there
    routes = [
        Rule(statuses=("FAILED",), channels=("team",), quiet_hours=tokyo_night),
        Rule(statuses=("FAILED",), channels=("oncall",), quiet_hours=berlin_night),
        Rule(statuses=("FAILED",), channels=("ops",)),
    ]
    assert route([alert("FAILED")], routes, CHANNELS, now=NOW) == [
        Intent(0, "team", None, datetime(2025, 3, 1, 22, 0, tzinfo=UTC)),
        Intent(0, "oncall", None, None),
        Intent(0, "ops", None, None),
    ]


def test_failed_gets_through_quiet_hours_on_a_route_of_its_own() -> None:
    """The README's recipe: FAILED on its own route before the quiet one (with stop, or
    without it since the first route naming a channel decides) is sent at once; the rest
    waits for the window's end."""
    quiet = Quiet("20:00", "07:00", "Asia/Tokyo")
    until = quiet_until(quiet, NOW)
    assert until is not None
    for stop in (True, False):
        routes = [
            Rule(statuses=("FAILED",), channels=("team",), stop=stop),
            Rule(statuses=tuple(TERMINAL), channels=("team",), quiet_hours=quiet),
        ]
        assert route([alert("FAILED"), alert("SUCCEEDED")], routes, CHANNELS, now=NOW) == [
            Intent(0, "team"),
            Intent(1, "team", None, until),
        ]


def test_the_config_route_is_a_route_rule() -> None:
    """watcher.config.Route gives route what it needs, its defaults matching every terminal
    status and no stuck alert."""
    config_route = Route(channels=["team"], creators=["*@example.com"], stop=True)
    event = alert("SUCCEEDED", created_by_email="ada@example.com")
    assert route([event], [config_route], CHANNELS, now=NOW) == [Intent(0, "team")]
    assert route([alert(STUCK)], [config_route], CHANNELS, now=NOW) == []


@pytest.mark.parametrize("with_routes", [False, True])
@pytest.mark.parametrize(
    "event",
    [
        alert("FAILED", is_alert=False),  # a muted run that failed
        alert(STUCK, is_alert=False),
        alert("PROCESSING", is_alert=False),
        alert("PAUSED", is_alert=False),
        alert("PROCESSING", is_alert=True),  # inconsistent, but never routed
        alert("PAUSED", is_alert=True),
        alert("PENDING", is_alert=False, kind=EventKind.FIRST_SEEN),
    ],
)
def test_non_alert_events_are_never_routed(event: Event, with_routes: bool) -> None:
    """Only alert events with a terminal status or STUCK reach a channel, routes or not."""
    routes = [
        Rule(statuses=("FAILED", "PROCESSING", "PAUSED", "PENDING", STUCK), channels=("team",))
    ]
    assert channels_for(event, routes if with_routes else []) == []


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
    assert channels_for(gone, []) == []
    assert route([gone], CONFIG_ROUTES, CHANNELS, now=NOW) == []


def test_route_indexes_events_in_order() -> None:
    """route yields (event index, channel) pairs, events in order, channels in config order."""
    events = [
        alert("SUCCEEDED"),
        alert("PROCESSING", is_alert=False),
        alert("FAILED"),
        alert("FAILED", is_alert=False),
    ]
    assert route(events, CONFIG_ROUTES, CHANNELS, now=NOW) == [
        Intent(0, "team"),
        Intent(2, "team"),
        Intent(2, "oncall"),
    ]
    assert route([], CONFIG_ROUTES, CHANNELS, now=NOW) == []


def test_route_without_channels_gives_nothing() -> None:
    """With no channels configured there is nowhere to send, routes or not."""
    assert route([alert("FAILED")], [], [], now=NOW) == []
    assert route([alert("FAILED")], CONFIG_ROUTES, [], now=NOW) == []


# --- properties -----------------------------------------------------------------------------

NAMES = ["team", "oncall", "ops", "email", "nowhere"]
STATUSES = [*TERMINAL, STUCK, "PENDING", "PROCESSING", "PAUSED"]
VALUES = ["invoice-extraction", "Invoice-extraction", "receipts", "ada@example.com", ""]
PATTERNS = ["invoice-*", "*", "receipts", "Inv*", "[ir]*", "?", "*@EXAMPLE.com"]
FLAGS = ["quality", "cost"]
QUIETS = [Quiet("20:00", "07:00", "Asia/Tokyo"), Quiet("22:00", "07:00", "Europe/Berlin")]


def patterns(pool: list[str]) -> st.SearchStrategy[tuple[str, ...] | None]:
    """None (no filter), or one to three of `pool`."""
    return st.none() | st.lists(st.sampled_from(pool), min_size=1, max_size=3).map(tuple)


rules = st.builds(
    Rule,
    statuses=st.lists(st.sampled_from(STATUSES), max_size=4).map(tuple),
    channels=st.lists(st.sampled_from(NAMES), max_size=5).map(tuple),
    specs=patterns(PATTERNS),
    creators=patterns(PATTERNS),
    datasets=patterns(PATTERNS),
    kinds=patterns(["run", "evaluation"]),
    flags=patterns(FLAGS),
    template=st.none() | st.sampled_from(["short", "long"]),
    quiet_hours=st.none() | st.sampled_from(QUIETS),
    stop=st.booleans(),
)
events = st.builds(
    alert,
    status=st.sampled_from(STATUSES),
    spec_name=st.none() | st.sampled_from(VALUES),
    is_alert=st.booleans(),
    with_run=st.booleans(),
    flags=st.lists(st.sampled_from(FLAGS), unique=True, max_size=2).map(tuple),
    created_by_email=st.none() | st.sampled_from(VALUES),
    dataset_name=st.none() | st.sampled_from(VALUES),
)


def literal_match(rule: Rule, event: Event) -> bool:
    """A route's filters read literally from the README, written apart from route.py."""
    run = event.run

    def glob(value: str | None, pats: tuple[str, ...] | None, fold: bool = False) -> bool:
        if pats is None:
            return True
        if value is None:
            return False
        if fold:
            return any(fnmatchcase(value.lower(), p.lower()) for p in pats)
        return any(fnmatchcase(value, p) for p in pats)

    return (
        event.alert_status in rule.statuses
        and glob(run and run.spec_name, rule.specs)
        and glob(run and run.created_by_email, rule.creators, fold=True)
        and glob(run and run.dataset_name, rule.datasets)
        and (rule.kinds is None or "run" in rule.kinds)
        and (rule.flags is None or bool(set(rule.flags) & set(event.flags)))
    )


def expected_intents(
    index: int, event: Event, routes: Sequence[Rule], channels: Sequence[str]
) -> list[Intent]:
    """The contract: the ordered union of the known channels of the routes that match, read
    until a matching route stops, each channel as its first naming route says."""
    if not (event.alert and event.alert_status in ROUTABLE):
        return []
    if not routes:
        return [Intent(index, channel) for channel in channels]
    result: dict[str, Intent] = {}
    for rule in routes:
        if literal_match(rule, event):
            for channel in rule.channels:
                if channel in channels and channel not in result:
                    hold = quiet_until(rule.quiet_hours, NOW) if rule.quiet_hours else None
                    result[channel] = Intent(index, channel, rule.template, hold)
            if rule.stop:
                break
    return list(result.values())


@settings(max_examples=400, deadline=None, database=None)
@given(
    batch=st.lists(events, max_size=6),
    routes=st.lists(rules, max_size=5),
    channels=st.lists(st.sampled_from(NAMES[:4]), unique=True),
)
def test_route_is_the_union_of_matching_routes(
    batch: list[Event], routes: list[Rule], channels: list[str]
) -> None:
    """For any config, each alert reaches exactly the configured channels of the routes that
    match (read until a matching `stop`), each once; no matching route means no channel."""
    intents = route(batch, routes, channels, now=NOW)
    assert [i.event_index for i in intents] == sorted(i.event_index for i in intents)
    for index, event in enumerate(batch):
        mine = [intent for intent in intents if intent.event_index == index]
        chosen = [intent.channel for intent in mine]
        assert len(chosen) == len(set(chosen))
        assert set(chosen) <= set(channels)
        assert mine == expected_intents(index, event, routes, channels)
        if routes and not any(literal_match(rule, event) for rule in routes):
            assert chosen == []


@settings(max_examples=200, deadline=None, database=None)
@given(batch=st.lists(events, max_size=6), channels=st.lists(st.sampled_from(NAMES), unique=True))
def test_without_routes_every_alert_reaches_every_channel(
    batch: list[Event], channels: list[str]
) -> None:
    """No routes: every alert (terminal or STUCK) goes to every channel, once, at once."""
    intents = route(batch, [], channels, now=NOW)
    alerts = [i for i, e in enumerate(batch) if e.alert and e.alert_status in ROUTABLE]
    assert intents == [Intent(i, channel) for i in alerts for channel in channels]

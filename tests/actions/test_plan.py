"""plan: which actions a tick's alerts ask for, and the environment an exec child gets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher.actions.plan import child_environment, plan_actions
from watcher.config import Route
from watcher.events import Event, EventKind
from watcher.hold import Mute, MuteScope
from watcher.models import Run

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)


def _event(
    status: str,
    *,
    spec: str = "invoice-a",
    kind: EventKind = EventKind.TRANSITION,
    alert: bool = True,
    run_id: str = "r-1",
) -> Event:
    run = Run.model_validate({"id": run_id, "status": status, "spec_name": spec})
    return Event(run_id, kind, "PROCESSING", status, NOW, alert, run=run)


def _route(**fields: object) -> Route:
    fields.setdefault("actions", [{"exec": ["/bin/true"]}])
    return Route.model_validate(fields)


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "CANCELED"])
def test_a_finished_runs_alert_gets_the_routes_actions(status: str) -> None:
    """Each terminal status runs the actions of a route that matches it, with the run's kind,
    the argv and the default timeout as the outbox will keep them."""
    (planned,) = plan_actions([_event(status)], [_route(statuses=[status])], now=NOW)
    assert planned.event_index == 0
    assert planned.kind == "exec"
    assert planned.spec == {"exec": ["/bin/true"], "timeout": 300.0}
    assert planned.label == "exec /bin/true"
    assert planned.run_kind == "run"
    assert planned.muted_by is None


def test_stuck_alerts_silent_events_and_unmatched_routes_run_nothing() -> None:
    """A STUCK alert (a run still under way), an event that is no alert (the silent
    baseline) and an alert no route matches run no action."""
    stuck = _event("PROCESSING", kind=EventKind.STUCK)
    silent = _event("SUCCEEDED", alert=False)
    other = _event("SUCCEEDED", spec="report-b")
    routes = [_route(statuses=["SUCCEEDED", "STUCK"], specs=["invoice-*"])]
    assert plan_actions([stuck, silent, other], routes, now=NOW) == ()


def test_every_matching_route_adds_its_actions_once_each_until_stop() -> None:
    """Routes are read in order; the same action named twice runs once; `stop` ends it."""
    routes = [
        _route(statuses=["SUCCEEDED"], actions=[{"exec": ["/bin/a"]}, {"download": "/tmp/d"}]),
        _route(statuses=["SUCCEEDED"], actions=[{"exec": ["/bin/a"]}], stop=True),
        _route(statuses=["SUCCEEDED"], actions=[{"exec": ["/bin/never"]}]),
    ]
    planned = plan_actions([_event("SUCCEEDED")], routes, now=NOW)
    assert [p.label for p in planned] == ["exec /bin/a", "download to /tmp/d"]


def test_a_mute_on_the_run_or_spec_suppresses_actions_a_channel_mute_does_not() -> None:
    """Suppressed actions are kept, with the mute's id; a channel's mute is about a channel."""
    route = [_route(statuses=["FAILED"], channels=["team"])]
    by_spec = Mute("m-spec", MuteScope.SPEC, "invoice-*", LATER)
    by_channel = Mute("m-chan", MuteScope.CHANNEL, "team", LATER)
    by_run = Mute("m-run", MuteScope.RUN, "r-2", LATER)
    over = Mute("m-old", MuteScope.SPEC, "*", NOW - timedelta(seconds=1))
    events = [
        _event("FAILED"),
        _event("FAILED", spec="other", run_id="r-2"),
        _event("FAILED", spec="third", run_id="r-3"),
    ]
    planned = plan_actions(events, route, mutes=[by_channel, over, by_spec, by_run], now=NOW)
    assert [p.muted_by for p in planned] == ["m-spec", "m-run", None]


def test_the_child_environment_has_the_run_and_no_secret() -> None:
    """The API key, every WATCHER_* name, the credentials directory and any variable holding
    a known secret stay out; the four DATAFRAMER_* names describe the run."""
    environ = {
        "PATH": "/usr/bin",
        "HOME": "/home/w",
        "DATAFRAMER_API_KEY": "sk-live-abcdef123456",
        "DATAFRAMER_BASE_URL": "https://api.example.com",
        "WATCHER_CHANNELS__TEAM": "json://h/x",
        "CREDENTIALS_DIRECTORY": "/run/credentials/w",
        "SLACK_TOKEN": "xoxb-1234567890-secret",
        "DATAFRAMER_RUN_ID": "stale",
    }
    env = child_environment(
        environ,
        ["sk-live-abcdef123456", "xoxb-1234567890-secret"],
        run_id="r-1",
        run_kind="run",
        status="SUCCEEDED",
        spec_name=None,
    )
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/w",
        "DATAFRAMER_BASE_URL": "https://api.example.com",
        "DATAFRAMER_RUN_ID": "r-1",
        "DATAFRAMER_RUN_KIND": "run",
        "DATAFRAMER_RUN_STATUS": "SUCCEEDED",
        "DATAFRAMER_SPEC_NAME": "",
    }


def test_a_download_directory_is_absolute_once_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative DIR is taken from the working directory, once, when the config loads."""
    monkeypatch.chdir(tmp_path)
    route = _route(statuses=["SUCCEEDED"], actions=[{"download": "files"}])
    (planned,) = plan_actions([_event("SUCCEEDED")], [route], now=NOW)
    assert planned.spec == {"download": str(tmp_path / "files")}

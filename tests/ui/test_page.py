"""The status page's data and routes, in-process over a real state file: what `/api/runs`
says, what `/` and `/runs/ID` render, static files, and what must never show."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher.events import (
    Attempt,
    Event,
    EventKind,
    Notification,
    Snapshot,
    Source,
    TickRecord,
)
from watcher.models import Run
from watcher.state import Store
from watcher.ui import Credentials, Health, StatusPage
from watcher.ui.app import Reply

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SECRET = "hooktoken-9f8e7d6c5b4a"
LONG_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


def snap(run_id: str, at: datetime, samples: int, status: str = "PROCESSING") -> Snapshot:
    run = Run(
        id=run_id,
        status=status,
        spec_id="spec-1",
        spec_name="invoice-extract",
        samples_completed=samples,
        total_cost=1.5,
        runtime_params={"number_of_samples": 100},
    )
    return Snapshot(
        run_id=run_id,
        source=Source.EXPLICIT,
        status=status,
        status_since=T0,
        first_seen=T0,
        last_polled=at,
        run=run,
        progress_at=at,
    )


@pytest.fixture
def state(tmp_path: Path) -> Path:
    """A run moving 0 -> 10 -> 30 samples over two minutes, and a failed run whose alert's
    delivery failed with a reason that holds a secret."""
    path = tmp_path / "w.db"
    with Store.open(path) as store:
        store.track([LONG_ID, "B"], T0)
        for minute, samples in ((0, 0), (1, 10), (2, 30)):
            at = T0 + timedelta(minutes=minute)
            store.record(
                TickRecord(
                    at=at, snapshots=(snap(LONG_ID, at, samples),), events=(), notifications=()
                )
            )
        failed = snap("B", T0, 5, "FAILED")
        event = Event(
            run_id="B",
            kind=EventKind.TRANSITION,
            from_status="PROCESSING",
            to_status="FAILED",
            at=T0,
            alert=True,
            run=failed.run,
        )
        note = Notification(channel="team", event_indexes=(0,), title="B FAILED", body="b")
        (delivery,) = store.record(
            TickRecord(at=T0, snapshots=(failed,), events=(event,), notifications=(note,))
        )
        store.record_attempt(
            Attempt(
                delivery,
                T0,
                False,
                f"HTTP 500 from json://x/{SECRET}",
                frozenset(),
                T0 + timedelta(minutes=1),
            )
        )
    return path


def page(path: Path, *, credentials: Credentials | None = None) -> StatusPage:
    health = Health(
        api_ok=True,
        api_reason="last successful poll 1.0s ago",
        channels=["oncall", "team"],
        secrets=[SECRET],
    )
    now = T0 + timedelta(minutes=2)
    return StatusPage(path, health=lambda: health, clock=lambda: now, credentials=credentials)


def answer(p: StatusPage, path: str, authorization: str | None = None) -> Reply:
    reply = p.handle(path, authorization)
    assert reply is not None
    return reply


def test_api_runs_lists_every_run_with_progress_pace_and_eta(state: Path) -> None:
    """The moving run: 30 of 100, 15/min, ETA in 70/15 minutes; kind and spec; the failed
    run last; the channels by name with their last try; the alert with its result."""
    p = page(state)
    data = json.loads(answer(p, "/api/runs").body)
    first, second = data["runs"]
    assert first["id"] == LONG_ID
    assert second["id"] == "B"
    assert first["kind"] == "run"
    assert first["spec"] == "invoice-extract"
    assert first["progress"] == pytest.approx(0.3)
    assert first["rate_per_minute"] == pytest.approx(15.0)
    expected = T0 + timedelta(minutes=2) + timedelta(minutes=70 / 15)
    assert datetime.fromisoformat(first["eta"]) == pytest.approx(expected, abs=timedelta(seconds=1))
    assert first["shown"]["progress"] == "30 / 100 (30%)"
    assert first["shown"]["eta"] == "in 5 min (00:06 UTC)"
    assert second["status"] == "FAILED"
    assert second["eta"] is None
    assert [c["name"] for c in data["channels"]] == ["oncall", "team"]
    team = data["channels"][1]
    assert team["ok"] is False
    assert team["pending"] == 1
    assert data["channels"][0]["ok"] is None  # no delivery yet
    assert data["alerts"][0]["result"] == "retrying"
    p.close()


def test_the_run_page_and_its_json_carry_the_curve(state: Path) -> None:
    """/runs/ID renders the full id, the facts and the chart's data; /api/runs/ID the curve."""
    p = page(state)
    detail = json.loads(answer(p, f"/api/runs/{LONG_ID}").body)
    assert [samples for _, samples in detail["curve"]] == [0, 10, 30]
    html = answer(p, f"/runs/{LONG_ID}?x=1").body.decode()
    assert LONG_ID in html
    assert 'id="chart"' in html
    assert 'data-points="3"' in html
    assert '<meta name="viewport"' in html
    assert "/static/uPlot.iife.min.js" in html
    p.close()


def test_no_secret_and_no_channel_url_anywhere(state: Path) -> None:
    """The failing delivery's reason held a token: scrubbed in the JSON and the HTML."""
    p = page(state)
    for path in ("/", "/api/runs", "/runs/B", "/api/runs/B"):
        body = answer(p, path).body.decode()
        assert SECRET not in body, path
        assert "json://" not in body or "json://x/***" in body, path
    p.close()


def test_unknown_runs_and_paths(state: Path) -> None:
    """An unknown run: 404 (JSON and HTML); paths not the page's are left to the health
    listener (None); a path with more after the id is not a run."""
    p = page(state)
    assert answer(p, "/api/runs/nope").code == 404
    missing = answer(p, "/runs/nope")
    assert missing.code == 404
    assert b"nope" in missing.body
    assert answer(p, f"/runs/{LONG_ID}/extra").code == 404
    assert p.handle("/healthz") is None
    assert p.handle("/metrics") is None
    p.close()


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("uPlot.iife.min.js", "text/javascript"),
        ("uPlot.min.css", "text/css"),
        ("uPlot.LICENSE", "text/plain"),
        ("page.js", "text/javascript"),
        ("page.css", "text/css"),
    ],
)
def test_the_vendored_files_are_served_from_the_package(
    state: Path, name: str, content_type: str
) -> None:
    """The chart and the page's own files come from the installed package."""
    reply = answer(page(state), "/static/" + name)
    assert reply.code == 200
    assert reply.content_type == content_type
    assert reply.body


@pytest.mark.parametrize("name", ["../app.py", "..%2Fapp.py", "app.py", "pages/index.html", "x"])
def test_nothing_else_is_served_from_static(state: Path, name: str) -> None:
    """Only the static folder's own files, by name: no way out of it, no source file."""
    assert answer(page(state), "/static/" + name).code == 404


def test_with_credentials_every_page_path_needs_them(state: Path) -> None:
    """401 with a challenge without them; the page with them."""
    import base64

    creds = Credentials("watcher", "pw-0123456789")
    p = page(state, credentials=creds)
    good = "Basic " + base64.b64encode(b"watcher:pw-0123456789").decode()
    for path in ("/", "/api/runs", f"/runs/{LONG_ID}", "/static/page.js"):
        refused = answer(p, path)
        assert refused.code == 401
        assert "WWW-Authenticate" in refused.headers
        assert answer(p, path, good).code == 200
    p.close()


def test_a_state_file_it_cannot_read_is_a_503_with_the_reason(tmp_path: Path) -> None:
    """No file where the state should be: the page answers 503 and says why, not a reset."""
    p = page(tmp_path / "missing.db")
    reply = answer(p, "/api/runs")
    assert reply.code == 503
    assert "cannot read the state file" in json.loads(reply.body)["error"]
    p.close()

"""The status page with jobs of every kind: each listed by its full reference and its kind,
`/runs/` taking any spelling of a reference, and no pace or ETA for kinds without progress."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher.events import Snapshot, Source, TickRecord
from watcher.models import AnonymizationRun, Evaluation, Job, RedTeamRun
from watcher.state import Store
from watcher.ui import Health, StatusPage
from watcher.ui.app import Reply

T0 = datetime(2026, 11, 1, tzinfo=UTC)
EVAL_ID = "8f14e45f-ceea-4e67-a6b3-9b1ad0f0c2d1"
RED_ID = "c9f0f895-fb98-4b91-b7e0-6a1f4e4d2b77"
ANON_ID = "45c48cce-2e2d-4fbd-aa1a-f0b6e3b9d8a4"
REFS = {
    "evaluation": f"evaluation:{EVAL_ID}",
    "red_team": f"red-team:{RED_ID}",
    "anonymization": f"anonymization:{ANON_ID}",
}


def _job(kind: str, samples: int) -> Job:
    shared = {"status": "PROCESSING", "created_at": T0}
    if kind == "evaluation":
        return Evaluation(id=EVAL_ID, run_id="r-1", **shared)
    if kind == "red_team":
        return RedTeamRun(id=RED_ID, spec_name="jailbreak-suite", **shared)
    # An anonymization run counts documents as it goes, but its kind reports no progress.
    return AnonymizationRun.model_validate(
        {"id": ANON_ID, **shared, "results": {"samples_processed": samples}}
    )


def _snap(kind: str, at: datetime, samples: int) -> Snapshot:
    job = _job(kind, samples)
    return Snapshot(
        run_id=job.ref,
        source=Source.EXPLICIT,
        status="PROCESSING",
        status_since=T0,
        first_seen=T0,
        last_polled=at,
        run=job,
        progress_at=at,
    )


@pytest.fixture
def page(tmp_path: Path) -> StatusPage:
    path = tmp_path / "w.db"
    with Store.open(path) as store:
        store.track(list(REFS.values()), T0)
        for minute, samples in ((0, 0), (1, 10), (2, 30)):
            at = T0 + timedelta(minutes=minute)
            snaps = tuple(_snap(kind, at, samples) for kind in REFS)
            store.record(TickRecord(at=at, snapshots=snaps, events=(), notifications=()))
    health = Health(api_ok=True, api_reason="ok", channels=[])
    now = T0 + timedelta(minutes=2)
    return StatusPage(path, health=lambda: health, clock=lambda: now)


def answer(p: StatusPage, path: str) -> Reply:
    reply = p.handle(path)
    assert reply is not None
    return reply


def test_api_runs_lists_each_kind_by_its_full_reference(page: StatusPage) -> None:
    """`/api/runs` and `/`: every job's kind and canonical reference; a kind without
    progress has no pace, no ETA and no slow flag, whatever samples it reports."""
    data = json.loads(answer(page, "/api/runs").body)
    kinds = {run["id"]: run["kind"] for run in data["runs"]}
    assert kinds == {ref: kind for kind, ref in REFS.items()}
    for run in data["runs"]:
        assert run["rate_per_minute"] is None
        assert run["eta"] is None
        assert run["flags"] == []
    anon = next(run for run in data["runs"] if run["kind"] == "anonymization")
    assert anon["shown"]["progress"] == "30 documents"
    html = answer(page, "/").body.decode()
    for kind, ref in REFS.items():
        assert f'data-run-id="{ref}"' in html
        assert f'<td data-label="Kind">{kind}</td>' in html
        assert f'href="/runs/{urllib.parse.quote(ref)}"' in html
    page.close()


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        # evaluation%3AID, as the page's links and script quote it
        (urllib.parse.quote(REFS["evaluation"], safe=""), "evaluation"),
        (REFS["evaluation"], "evaluation"),
        (f"EVALUATION:{EVAL_ID.upper()}", "evaluation"),
        (f"red_team:{RED_ID}", "red_team"),
        (urllib.parse.quote(f"red-team: {RED_ID}", safe=""), "red_team"),
        (REFS["anonymization"], "anonymization"),
    ],
)
def test_the_run_pages_take_every_form_of_a_reference(
    page: StatusPage, typed: str, kind: str
) -> None:
    """`/runs/REF` and `/api/runs/REF` find the job however its reference is written."""
    reply = answer(page, "/api/runs/" + typed)
    assert reply.code == 200, reply.body
    detail = json.loads(reply.body)
    assert (detail["id"], detail["kind"]) == (REFS[kind], kind)
    html = answer(page, "/runs/" + typed)
    assert html.code == 200
    assert REFS[kind] in html.body.decode()
    page.close()


def test_a_reference_that_names_no_kind_is_refused_in_one_line(page: StatusPage) -> None:
    """An unknown prefix: 400 with the reference parser's one-line reason (JSON and HTML);
    a well-formed reference nobody tracks: 404."""
    reply = answer(page, "/api/runs/" + urllib.parse.quote(f"training:{EVAL_ID}"))
    assert reply.code == 400
    error = json.loads(reply.body)["error"]
    assert "unknown kind 'training'" in error
    assert "\n" not in error
    html = answer(page, "/runs/training:" + EVAL_ID)
    assert html.code == 400
    assert "unknown kind" in html.body.decode()
    assert answer(page, f"/api/runs/evaluation:{RED_ID}").code == 404
    page.close()

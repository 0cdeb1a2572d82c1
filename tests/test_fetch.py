"""fetch: what one tick's observe reads, and the detail reads that enrich finished runs.

Every request goes to an `httpx.MockTransport` with a hand-written handler: no network.
"""

from __future__ import annotations

import httpx
import pytest
from structlog.testing import capture_logs

from tests.support.fakeapi import (
    FakeApi,
    api_run,
    client_for,
    snapshot,
    state,
)
from watcher.errors import (
    ApiError,
    BadResponse,
    RateLimited,
    TransientApiError,
    Unauthorized,
)
from watcher.events import Source
from watcher.fetch import LIST_THRESHOLD, enrich, observe
from watcher.models import Run

# --- observe ----------------------------------------------------------------------------------


async def test_observe_reads_few_explicit_runs_one_by_one() -> None:
    """A few explicit active runs are read in detail; finished, gone and muted ones are not."""
    api = FakeApi(details={i: api_run(i) for i in ["a", "b", "c", "done", "gone", "muted"]})
    snapshots = state(
        snapshot("a", None),
        snapshot("b", "PENDING"),
        snapshot("c", "PAUSED"),
        snapshot("done", "SUCCEEDED"),
        snapshot("gone", "PROCESSING", gone=True),
        snapshot("muted", "PROCESSING", muted=True),
    )
    async with client_for(api) as client:
        report = await observe(client, snapshots, track_all=False, baseline=True)
    assert api.list_reads == 0
    assert sorted(api.detail_reads) == ["a", "b", "c"]
    assert sorted(r.id for r in report.observation.runs) == ["a", "b", "c"]
    assert report.observation.missing == frozenset()
    assert report.observation.baseline is False  # baseline only applies to discovery
    assert report.requests == 3
    assert report.run_errors == {}


async def test_observe_with_nothing_to_watch_makes_no_request() -> None:
    """Without active explicit runs and without track_all, observe asks the API nothing."""
    api = FakeApi()
    async with client_for(api) as client:
        report = await observe(
            client, state(snapshot("x", "FAILED")), track_all=False, baseline=False
        )
    assert api.requests == []
    assert report.observation.runs == ()
    assert report.requests == 0


async def test_observe_at_the_threshold_still_reads_one_by_one() -> None:
    """Exactly LIST_THRESHOLD explicit runs are still read one by one."""
    ids = [f"r{i:02}" for i in range(LIST_THRESHOLD)]
    api = FakeApi(listed=[api_run(i) for i in ids])
    async with client_for(api) as client:
        report = await observe(client, state(*map(snapshot, ids)), track_all=False, baseline=False)
    assert api.list_reads == 0
    assert sorted(api.detail_reads) == ids
    assert len(report.observation.runs) == LIST_THRESHOLD


async def test_observe_many_explicit_runs_uses_one_list_request() -> None:
    """Above LIST_THRESHOLD runs: one list read, tracked runs absent from it read (404: missing)."""
    ids = [f"r{i:02}" for i in range(LIST_THRESHOLD + 3)]
    listed = [api_run(i) for i in ids[:-2]] + [api_run("stranger", "SUCCEEDED")]
    api = FakeApi(listed=listed, details={ids[-2]: api_run(ids[-2], "CANCELED")})
    async with client_for(api) as client:
        report = await observe(client, state(*map(snapshot, ids)), track_all=False, baseline=True)
    assert api.list_reads == 1
    assert sorted(api.detail_reads) == ids[-2:]
    observed = sorted(r.id for r in report.observation.runs)
    assert observed == ids[:-1]
    assert "stranger" not in observed
    assert report.observation.missing == frozenset({ids[-1]})
    assert report.observation.baseline is False
    assert report.requests == 3


async def test_observe_track_all_reads_the_list_and_confirms_absent_runs() -> None:
    """track_all reads the list; active runs absent from it are confirmed one by one (404: gone)."""
    api = FakeApi(
        listed=[api_run("new", "SUCCEEDED"), api_run("known", "PROCESSING")],
        details={"moved": api_run("moved", "FAILED")},
    )
    snapshots = state(
        snapshot("known", "PENDING", source=Source.DISCOVERED),
        snapshot("moved", "PROCESSING", source=Source.DISCOVERED),
        snapshot("deleted", "PROCESSING", source=Source.DISCOVERED),
        snapshot("explicit-deleted", None),
        snapshot("finished", "SUCCEEDED", source=Source.DISCOVERED),
        snapshot("already-gone", "PENDING", gone=True),
    )
    async with client_for(api) as client:
        report = await observe(client, snapshots, track_all=True, baseline=True)
    assert api.list_reads == 1
    assert sorted(api.detail_reads) == ["deleted", "explicit-deleted", "moved"]
    assert [r.id for r in report.observation.runs] == ["new", "known", "moved"]
    assert report.observation.missing == frozenset({"deleted", "explicit-deleted"})
    assert report.observation.baseline is True
    assert report.requests == 4


async def test_observe_empty_list_never_invents_missing_runs() -> None:
    """A list that comes back empty marks nothing missing unless the detail read says 404."""
    api = FakeApi(listed=[], details={"a": api_run("a"), "b": api_run("b", "SUCCEEDED")})
    api.codes["c"] = 503
    snapshots = state(
        snapshot("a", source=Source.DISCOVERED),
        snapshot("b", source=Source.DISCOVERED),
        snapshot("c", source=Source.DISCOVERED),
    )
    async with client_for(api) as client:
        report = await observe(client, snapshots, track_all=True, baseline=False)
    assert report.observation.missing == frozenset()
    assert sorted(r.id for r in report.observation.runs) == ["a", "b"]
    assert set(report.run_errors) == {"c"}
    assert isinstance(report.run_errors["c"], TransientApiError)


@pytest.mark.parametrize(
    ("code", "error"),
    [(500, TransientApiError), (429, RateLimited), (418, BadResponse)],
)
async def test_observe_contains_an_error_on_one_run(code: int, error: type[ApiError]) -> None:
    """A failed read of one run is reported in run_errors; the other runs are still observed."""
    api = FakeApi(details={i: api_run(i) for i in ["a", "b", "c"]})
    api.codes["b"] = code
    async with client_for(api) as client:
        report = await observe(
            client, state(*map(snapshot, ["a", "b", "c"])), track_all=False, baseline=False
        )
    assert sorted(r.id for r in report.observation.runs) == ["a", "c"]
    assert list(report.run_errors) == ["b"]
    assert isinstance(report.run_errors["b"], error)
    assert report.observation.missing == frozenset()


async def test_observe_contains_a_malformed_run() -> None:
    """A detail read with a malformed body is a contained BadResponse, not a failed tick."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/bad/"):
            return httpx.Response(200, content=b"<html>")
        return httpx.Response(200, json=api_run("good"))

    async with client_for(handler) as client:
        report = await observe(
            client, state(snapshot("good"), snapshot("bad")), track_all=False, baseline=False
        )
    assert [r.id for r in report.observation.runs] == ["good"]
    assert isinstance(report.run_errors["bad"], BadResponse)


@pytest.mark.parametrize("code", [401, 403])
async def test_observe_raises_unauthorized_on_a_run(code: int) -> None:
    """A rejected key on any single run fails the whole tick: it will not fix itself."""
    api = FakeApi(details={i: api_run(i) for i in ["a", "b"]})
    api.codes["b"] = code
    async with client_for(api) as client:
        with pytest.raises(Unauthorized):
            await observe(
                client, state(snapshot("a"), snapshot("b")), track_all=False, baseline=False
            )


@pytest.mark.parametrize(("code", "error"), [(500, TransientApiError), (401, Unauthorized)])
async def test_observe_raises_when_the_list_fails(code: int, error: type[ApiError]) -> None:
    """A failed list read fails the tick (nothing is marked missing, no detail reads)."""
    api = FakeApi(details={"a": api_run("a")})
    api.codes["list"] = code
    async with client_for(api) as client:
        with pytest.raises(error):
            await observe(
                client,
                state(snapshot("a", source=Source.DISCOVERED)),
                track_all=True,
                baseline=False,
            )
    assert api.detail_reads == []


# --- enrich -----------------------------------------------------------------------------------


async def test_enrich_reads_only_runs_without_files_and_swallows_failures() -> None:
    """enrich reads runs lacking generated_files, returns those it got, logs the failures."""
    api = FakeApi(
        details={
            "plain": api_run("plain", "SUCCEEDED", generated_files=[{"path": "out.jsonl"}]),
            "has-files": api_run("has-files", "SUCCEEDED", generated_files=[]),
        }
    )
    api.codes["broken"] = 502
    api.codes["forbidden"] = 403
    runs = [
        Run(id="plain", status="SUCCEEDED"),
        Run.model_validate({"id": "has-files", "status": "FAILED", "generated_files": []}),
        Run(id="broken", status="FAILED"),
        Run(id="forbidden", status="CANCELED"),
        Run(id="deleted", status="CANCELED"),
    ]
    async with client_for(api) as client:
        with capture_logs() as logs:
            detailed = await enrich(client, runs)
    assert sorted(api.detail_reads) == ["broken", "deleted", "forbidden", "plain"]
    assert list(detailed) == ["plain"]
    assert detailed["plain"].generated_files is not None
    assert detailed["plain"].generated_files[0].path == "out.jsonl"
    failed = sorted(entry["run_id"] for entry in logs if entry["event"] == "enrich_failed")
    assert failed == ["broken", "deleted", "forbidden"]
    assert all(
        entry["log_level"] == "warning" for entry in logs if entry["event"] == "enrich_failed"
    )


async def test_enrich_with_nothing_to_read() -> None:
    """enrich of no runs (or runs that all have files) makes no request."""
    api = FakeApi()
    async with client_for(api) as client:
        assert await enrich(client, []) == {}
        assert await enrich(client, [Run(id="x", generated_files=[])]) == {}
    assert api.requests == []

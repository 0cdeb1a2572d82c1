"""A tick at scale: the streamed list read stopping early, old active runs still followed, the
baseline in bounded batches, rows written per changed run, and the adaptive choice for
explicit runs. The simulator over real HTTP and a real state file; counts, never times."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from tests.support import API_KEY, ManualClock
from watcher.api import DataframerClient
from watcher.config import load_settings
from watcher.errors import BadResponse
from watcher.pipeline import Pipeline, TickSummary
from watcher.plan import Ewma
from watcher.service.metrics import Metrics
from watcher.service.runtime import tick_policy
from watcher.simulator import SimulatorServer
from watcher.state import Store
from watcher.stuck import StuckRules
from watcher.triage import BATCH

FINISHED = ["SUCCEEDED"] * 9 + ["FAILED"]


def config(tmp_path: Path, base_url: str, **track: Any) -> Path:
    """A watcher.yaml (JSON is YAML) for `base_url`; discovery unless `track` says otherwise."""
    path = tmp_path / "watcher.yaml"
    body = {
        "dataframer": {"base_url": base_url},
        "state": {"path": str(tmp_path / "watcher.db")},
        "track": track or {"all": True},
        "channels": {"team": "json://127.0.0.1:9/hook"},
    }
    path.write_text(json.dumps(body))
    return path


@asynccontextmanager
async def pipeline(
    tmp_path: Path, base_url: str, **kw: Any
) -> AsyncIterator[tuple[Pipeline, Store]]:
    """A pipeline on a real state file in tmp_path, its client on `base_url`."""
    transport = kw.pop("transport", None)
    clock = kw.pop("clock", None)
    settings = load_settings(
        config(tmp_path, base_url, **kw), environ={"DATAFRAMER_API_KEY": API_KEY}
    )
    from watcher.clock import utcnow

    with Store.open(settings.state.path) as store:
        async with DataframerClient(base_url, API_KEY, transport=transport) as client:
            yield Pipeline(tick_policy(settings), store, client, clock=clock or utcnow), store


def count_run_writes(db: Path) -> None:
    """Count every insert and update of a run row, in the file itself (triggers)."""
    with closing(sqlite3.connect(db)) as conn:
        conn.executescript(
            "CREATE TABLE run_writes (n INTEGER);"
            "CREATE TRIGGER count_insert AFTER INSERT ON runs"
            " BEGIN INSERT INTO run_writes VALUES (1); END;"
            "CREATE TRIGGER count_update AFTER UPDATE ON runs"
            " BEGIN INSERT INTO run_writes VALUES (1); END;"
        )


def run_writes(db: Path) -> int:
    """How many run rows were written since `count_run_writes`."""
    with closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM run_writes").fetchone()[0])


def populate(sim: Any, finished: int, active: int) -> list[str]:
    """Old finished runs and newer active (pinned PROCESSING) ones; the active ids."""
    sim.create_runs(finished, status=FINISHED, created_ago_seconds=(7_200.0, 30 * 86_400.0))
    runs = sim.create_runs(active, status="PROCESSING", created_ago_seconds=(0.0, 600.0))
    return [run.id for run in runs]


async def test_the_list_read_stops_early_once_past_the_watermark_and_the_active_runs(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    """The baseline reads the whole list; later ticks read only its top, where new and active
    runs are, and close the connection (bytes read counted by the client)."""
    sim = simulator.sim
    active = populate(sim, 1_500, 10)
    whole = len(sim.list_json())
    async with pipeline(tmp_path, simulator.url) as (p, _):
        await p.tick()
        assert p.client.bytes_read >= whole
        before = p.client.bytes_read
        sim.create_runs(status="SUCCEEDED")  # started and finished between polls
        sim.force_status(active[0], "FAILED")
        summary = await p.tick()
        read = p.client.bytes_read - before
    assert read < whole / 10, (read, whole)
    assert summary.listed <= 11 + 1
    assert summary.transitions == {"SUCCEEDED": 1, "FAILED": 1}


async def test_an_active_run_older_than_the_watermark_is_still_followed(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    """A run started weeks ago and still processing, under a thousand finished runs: the read
    leaves it to a detail read (cheaper than the items before it) and its finish is seen."""
    sim = simulator.sim
    (old,) = sim.create_runs(status="PROCESSING", created_ago_seconds=40 * 86_400.0)
    populate(sim, 1_000, 3)
    async with pipeline(tmp_path, simulator.url) as (p, _):
        await p.tick()
        await p.tick()  # positions known
        p.reading.costs_of("run").item = Ewma(value=0.000_1)  # as if the list were slow to read
        p.reading.costs_of("run").get = Ewma(value=0.001)
        details = sim.stats.count("GET /api/dataframer/runs/{id}/")
        sim.force_status(old.id, "CANCELED")
        summary = await p.tick()
        assert summary.listed < 100
        assert sim.stats.count("GET /api/dataframer/runs/{id}/") > details
        assert summary.transitions == {"CANCELED": 1}
        assert p.store.snapshots()[old.id].status == "CANCELED"


async def test_the_baseline_over_a_large_list_is_recorded_in_batches(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    """More runs than a batch: each batch its own transaction, every run recorded, silently."""
    sim = simulator.sim
    populate(sim, 2 * BATCH + 500, 20)
    async with pipeline(tmp_path, simulator.url) as (p, store):
        summary = await p.tick()
        assert summary.baseline is True
        assert summary.written == 2 * BATCH + 520
        assert summary.events == 0
        assert len(store.snapshots()) == 2 * BATCH + 520
        assert store.baseline_done


async def test_rows_written_per_tick_follow_the_runs_that_changed(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    """After the baseline, a tick where nothing changed writes no run row; one where three runs
    finish writes three (counted by triggers in the file); `status` still shows last polled."""
    sim = simulator.sim
    active = populate(sim, 500, 50)
    async with pipeline(tmp_path, simulator.url) as (p, store):
        await p.tick()
        await p.tick()
        count_run_writes(store.path)
        quiet = await p.tick()
        assert (quiet.written, run_writes(store.path)) == (0, 0)
        for run_id in active[:3]:
            sim.force_status(run_id, "SUCCEEDED")
        moved = await p.tick()
        # Each finished run's row is written twice: its snapshot, then its alerted_at.
        assert (moved.written, run_writes(store.path)) == (3, 6)
        last = store.get_meta("last_tick_at")
        rows = {row.run_id: row for row in store.status_rows()}
        assert rows[active[10]].last_polled is not None
        assert rows[active[10]].last_polled.isoformat() == last


class ProgressApi:
    """Runs whose samples the test moves; list and detail reads, counted."""

    def __init__(self, **samples: int) -> None:
        self.samples = dict(samples)
        self.details = 0

    def item(self, run_id: str) -> dict[str, Any]:
        return {
            "id": run_id,
            "status": "PROCESSING",
            "spec_name": "spec",
            "samples_completed": self.samples[run_id],
            "created_at": "2026-11-01T00:00:00Z",
        }

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/dataframer/runs/":
            return httpx.Response(200, json=[self.item(r) for r in self.samples])
        self.details += 1
        return httpx.Response(200, json=self.item(request.url.path.rstrip("/").rsplit("/")[-1]))


async def test_progress_is_written_every_30s_and_a_progressing_run_is_never_stuck(
    tmp_path: Path,
) -> None:
    """Samples moving every tick (10 s apart) are written at most every 30 s per run; with
    no_progress_after of 40 s the moving run is never called stuck, the still one is."""
    api = ProgressApi(moving=0, still=0)
    clock = ManualClock()
    async with pipeline(
        tmp_path, "http://api.test", transport=httpx.MockTransport(api.handler), clock=clock
    ) as (p, store):
        p.policy = dataclasses.replace(p.policy, stuck=StuckRules(no_progress_after=40.0))
        await p.tick()
        written: list[int] = []
        stuck: list[TickSummary] = []
        for _ in range(12):
            clock.advance(10)
            api.samples["moving"] += 1
            summary = await p.tick()
            written.append(summary.written)
            if summary.stuck:
                stuck.append(summary)
        events = store.history("moving", limit=500)
        still = store.history("still", limit=500)
    assert sum(written) <= 12 // 3 + 2 + len(stuck), written  # not every tick
    assert not [e for e in events if e.event_kind == "stuck"]
    assert [e for e in still if e.event_kind == "stuck"]


async def test_progress_of_runs_read_one_by_one_is_written_every_30s_too(tmp_path: Path) -> None:
    """An explicit run read by id, its samples moving every tick (10 s apart): written on the
    tick it is first seen, then about every 30 s; a status change is written at once."""
    api = ProgressApi(run=0)
    clock = ManualClock()
    async with pipeline(
        tmp_path,
        "http://api.test",
        transport=httpx.MockTransport(api.handler),
        clock=clock,
        all=False,
        runs=["run"],
    ) as (p, store):
        store.track(["run"], clock())
        written = [(await p.tick()).written]
        for _ in range(6):
            clock.advance(10)
            api.samples["run"] += 1
            summary = await p.tick()
            assert summary.plan == "each"
            written.append(summary.written)
    assert written == [1, 0, 0, 1, 0, 0, 1], written


async def test_progress_held_back_is_written_even_if_the_run_then_stands_still(
    tmp_path: Path,
) -> None:
    """One step of progress, then none: the held write still lands within 30 s (it is owed,
    though the bytes stop changing), so `status` and stuck checks see the samples."""
    api = ProgressApi(run=0)
    clock = ManualClock()
    async with pipeline(
        tmp_path, "http://api.test", transport=httpx.MockTransport(api.handler), clock=clock
    ) as (p, store):
        await p.tick()
        clock.advance(10)
        api.samples["run"] = 1
        await p.tick()  # within 30 s of the last write: held
        samples = []
        for _ in range(3):
            clock.advance(10)
            await p.tick()
            (row,) = store.status_rows()
            samples.append(row.samples_completed)
    assert samples[-1] == 1, samples


async def test_the_adaptive_choice_follows_the_measured_costs_and_is_a_metric(
    simulator: SimulatorServer, tmp_path: Path
) -> None:
    """Explicit runs: unmeasured, 30 runs go through the list (over the threshold); cheap detail
    reads and slow list items then choose one read per run, the reverse the list again. The
    choice is logged at debug level and set on the fetch_plan metric."""
    sim = simulator.sim
    ids = populate(sim, 200, 30)
    metrics = Metrics(poll_age=lambda: 0.0, last_ok_wall=lambda: None)

    def sample(name: str, plan: str) -> float | None:
        return metrics.registry.get_sample_value(f"dataframer_watcher_{name}", {"plan": plan})

    async with pipeline(tmp_path, simulator.url, all=False, runs=ids) as (p, store):
        store.track(ids, p.clock())  # as the daemon does with track.runs at start
        first = await p.tick()
        assert first.plan == "list"
        costs = p.reading.costs_of("run")
        costs.get, costs.item = Ewma(value=1e-4), Ewma(value=0.01)
        with capture_logs() as logs:
            each = await p.tick()
        metrics.tick_read(each.plan, each.written)
        assert each.plan == "each"
        assert [e["plan"] for e in logs if e["event"] == "fetch_plan"] == ["each"]
        assert (sample("fetch_plan", "each"), sample("fetch_plan", "list")) == (1, 0)
        costs.get, costs.item = Ewma(value=0.5), Ewma(value=1e-6)
        listed = await p.tick()
        metrics.tick_read(listed.plan, listed.written)
    assert listed.plan == "list"
    assert (sample("fetch_plan", "each"), sample("fetch_plan", "list")) == (0, 1)
    assert (sample("fetch_plans_total", "each"), sample("fetch_plans_total", "list")) == (1, 1)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'[{"id": "a", "status": "PROCESSING"}, garbage]', "is malformed after item 1"),
        (b'[{"id": "a", "status": "PROCESSING"}, {"id": "b"', "is truncated"),
        (b'[{"id": "a", "status": "PROCESSING", "samples_completed": "many"}]', "run a"),
    ],
)
async def test_a_hostile_list_fails_the_baseline_clearly_and_records_nothing(
    tmp_path: Path, body: bytes, words: str
) -> None:
    """Garbage mid-array, a truncated array, wrong types in the baseline: one clear error, and
    the state file holds no run and no baseline, so the next good answer starts over."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body)

    async with pipeline(tmp_path, "http://api.test", transport=httpx.MockTransport(handler)) as (
        p,
        store,
    ):
        with pytest.raises(BadResponse, match=words):
            await p.tick()
        assert store.snapshots() == {}
        assert not store.baseline_done

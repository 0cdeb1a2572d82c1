"""fetch for every job kind, against the simulator over real HTTP: which path each kind is
read from, when a kind's list replaces reads by id, and what discovery keeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import API_KEY
from tests.support.fakeapi import snapshot, state
from watcher.api import DataframerClient
from watcher.discover import DiscoveryFilter
from watcher.events import Source
from watcher.fetch import LIST_THRESHOLD, observe
from watcher.simulator import Simulator, SimulatorServer

API = "/api/dataframer/"


@pytest.fixture
def server() -> Iterator[SimulatorServer]:
    with SimulatorServer(Simulator(api_key=API_KEY, seed=9)) as server:
        yield server


async def test_explicit_jobs_are_read_from_their_kinds_paths(server: SimulatorServer) -> None:
    """One read per explicit job, each from its own path (red-team: `/status/`); no list."""
    sim = server.sim
    run = sim.add_run(status="SUCCEEDED")
    refs = [
        f"evaluation:{sim.add_evaluation(run.id, status='PROCESSING').id}",
        f"red-team:{sim.add_red_team_run(status='PROCESSING').id}",
        f"anonymization:{sim.add_anonymization_run(status='PENDING').id}",
    ]
    async with DataframerClient(server.url, API_KEY) as client:
        report = await observe(client, state(*map(snapshot, refs)), track_all=False, baseline=False)
    assert sorted(job.ref for job in report.observation.runs) == sorted(refs)
    assert report.detailed == frozenset(refs)
    assert report.requests == 3
    stats = sim.stats
    assert stats.count(f"GET {API}evaluations/{{id}}/") == 1
    assert stats.count(f"GET {API}red-team-runs/{{id}}/status/") == 1
    assert stats.count(f"GET {API}anonymization-runs/{{id}}/") == 1
    assert stats.count(f"GET {API}red-team-runs/") == 0


async def test_many_explicit_jobs_of_a_listed_kind_take_its_list(server: SimulatorServer) -> None:
    """Past the threshold, one list request reads a kind's explicit jobs, as for runs."""
    sim = server.sim
    jobs = [sim.add_anonymization_run(status="PROCESSING") for _ in range(LIST_THRESHOLD + 1)]
    other = sim.add_anonymization_run(status="PROCESSING")  # listed, not tracked
    refs = [f"anonymization:{job.id}" for job in jobs]
    async with DataframerClient(server.url, API_KEY) as client:
        report = await observe(client, state(*map(snapshot, refs)), track_all=False, baseline=False)
    assert sorted(job.ref for job in report.observation.runs) == sorted(refs)
    assert f"anonymization:{other.id}" not in {job.ref for job in report.observation.runs}
    assert report.requests == 1


async def test_discovery_reads_each_kind_once_and_filters_new_jobs(
    server: SimulatorServer,
) -> None:
    """Each kind in `kinds` is listed once; a new job the filter refuses is left out, one
    already watched is kept; the baseline is silent only for the kinds still owing one."""
    sim = server.sim
    kept = sim.add_red_team_run(status="PROCESSING", created_by_email="Ada@Example.com")
    refused = sim.add_red_team_run(status="PROCESSING", created_by_email="eve@elsewhere.org")
    known = sim.add_red_team_run(status="PROCESSING", created_by_email="eve@elsewhere.org")
    sim.add_run(status="PROCESSING")
    admit = DiscoveryFilter(creators=["*@example.com"])
    snapshots = state(snapshot(f"red-team:{known.id}", source=Source.DISCOVERED))
    async with DataframerClient(server.url, API_KEY) as client:
        report = await observe(
            client,
            snapshots,
            track_all=True,
            baseline=True,
            kinds=("red_team",),
            pending_baselines={"red_team"},
            admit=admit.admits,
        )
    refs = {job.ref for job in report.observation.runs}
    assert refs == {f"red-team:{kept.id}", f"red-team:{known.id}"}
    assert f"red-team:{refused.id}" not in refs
    assert report.observation.baseline_kinds == frozenset({"red_team"})
    assert sim.stats.count(f"GET {API}red-team-runs/") == 1
    assert sim.stats.count(f"GET {API}runs/") == 0  # generation runs not in `kinds`

"""Fixtures of the simulator's tests: a simulator on a hand-moved clock, over real HTTP, and
the official SDK and a plain httpx client pointed at it. A module may define its own."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from dataframer import Dataframer

from watcher.simulator import ManualClock, Simulator, SimulatorServer


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def server(clock: ManualClock) -> Iterator[SimulatorServer]:
    with SimulatorServer(Simulator(clock=clock, seed=11)) as server:
        yield server


@pytest.fixture
def sdk(server: SimulatorServer) -> Iterator[Dataframer]:
    """The SDK without retries, so each call is one request the counters can see."""
    with Dataframer(api_key="sim-key", base_url=server.url, max_retries=0) as client:
        yield client


@pytest.fixture
def raw(server: SimulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer sim-key"}) as client:
        yield client

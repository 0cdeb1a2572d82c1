"""One tick across real stages: a real Store in tmp_path, the API answered in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fakeapi import StatusApi, settings_for
from watcher.api import DataframerClient
from watcher.config import Settings
from watcher.pipeline import Pipeline
from watcher.service.runtime import Runtime, tick_policy
from watcher.state import Store

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def clock() -> Callable[[], datetime]:
    """A clock that moves 30 s per call."""
    times = (T0 + timedelta(seconds=30 * i) for i in range(10_000))
    return lambda: next(times)


def pipeline(settings: Settings, store: Store, api: StatusApi) -> Pipeline:
    client = DataframerClient(
        "http://api.test", "key-123456", transport=httpx.MockTransport(api.handler)
    )
    return Pipeline(tick_policy(settings), store, client, clock=clock())


def alerts(store: Store) -> list[Any]:
    return store._db.execute("SELECT channel, title FROM deliveries ORDER BY id").fetchall()


def test_track_landing_mid_tick_alerts_once(tmp_path: Path) -> None:
    """`track X` while the tick that sees X finish is in flight: the tick is redone, one alert."""
    settings = settings_for(
        tmp_path, "track:\n  all: true\nchannels:\n  team: json://127.0.0.1:9/\n"
    )
    api = StatusApi(X="PROCESSING")
    with Store.open(settings.state.path) as store:
        p = pipeline(settings, store, api)
        asyncio.run(p.tick())  # the baseline: X is PROCESSING
        api.statuses["X"] = "SUCCEEDED"
        with Store.open(settings.state.path) as cli:
            api.during_next_request = lambda: cli.track(["X"], T0)
            first = asyncio.run(p.tick())
        second = asyncio.run(p.tick())
        assert first.alerts == 1
        assert second.alerts == 0
        assert len(alerts(store)) == 1
        assert store.snapshots()["X"].status == "SUCCEEDED"


def test_restart_keeps_a_configured_run_untracked(tmp_path: Path) -> None:
    """A run in track.runs that the user untracked stays untracked when the watcher restarts."""
    settings = settings_for(tmp_path, "track:\n  runs: [X, Y]\n")

    async def start_and_stop() -> None:
        async with Runtime.open(settings):
            pass

    asyncio.run(start_and_stop())
    with Store.open(settings.state.path) as cli:
        assert cli.untrack(["X"], T0) == {"X": "untracked"}
    asyncio.run(start_and_stop())
    with Store.open(settings.state.path) as store:
        snaps = store.snapshots()
    assert snaps["X"].muted
    assert not snaps["Y"].muted


def test_wrong_key_is_caught_even_with_nothing_to_poll(tmp_path: Path) -> None:
    """No active run and no discovery: the start-up key check still meets the 401."""
    from watcher.errors import Unauthorized

    api = StatusApi()

    async def cycle(key: str) -> int:
        settings = settings_for(tmp_path, "", key=key)
        transport = httpx.MockTransport(api.handler)
        async with Runtime.open(settings, transport=transport) as runtime:
            await runtime.cycle()
        return api.requests

    assert asyncio.run(cycle("key-123456")) == 1  # one cheap authenticated read
    with pytest.raises(Unauthorized):
        asyncio.run(cycle("wrong-key"))


def test_track_landing_during_the_redo_too_still_records_the_tick(tmp_path: Path) -> None:
    """`untrack X; track X` lands during the tick and again during its redo: the tick is
    redone once more and records, one alert. (Before, the second conflict failed the tick as
    a state-file error, and /readyz said the state file could not be written.)"""
    settings = settings_for(
        tmp_path, "track:\n  runs: [X]\nchannels:\n  team: json://127.0.0.1:9/\n"
    )
    api = StatusApi(X="SUCCEEDED")
    with Store.open(settings.state.path) as store, Store.open(settings.state.path) as cli:
        store.track(["X"], T0)
        p = pipeline(settings, store, api)
        conflicts = 0

        def retrack() -> None:
            nonlocal conflicts
            conflicts += 1
            cli.untrack(["X"], T0)
            cli.track(["X"], T0)
            if conflicts < 2:
                api.during_next_request = retrack

        api.during_next_request = retrack
        summary = asyncio.run(p.tick())
        assert conflicts == 2
        assert summary.alerts == 1
        assert len(alerts(store)) == 1
        assert store.snapshots()["X"].status == "SUCCEEDED"


def test_a_burst_to_a_discord_channel_is_packed_into_messages_it_accepts(tmp_path: Path) -> None:
    """Thirty runs finishing in one poll, to a Discord channel (2,000 characters a message)
    and a webhook (32 KB): each message fits its channel, and every run is named once on
    each; the policy read the limits from apprise."""
    settings = settings_for(
        tmp_path,
        "track:\n  all: true\n"
        "channels:\n  chat: discord://1234/abcd\n  hook: json://127.0.0.1:9/\n"
        "delivery:\n  max_runs_per_message: 50\n",
    )
    ids = [f"run-{i:02d}" for i in range(30)]
    api = StatusApi(**dict.fromkeys(ids, "PROCESSING"))
    with Store.open(settings.state.path) as store:
        p = pipeline(settings, store, api)
        asyncio.run(p.tick())  # the baseline
        api.statuses.update(dict.fromkeys(ids, "FAILED"))
        asyncio.run(p.tick())
        rows = store._db.execute("SELECT channel, body FROM deliveries ORDER BY id").fetchall()
    bodies = {
        "chat": [b for c, b in rows if c == "chat"],
        "hook": [b for c, b in rows if c == "hook"],
    }
    assert len(bodies["hook"]) == 1
    assert len(bodies["chat"]) > 1
    assert all(len(body) <= 2_000 for body in bodies["chat"])
    for channel_bodies in bodies.values():
        named = [
            line
            for body in channel_bodies
            for line in body.splitlines()
            if line.startswith("Run: ")
        ]
        assert sorted(named) == [f"Run: {run_id}" for run_id in ids]

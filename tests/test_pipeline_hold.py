"""Held and suppressed alerts across real stages: a real Store, the API answered in-process,
a clock the test moves. What waits is in the state file; `release` turns it into messages."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.fakeapi import StatusApi, settings_for
from watcher.api import DataframerClient
from watcher.hold import Mute, MuteScope
from watcher.pipeline import Pipeline
from watcher.service.runtime import tick_policy
from watcher.state import Store

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _pipeline(tmp_path: Path, body: str, api: StatusApi, clock: Clock) -> tuple[Pipeline, Store]:
    import httpx

    settings = settings_for(tmp_path, body)
    store = Store.open(settings.state.path)
    client = DataframerClient(
        "http://api.test", "key-123456", transport=httpx.MockTransport(api.handler)
    )
    return Pipeline(tick_policy(settings), store, client, clock=clock), store


def _bodies(store: Store) -> list[tuple[str, str]]:
    rows = store._db.execute("SELECT title, body FROM deliveries ORDER BY id").fetchall()
    return [(row[0], row[1]) for row in rows]


def _runs(body: str) -> list[str]:
    return [line.removeprefix("Run: ") for line in body.splitlines() if line.startswith("Run: ")]


def test_a_burst_sends_the_threshold_alone_then_one_digest_at_the_window_end(
    tmp_path: Path,
) -> None:
    """Threshold 2, window 60 s, six runs failing in one poll: two messages of one run each
    go at once; four wait (status counts them, history says why); at the window's end one
    digest names the four by their full ids."""
    ids = [f"run-{i}" for i in range(6)]
    api = StatusApi(**dict.fromkeys(ids, "PROCESSING"))
    clock = Clock()
    body = (
        "track:\n  all: true\nchannels:\n  hook: json://127.0.0.1:9/\n"
        "alerts:\n  digest:\n    window: 60s\n    threshold: 2\n"
    )
    pipeline, store = _pipeline(tmp_path, body, api, clock)
    with store:
        asyncio.run(pipeline.tick())  # the baseline
        api.statuses.update(dict.fromkeys(ids, "FAILED"))
        clock.now = T0 + timedelta(seconds=5)
        asyncio.run(pipeline.tick())
        first = _bodies(store)
        assert [len(_runs(b)) for _, b in first] == [1, 1]
        assert store.delivery_counts()["hook"]["held"] == 4
        assert pipeline.release() == 0  # the window is still open
        clock.now = T0 + timedelta(seconds=66)
        assert pipeline.release() == 1
        assert pipeline.release() == 0  # released once
        title, digest = _bodies(store)[-1]
        sent_now = {r for _, b in first for r in _runs(b)}
        assert sorted(_runs(digest)) == sorted(set(ids) - sent_now)
        assert title.startswith("Digest: 4 Dataframer runs: 4 FAILED")
        assert "held" not in store.delivery_counts()["hook"]
        history = store.history(limit=100)
        assert [e.kind for e in history].count("delivery") == 3


def test_a_muted_alert_is_recorded_as_suppressed_and_never_sent(tmp_path: Path) -> None:
    """A spec mute in the state file (as `mute` writes it): the next poll's alert for that
    spec goes nowhere and history shows it suppressed, with the mute's id; once the mute is
    over, the spec's alerts go out again."""
    api = StatusApi(A="PROCESSING", B="PROCESSING")
    clock = Clock()
    pipeline, store = _pipeline(
        tmp_path, "track:\n  all: true\nchannels:\n  hook: json://127.0.0.1:9/\n", api, clock
    )
    with store:
        asyncio.run(pipeline.tick())
        store.add_mute(
            Mute("m-abc123", MuteScope.SPEC, "sp*", until=T0 + timedelta(hours=1), created_at=T0)
        )
        api.statuses["A"] = "FAILED"
        asyncio.run(pipeline.tick())
        assert _bodies(store) == []
        (entry,) = [e for e in store.history() if e.kind == "alert"]
        assert (entry.status, entry.why, entry.channel, entry.run_ids) == (
            "suppressed",
            "m-abc123",
            "hook",
            ("A",),
        )
        clock.now = T0 + timedelta(hours=2)
        api.statuses["B"] = "SUCCEEDED"
        asyncio.run(pipeline.tick())
        assert [_runs(b) for _, b in _bodies(store)] == [["B"]]


def test_a_mute_set_while_alerts_wait_silences_them_at_release(tmp_path: Path) -> None:
    """Held alerts are checked against the mutes again when their wait ends."""
    ids = ["X", "Y", "Z"]
    api = StatusApi(**dict.fromkeys(ids, "PROCESSING"))
    clock = Clock()
    body = (
        "track:\n  all: true\nchannels:\n  hook: json://127.0.0.1:9/\n"
        "alerts:\n  digest:\n    window: 30s\n    threshold: 1\n"
    )
    pipeline, store = _pipeline(tmp_path, body, api, clock)
    with store:
        asyncio.run(pipeline.tick())
        api.statuses.update(dict.fromkeys(ids, "CANCELED"))
        asyncio.run(pipeline.tick())
        store.add_mute(Mute("m-000001", MuteScope.CHANNEL, "hook", until=T0 + timedelta(hours=1)))
        clock.now = T0 + timedelta(seconds=31)
        assert pipeline.release() == 0
        suppressed = [e for e in store.history() if e.kind == "alert"]
        assert sorted(e.status for e in suppressed) == ["suppressed", "suppressed"]
        assert len(_bodies(store)) == 1  # only the one that went before the mute


def test_quiet_hours_across_midnight_in_berlin_hold_until_seven_then_one_digest(
    tmp_path: Path,
) -> None:
    """22:00-07:00 Europe/Berlin, at 23:30 local (22:30 UTC in December): two successes wait
    until 07:00 local (06:00 UTC) and go as one digest; a failure on its own route before the
    quiet one goes at once."""
    api = StatusApi(A="PROCESSING", B="PROCESSING", F="PROCESSING")
    clock = Clock()
    clock.now = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)
    body = (
        "track:\n  all: true\nchannels:\n  hook: json://127.0.0.1:9/\n"
        "routes:\n"
        "  - statuses: [FAILED]\n    channels: [hook]\n    stop: true\n"
        "  - statuses: [SUCCEEDED]\n    channels: [hook]\n"
        '    quiet_hours: {start: "22:00", end: "07:00", timezone: "Europe/Berlin"}\n'
    )
    pipeline, store = _pipeline(tmp_path, body, api, clock)
    with store:
        asyncio.run(pipeline.tick())  # the baseline
        api.statuses.update(A="SUCCEEDED", B="SUCCEEDED", F="FAILED")
        asyncio.run(pipeline.tick())
        assert [_runs(b) for _, b in _bodies(store)] == [["F"]]
        held = [e for e in store.history() if e.kind == "alert"]
        seven = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
        assert {(e.status, e.why, e.held_until) for e in held} == {("held", "quiet_hours", seven)}
        clock.now = seven - timedelta(seconds=1)
        assert pipeline.release() == 0
        clock.now = seven
        assert pipeline.release() == 1
        title, digest = _bodies(store)[-1]
        assert sorted(_runs(digest)) == ["A", "B"]
        assert title.startswith("Digest: 2 Dataframer runs: 2 SUCCEEDED")

"""A tick plans the routes' actions and records them with its alerts: real stages, a real
state file, the API answered in-process."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx

from tests.support.fakeapi import StatusApi, settings_for
from tests.test_pipeline import T0, clock
from watcher.api import DataframerClient
from watcher.hold import Mute, MuteScope
from watcher.pipeline import Pipeline
from watcher.service.runtime import tick_policy
from watcher.state import Store

CONFIG = """
track:
  all: true
channels:
  team: json://127.0.0.1:9/
routes:
  - statuses: [SUCCEEDED, FAILED]
    channels: [team]
  - statuses: [SUCCEEDED]
    actions:
      - exec: [/bin/true]
"""


def test_finished_runs_queue_their_actions_beside_their_alerts(tmp_path: Path) -> None:
    """The silent baseline queues none; a run that succeeds queues its route's action with
    its alert, a run that fails (no action route) only its alert, and a muted spec's action
    is kept as suppressed."""
    settings = settings_for(tmp_path, CONFIG)
    api = StatusApi(OLD="SUCCEEDED", A="PROCESSING", B="PROCESSING")
    with Store.open(settings.state.path) as store:
        client = DataframerClient(
            "http://api.test", "key-123456", transport=httpx.MockTransport(api.handler)
        )
        pipeline = Pipeline(tick_policy(settings), store, client, clock=clock())
        baseline = asyncio.run(pipeline.tick())
        assert (baseline.baseline, baseline.actions) == (True, 0)
        api.statuses.update(A="SUCCEEDED", B="FAILED")
        tick = asyncio.run(pipeline.tick())
        assert (tick.alerts, tick.actions) == (2, 1)
        (queued,) = store.due_actions(T0 + timedelta(days=1))
        assert (queued.run_id, queued.label, queued.to_status) == (
            "A",
            "exec /bin/true",
            "SUCCEEDED",
        )
        store.add_mute(Mute("m-all", MuteScope.SPEC, "spec", T0 + timedelta(days=1)))
        api.statuses["C"] = "SUCCEEDED"  # new after the baseline: announced, but muted
        muted = asyncio.run(pipeline.tick())
        assert muted.actions == 0
        assert store.action_counts() == {
            "pending": 1,
            "retrying": 0,
            "done": 0,
            "dead": 0,
            "suppressed": 1,
        }

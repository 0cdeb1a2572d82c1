"""Watching the watcher, against the real daemon: the ops channel hears once when the API
has been down for `ops.api_down_after` and once when it is back, once when a channel has
failed for `ops.channel_failing_after` and once when it delivers again; the failing channel
never gets the message about itself."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import WebhookSink, wait_for
from watcher.simulator import SimulatorServer


def _ops_posts(ops: WebhookSink) -> list[tuple[str, str, str]]:
    return [(p["type"], p["title"], p["message"]) for p in ops.posts]


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ({"kind": "status", "status": 503, "always": True}, "HTTP 503"),
        ({"kind": "status", "status": 401, "always": True}, "rejected the API key (HTTP 401)"),
        ({"kind": "latency", "seconds": 2, "always": True}, "timed out"),
    ],
    ids=["http-503", "key-refused", "timeout"],
)
def test_the_api_down_and_back_is_told_once_each(
    simulator: SimulatorServer, write_config, start_daemon, fault: dict[str, Any], says: str
) -> None:
    """Every poll failing (a 503, the key refused, no answer in time) for longer than
    api_down_after: one failure alert naming the error; the API back: one recovery. Alerts
    about runs are untouched by it."""
    with WebhookSink() as ops:
        config = write_config(
            dataframer={"base_url": simulator.url, "timeout": "500ms"},
            poll={"interval": "200ms"},
            track={"all": True},
            channels={"ops": ops.url()},
            routes=[{"statuses": ["FAILED"], "channels": ["ops"]}],
            ops={"channels": ["ops"], "api_down_after": "1s"},
        )
        daemon = start_daemon(config)
        daemon.wait_event("started")
        simulator.sim.faults.add([fault])
        wait_for(lambda: len(ops.posts) >= 1, what="the API-down alert")
        polls = simulator.sim.stats.total
        # Three more failed polls (a refused key is logged once a while, not per tick).
        wait_for(lambda: simulator.sim.stats.total >= polls + 3, what="3 more failed polls")
        assert len(ops.posts) == 1  # once, however long it lasts
        simulator.sim.faults.clear()
        wait_for(lambda: len(ops.posts) >= 2, what="the recovery")
        daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
        assert daemon.terminate() == 0
    (down_type, down_title, down_body), (up_type, up_title, _) = _ops_posts(ops)
    assert (down_type, up_type) == ("failure", "success")
    assert down_title == "🚨 dataframer-watcher: the Dataframer API is unreachable"
    assert says in down_body
    assert up_title == "✅ dataframer-watcher: the Dataframer API is reachable again"
    assert len(ops.posts) == 2


def test_a_failing_channel_is_told_to_the_ops_channel_not_to_itself(
    simulator: SimulatorServer, write_config, start_daemon
) -> None:
    """The team webhook refuses every alert for longer than channel_failing_after: the ops
    channel hears (once), team never gets that message; team healed and its alert delivered,
    the ops channel hears it recovered. A restart in between repeats nothing."""
    sim = simulator.sim
    (run,) = sim.create_runs(status=["PROCESSING"])
    with WebhookSink(default=500) as team, WebhookSink() as ops:
        config = write_config(
            dataframer={"base_url": simulator.url},
            poll={"interval": "200ms"},
            track={"all": True},
            channels={"team": team.url(), "ops": ops.url()},
            routes=[{"statuses": ["FAILED"], "channels": ["team"]}],
            delivery={"retry_initial": "200ms", "retry_max": "500ms"},
            ops={"channels": ["ops", "team"], "channel_failing_after": "1s"},
        )
        daemon = start_daemon(config)
        daemon.wait_event("started")
        sim.force_status(run.id, "FAILED")
        wait_for(lambda: len(ops.posts) >= 1, what="the channel-failing alert")
        assert daemon.terminate() == 0
        daemon = start_daemon(config)  # what was told is in the state file
        daemon.wait_event("tick", at_least=15)
        assert len(ops.posts) == 1
        team.heal()
        wait_for(lambda: len(ops.posts) >= 2, what="the recovery")
        daemon.wait_event("tick", at_least=daemon.count("tick") + 5)
        assert daemon.terminate() == 0
    (down, up) = _ops_posts(ops)
    assert down[:2] == ("failure", "🚨 dataframer-watcher: channel 'team' is failing")
    assert "HTTP 500" in down[2]
    assert up[:2] == ("success", "✅ dataframer-watcher: channel 'team' is delivering again")
    assert [p["title"] for p in team.posts if "dataframer-watcher:" in p["title"]] == []
    assert [p["title"] for p in team.posts] != []  # the run's alert did reach it, once healed

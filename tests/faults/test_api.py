"""Fault injection, API side: every way the Dataframer API can misbehave, then recover.

The daemon runs as a real subprocess against the simulator, which injects each fault class
(`POST /_sim/faults`) while runs really change status underneath it. The promises checked:
no false alert (no transition that did not happen, no run marked gone on a bad answer), every
real transition alerted exactly once after recovery, polling backs off (capped at ten poll
intervals, never more than five minutes), Retry-After is honoured, and a 401 during operation
is an error line every few minutes, never an exit.

Recovery times (fault cleared -> alert received) are printed, not asserted: run with `-s`.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from tests.support import DaemonProcess, WebhookSink, run_ids_in, statuses_in, wait_for
from watcher.api import DataframerClient
from watcher.errors import BadResponse, RateLimited, TransientApiError
from watcher.events import Snapshot, Source
from watcher.fetch import observe
from watcher.simulator import Simulator, SimulatorServer
from watcher.simulator.app import mock_transport

LIST = "GET /api/dataframer/runs/"
DETAIL = "GET /api/dataframer/runs/{id}/"
INTERVAL = 0.1  # seconds: the poll interval of these tests; the backoff cap is ten of them

# -- the fetch stage's verdict on a broken answer -------------------------------------------


def _explicit(*run_ids: str) -> dict[str, Snapshot]:
    return {r: Snapshot(run_id=r, source=Source.EXPLICIT, status="PROCESSING") for r in run_ids}


async def test_every_single_read_failing_fails_the_tick_with_the_longest_retry_after() -> None:
    """Without a list read, all reads failing is an outage: raised (so the daemon backs off),
    a rate limit first, not N run errors in a tick that looks fine."""
    sim = Simulator(api_key="k")
    a, b = sim.create_runs(2, status="PROCESSING")
    sim.faults.add([{"kind": "status", "status": 503, "path_regex": a.id}])
    sim.faults.add([{"kind": "rate_limit", "retry_after": 7, "path_regex": b.id}])
    async with DataframerClient("http://sim", "k", transport=mock_transport(sim)) as client:
        with pytest.raises(RateLimited) as raised:
            await observe(client, _explicit(a.id, b.id), track_all=False, baseline=False)
        assert raised.value.retry_after == 7
        sim.faults.add([{"kind": "status", "status": 503, "count": 2}])
        with pytest.raises(TransientApiError):
            await observe(client, _explicit(a.id, b.id), track_all=False, baseline=False)
        # One run failing among good ones stays contained.
        sim.faults.add([{"kind": "status", "status": 503, "path_regex": a.id}])
        report = await observe(client, _explicit(a.id, b.id), track_all=False, baseline=False)
    assert list(report.run_errors) == [a.id]
    assert [run.id for run in report.observation.runs] == [b.id]


async def test_a_list_whose_every_item_is_malformed_is_a_bad_response() -> None:
    """Wrong types throughout the list: a broken answer, not a company without runs."""
    sim = Simulator(api_key="k")
    sim.create_runs(3, status="PROCESSING")
    sim.faults.add([{"kind": "malformed", "variant": "wrong_types"}])
    async with DataframerClient("http://sim", "k", transport=mock_transport(sim)) as client:
        with pytest.raises(BadResponse, match="every item"):
            await client.list_runs()
        sim.faults.add([{"kind": "malformed", "variant": "wrong_types", "target": "first"}])
        assert len(await client.list_runs()) == 2  # one bad item is skipped, as before
        sim.faults.add([{"kind": "malformed", "variant": "empty_list"}])
        assert await client.list_runs() == []  # an empty list is a valid answer


# -- the daemon against each fault class ----------------------------------------------------

RUNS_PREFIX = "/api/dataframer/runs/"
LIST_ONLY = "^/api/dataframer/runs/$"

# name -> (fault spec, whether the fault makes the tick fail as a whole)
FAULTS: dict[str, tuple[dict[str, Any], bool]] = {
    "latency-beyond-timeout": ({"kind": "latency", "seconds": 1.5}, True),
    "429-retry-after": ({"kind": "rate_limit", "retry_after": 1}, True),
    "500": ({"kind": "status", "status": 500}, True),
    "html-502-page": ({"kind": "malformed", "variant": "html", "status": 502}, True),
    "html-200-page": ({"kind": "malformed", "variant": "html"}, True),
    # Cut in half: the list read stops early (past the watermark and the active runs, all in
    # the first half), so it never reaches the cut and the tick goes on; the detail reads that
    # enrich the alerts are cut too, and the alerts go out with what the list said. A list
    # read to its cut fails (tests/test_listread.py).
    "truncated-json": ({"kind": "malformed", "variant": "truncated"}, False),
    "empty-body": ({"kind": "malformed", "variant": "empty_body"}, True),
    "wrong-types-everywhere": ({"kind": "malformed", "variant": "wrong_types"}, True),
    # One bad item in the list: skipped, confirmed by a detail read (bad too), no false gone.
    "wrong-types-first-item": (
        {"kind": "malformed", "variant": "wrong_types", "target": "first"},
        False,
    ),
    # The list alone comes back empty; detail reads confirm each active run (and see it change).
    "empty-list": ({"kind": "malformed", "variant": "empty_list", "path_regex": LIST_ONLY}, False),
    "dropped-connection": ({"kind": "drop"}, True),
}


def _config(write_config, simulator: SimulatorServer, webhook: WebhookSink, **extra: Any):
    extra.setdefault("track", {"all": True})
    extra.setdefault("poll", {"interval": f"{int(INTERVAL * 1000)}ms"})
    return write_config(
        dataframer={"base_url": simulator.url, "timeout": "500ms"},
        channels={"hook": webhook.url()},
        delivery={"retry_initial": "200ms", "retry_max": "1s"},
        **extra,
    )


def _backoffs(daemon: DaemonProcess) -> list[float]:
    return [line["seconds"] for line in daemon.events() if line.get("event") == "poll_backoff"]


def _report(name: str, **numbers: Any) -> None:
    print(f"\n[faults] {name}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))


@pytest.mark.timeout(120)
def test_each_api_fault_then_recovery_alerts_each_real_transition_once(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """One daemon, one phase per fault class. During each fault two watched runs finish and a
    new one appears already finished; after it, exactly those alerts go out, once each, and
    nothing else: no false transition, no run marked gone, backoff within its cap."""
    sim = simulator.sim
    sim.create_runs(outcomes=["SUCCEEDED"], status="SUCCEEDED")  # the silent baseline
    daemon = start_daemon(_config(write_config, simulator, webhook))
    daemon.wait_event("started")
    expected: dict[str, str] = {}
    newcomers: set[str] = set()
    for name, (spec, fails_tick) in FAULTS.items():
        watched = sim.create_runs(2, status="PROCESSING")
        daemon.wait_event("run_first_seen", at_least=2 * len(newcomers) + 2)
        kind = spec["kind"]
        faults_before = sim.stats.snapshot()["faults"].get(kind, 0)
        failed_before = daemon.count("tick_failed")
        backoffs_before = len(_backoffs(daemon))
        sim.faults.add([{**spec, "always": True, "path": RUNS_PREFIX}])
        fault_on = time.monotonic()
        sim.force_status(watched[0].id, "SUCCEEDED")
        sim.force_status(watched[1].id, "FAILED")
        (newcomer,) = sim.create_runs(status="CANCELED")  # started and ended between polls
        newcomers.add(newcomer.id)
        phase = {watched[0].id: "SUCCEEDED", watched[1].id: "FAILED", newcomer.id: "CANCELED"}
        expected.update(phase)

        wait_for(
            lambda: sim.stats.snapshot()["faults"].get(kind, 0) >= faults_before + 3,  # noqa: B023
            what=f"three requests hit by {name}",
        )
        if fails_tick:
            daemon.wait_event("tick_failed", at_least=failed_before + 2)
        else:
            assert daemon.count("tick_failed") == failed_before, name
        during = time.monotonic() - fault_on
        stats_during = sim.stats.snapshot()
        assert sim.faults.clear() == 1
        clear_at = time.monotonic()
        wait_for(
            lambda: set(phase) <= set(webhook.run_ids()),  # noqa: B023
            what=f"the alerts after {name}",
        )
        arrived = [
            request.at
            for request in webhook.accepted
            if set(phase) & set(run_ids_in([request.message]))
        ]
        recovery = max(0.0, max(arrived) - clear_at)
        backoffs = _backoffs(daemon)[backoffs_before:]
        if fails_tick:
            assert backoffs, f"{name}: failed ticks back the polling off"
        if kind == "rate_limit":
            assert all(s >= spec["retry_after"] for s in backoffs), (name, backoffs)
            # Honoured: at most one request per Retry-After while the fault lasted (plus the
            # one already on its way when the fault came).
            limited = stats_during["statuses"].get("429", 0)
            assert limited <= during / spec["retry_after"] + 2, (limited, during)
        else:
            assert all(s <= 10 * INTERVAL + 1e-9 for s in backoffs), (name, backoffs)
        _report(
            name,
            recovery_s=round(recovery, 3),
            failed_ticks=daemon.count("tick_failed") - failed_before,
            backoffs=backoffs,
        )

    ticks = daemon.count("tick")
    daemon.wait_event("tick", at_least=ticks + 5)  # room for a duplicate or false alert to show
    assert daemon.terminate() == 0
    assert Counter(webhook.run_ids()) == Counter(expected.keys())
    statuses = statuses_in(p["message"] for p in webhook.posts)
    for run_id, outcome in expected.items():
        (line,) = statuses[run_id]
        if run_id in newcomers:
            assert line == f"{outcome} (already finished when first seen)"
        else:
            assert line == f"PROCESSING → {outcome}"
    events = daemon.events()
    assert [e for e in events if e.get("event") in ("run_gone", "unknown_status")] == []
    assert [e for e in events if e.get("event") == "run_transition"] == []  # none happened
    assert daemon.count("poll_recovered") >= sum(fails for _, fails in FAULTS.values())


def test_a_401_during_operation_is_one_error_line_and_polling_goes_on(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """Start OK, then the key is refused: one error line (not one per try), backoff to the
    ten-interval cap, the daemon stays up; once the key works again alerts flow."""
    sim = simulator.sim
    daemon = start_daemon(_config(write_config, simulator, webhook, poll={"interval": "100ms"}))
    daemon.wait_event("started")
    (run,) = sim.create_runs(status="PROCESSING")
    daemon.wait_event("run_first_seen")
    sim.faults.add([{"kind": "status", "status": 401, "always": True}])
    sim.force_status(run.id, "FAILED")
    # 100 ms polls back off 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, ...: wait for the cap twice over.
    wait_for(lambda: _backoffs(daemon).count(1.0) >= 2, what="the capped backoff, twice")
    assert daemon.proc.poll() is None
    unauthorized = [e for e in daemon.events() if e.get("event") == "api_unauthorized"]
    assert len(unauthorized) == 1
    assert unauthorized[0]["level"] == "error"
    assert simulator.url in unauthorized[0]["error"]
    backoffs = _backoffs(daemon)
    assert backoffs[:5] == [0.1, 0.2, 0.4, 0.8, 1.0]
    assert max(backoffs) == 1.0  # ten intervals
    refused = sim.stats.snapshot()["statuses"].get("401", 0)
    assert refused <= len(backoffs) + 1  # one request per (backed-off) tick, no hammering
    assert webhook.posts == []

    sim.faults.clear()
    clear_at = time.monotonic()
    wait_for(lambda: webhook.run_ids() == [run.id], what="the alert after the key works")
    recovery = max(r.at for r in webhook.accepted) - clear_at
    daemon.wait_event("tick", at_least=daemon.count("tick") + 3)
    assert daemon.terminate() == 0
    assert webhook.run_ids() == [run.id]
    assert daemon.count("poll_recovered") == 1
    _report("401-during-operation", recovery_s=round(recovery, 3), backoffs=backoffs)


def test_explicit_runs_back_off_when_every_read_fails(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """Runs tracked by id are read one by one; when the API is down every read fails, and
    that is an outage (the tick fails and polling backs off), not N contained run errors."""
    sim = simulator.sim
    runs = sim.create_runs(3, status="PROCESSING")
    config = _config(
        write_config, simulator, webhook, track={"runs": [run.id for run in runs], "all": False}
    )
    daemon = start_daemon(config)
    daemon.wait_event("started")
    daemon.wait_event("run_first_seen", at_least=3)
    sim.faults.add([{"kind": "status", "status": 503, "always": True}])
    sim.force_status(runs[0].id, "FAILED")
    daemon.wait_event("tick_failed", at_least=3)
    # A tick's poll_backoff line follows its tick_failed line: wait for it too.
    wait_for(lambda: len(_backoffs(daemon)) >= 3, what="three backoffs")
    backoffs = _backoffs(daemon)
    assert backoffs[:3] == [0.1, 0.2, 0.4]
    sim.faults.clear()
    clear_at = time.monotonic()
    wait_for(lambda: webhook.run_ids() == [runs[0].id], what="the alert after the outage")
    recovery = max(r.at for r in webhook.accepted) - clear_at
    daemon.wait_event("tick", at_least=daemon.count("tick") + 3)
    assert daemon.terminate() == 0
    assert webhook.run_ids() == [runs[0].id]
    assert daemon.count("run_gone") == 0
    _report("explicit-runs-503", recovery_s=round(recovery, 3), backoffs=backoffs)


def test_explicit_runs_honour_retry_after_on_detail_reads(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """A 429 on a single-run read slows the whole tick down to the API's Retry-After."""
    sim = simulator.sim
    runs = sim.create_runs(2, status="PROCESSING")
    config = _config(
        write_config, simulator, webhook, track={"runs": [run.id for run in runs], "all": False}
    )
    daemon = start_daemon(config)
    daemon.wait_event("started")
    daemon.wait_event("run_first_seen", at_least=2)
    sim.faults.add([{"kind": "rate_limit", "retry_after": 1, "always": True}])
    fault_on = time.monotonic()
    daemon.wait_event("poll_backoff", at_least=3)
    during = time.monotonic() - fault_on
    limited = sim.stats.snapshot()["statuses"].get("429", 0)
    sim.faults.clear()
    assert all(s >= 1 for s in _backoffs(daemon)), _backoffs(daemon)
    # Each (slowed) tick reads both runs once: no more than 2 per Retry-After, plus one tick.
    assert limited <= 2 * (during / 1 + 2), (limited, during)
    assert daemon.terminate() == 0


def test_a_429_on_the_very_first_tick_delays_the_second(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """Even before the schedule exists, Retry-After decides when the next poll comes."""
    sim = simulator.sim
    sim.faults.add([{"kind": "rate_limit", "retry_after": 1.5, "count": 1}])
    daemon = start_daemon(_config(write_config, simulator, webhook))
    daemon.wait_event("started")
    daemon.wait_event("tick")
    assert daemon.count("tick_failed") == 1
    assert _backoffs(daemon)[:1] == [1.5]
    assert daemon.terminate() == 0

"""End to end: routes and flags decide who hears of which run, through `once` against the
simulator, with each channel a path on one real webhook receiver."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from tests.support import API_KEY, WebhookSink, cli, run_ids_in
from watcher.simulator import RunPlan, SimulatorServer

ROUTES = [
    # Flagged successes go to the quality channel, and nowhere else.
    {"statuses": ["SUCCEEDED"], "flags": ["quality"], "channels": ["quality"], "stop": True},
    # A cost flag adds oncall (and reading goes on).
    {"flags": ["cost"], "channels": ["oncall"]},
    # Failures of our people on the invoices datasets page oncall, and only oncall.
    {
        "statuses": ["FAILED"],
        "creators": ["*@example.com"],
        "datasets": ["invoices-*"],
        "channels": ["oncall"],
        "stop": True,
    },
    {"channels": ["team"]},
]


def test_routes_on_creator_dataset_flags_and_stop(
    simulator: SimulatorServer, webhook: WebhookSink, write_config: Callable[..., Path]
) -> None:
    """Each finished run reaches exactly the channels its routes give: a SUCCEEDED run with
    40% of its samples failed only the `flags: [quality]` route's channel; a costly one
    oncall and team; a FAILED run by an example.com creator (any case) on an invoices
    dataset only oncall (stop); the rest team."""
    sim = simulator.sim
    invoices = "invoice-extraction-v2"  # its dataset is invoices-sample-500
    other = "customer-support-dialogues"  # contracts-redacted

    def run(spec: str, creator: str, **plan: float) -> str:
        made = sim.add_run(
            plan=RunPlan(**{"failure_rate": 0.0, "cost_per_sample": 0.01, **plan}),
            number_of_samples=10,
            spec_name=spec,
            created_by_email=creator,
            status="PROCESSING",
        )
        return made.id

    poor = run(invoices, "ada@example.com", failure_rate=0.4)  # 4 of 10 failed
    clean = run(invoices, "ada@example.com")
    costly = run(other, "bob@elsewhere.org", cost_per_sample=50)  # $500
    ours = run(invoices, "Ada@Example.COM")
    theirs = run(invoices, "eve@elsewhere.org")
    elsewhere = run(other, "ada@example.com")
    outcome = {poor: "SUCCEEDED", clean: "SUCCEEDED", costly: "SUCCEEDED"}
    outcome |= {ours: "FAILED", theirs: "FAILED", elsewhere: "FAILED"}

    config = write_config(
        dataframer={"base_url": simulator.url},
        track={"all": True},
        channels={name: webhook.url(name) for name in ("team", "oncall", "quality")},
        routes=ROUTES,
        alerts={"failure_rate_above": 0.05, "cost_above": 100},
    )

    def once() -> None:
        result = cli(
            "--config", str(config), "once", cwd=config.parent, env={"DATAFRAMER_API_KEY": API_KEY}
        )
        assert result.returncode == 0, result.stderr

    once()  # the silent baseline: every run under way
    for run_id, status in outcome.items():
        sim.force_status(run_id, status)
    once()

    heard: dict[str, list[str]] = defaultdict(list)
    for request in webhook.accepted:
        assert request.body is not None
        heard[request.path.strip("/")] += run_ids_in([request.body["message"]])
    assert {channel: sorted(ids) for channel, ids in heard.items()} == {
        "quality": [poor],
        "oncall": sorted([costly, ours]),
        "team": sorted([clean, costly, theirs, elsewhere]),
    }

"""End to end, every job kind: tracked by its reference or discovered through its list, the
simulator finishes it, and the alert reaches a real webhook receiver carrying its kind and its
full reference; `track.filter` keeps discovery to the jobs it names."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support import API_KEY, WebhookSink, cli, run_ids_in, wait_for
from watcher.simulator import SimulatorServer

ENV = {"DATAFRAMER_API_KEY": API_KEY}
TITLES = {
    "evaluation": "Dataframer evaluation SUCCEEDED: run ",
    "red_team": "Dataframer red-team run FAILED: ",
    "anonymization": "Dataframer anonymization SUCCEEDED: dataset ",
}


def _cli(config: Path, *args: str) -> Any:
    result = cli("--config", str(config), *args, cwd=config.parent, env=ENV)
    assert result.returncode == 0, result.stderr
    return result


def _by_ref(webhook: WebhookSink) -> dict[str, dict[str, Any]]:
    """Each alert the receiver got, by the reference its `Run:` line names."""
    alerts: dict[str, dict[str, Any]] = {}
    for post in webhook.posts:
        (ref,) = run_ids_in([post["message"]])
        assert ref not in alerts, f"{ref} alerted twice"
        alerts[ref] = post
    return alerts


def test_each_kind_tracked_by_its_reference_is_followed_to_its_alert(
    simulator: SimulatorServer, webhook: WebhookSink, write_config, start_daemon
) -> None:
    """`track evaluation:ID red-team:ID anonymization:ID` on a running daemon: each job is
    read from its own path until the simulator finishes it, and its one alert names its kind
    in the title, its full reference, and what only that kind has."""
    sim = simulator.sim
    run = sim.add_run(status="SUCCEEDED", number_of_samples=30)
    timing = {"pending_seconds": 1.0, "processing_seconds": 1.5}
    evaluation = sim.add_evaluation(run.id, outcome="SUCCEEDED", **timing)
    red = sim.add_red_team_run(outcome="FAILED", model_name="moonshotai/Kimi-K3", **timing)
    anon = sim.add_anonymization_run(outcome="SUCCEEDED", **timing)
    refs = {
        "evaluation": f"evaluation:{evaluation.id}",
        "red_team": f"red-team:{red.id}",
        "anonymization": f"anonymization:{anon.id}",
    }
    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "200ms"},
        channels={"hook": webhook.url()},
        delivery={"max_runs_per_message": 1},  # a message per alert, to read each apart
    )
    daemon = start_daemon(config)
    daemon.wait_event("started")
    # Typed as people paste them: the red-team one with an underscore, the id in capitals.
    typed = [refs["evaluation"], f"red_team:{red.id.upper()}", refs["anonymization"]]
    out = _cli(config, "track", *typed).stdout
    assert all(ref in out for ref in refs.values()), out
    wait_for(lambda: len(webhook.posts) >= 3, what="an alert per kind", timeout=30)
    ticks = daemon.count("tick")
    daemon.wait_event("tick", at_least=ticks + 3)  # time enough for a duplicate to show
    assert daemon.terminate() == 0
    assert API_KEY not in daemon.log_path.read_text()

    alerts = _by_ref(webhook)
    assert set(alerts) == set(refs.values())
    for kind, ref in refs.items():
        post = alerts[ref]
        assert TITLES[kind] in post["title"], post["title"]
        assert f"Kind: {'red-team run' if kind == 'red_team' else kind}" in post["message"]
    assert run.id in alerts[refs["evaluation"]]["title"]
    assert f"Evaluated run: {run.id}" in alerts[refs["evaluation"]]["message"]
    assert "Model: moonshotai/Kimi-K3" in alerts[refs["red_team"]]["message"]
    assert "moonshotai/Kimi-K3" in alerts[refs["red_team"]]["title"]
    assert "Entities found: " in alerts[refs["anonymization"]]["message"]
    assert alerts[refs["red_team"]]["type"] == "failure"
    assert sim.stats.count("GET /api/dataframer/red-team-runs/{id}/status/") > 0
    assert sim.stats.count("GET /api/dataframer/red-team-runs/") == 0  # tracked by id only

    status = json.loads(_cli(config, "status", "--json").stdout)
    assert {r["run_id"]: r["kind"] for r in status["runs"]} == {v: k for k, v in refs.items()}
    text = _cli(config, "status").stdout
    assert "KIND" in text
    assert "red-team run" in text
    history = json.loads(_cli(config, "history", refs["red_team"], "--json").stdout)
    events = [e for e in history if e["kind"] == "event"]
    assert events
    assert all(e["run_kinds"] == ["red_team"] for e in events)
    assert f"red-team run {refs['red_team']}" in _cli(config, "history", refs["red_team"]).stdout


def test_discovery_takes_a_silent_baseline_per_kind_even_one_added_later(
    simulator: SimulatorServer, webhook: WebhookSink, write_config: Callable[..., Path]
) -> None:
    """`track.kinds` lists what `track.all` discovers. Each kind's first pass is silent (its
    finished jobs recorded, not announced), a kind added later too; after it, every new job
    of each kind is announced when it finishes, and jobs of kinds not listed are left alone."""
    sim = simulator.sim
    old_run = sim.add_run(status="SUCCEEDED")
    old_red = sim.add_red_team_run(status="FAILED")
    old_anon = sim.add_anonymization_run(status="SUCCEEDED")

    def configure(*kinds: str) -> Path:
        return write_config(
            dataframer={"base_url": simulator.url},
            track={"all": True, "kinds": list(kinds)},
            channels={"hook": webhook.url()},
        )

    config = configure("run", "red-team")  # the spelling of a reference works too
    _cli(config, "once")  # the baseline of runs and red-team runs
    new_run = sim.add_run(status="PROCESSING")
    new_red = sim.add_red_team_run(status="PROCESSING")
    new_anon = sim.add_anonymization_run(status="PROCESSING")
    _cli(config, "once")
    sim.force_status(new_run.id, "SUCCEEDED")
    sim.force_status(new_red.id, "CANCELED", "red_team")
    sim.force_status(new_anon.id, "SUCCEEDED", "anonymization")
    _cli(config, "once")
    assert sorted(webhook.run_ids()) == sorted([new_run.id, f"red-team:{new_red.id}"])
    assert sim.stats.count("GET /api/dataframer/anonymization-runs/") == 0

    config = configure("run", "red_team", "anonymization")
    _cli(config, "once")  # anonymization's own baseline: both of its finished runs, silently
    newest = sim.add_anonymization_run(status="PROCESSING")
    _cli(config, "once")
    sim.force_status(newest.id, "FAILED", "anonymization")
    _cli(config, "once")
    assert sorted(webhook.run_ids()) == sorted(
        [new_run.id, f"red-team:{new_red.id}", f"anonymization:{newest.id}"]
    )
    status = json.loads(_cli(config, "status", "--json").stdout)
    kinds = {r["run_id"]: r["kind"] for r in status["runs"]}
    assert kinds[old_run.id] == "run"
    assert kinds[f"red-team:{old_red.id}"] == "red_team"
    assert kinds[f"anonymization:{old_anon.id}"] == "anonymization"


def test_track_filter_keeps_discovery_to_what_it_names(
    simulator: SimulatorServer, webhook: WebhookSink, write_config: Callable[..., Path]
) -> None:
    """A discovered job that fails `track.filter` (spec globs, creators ignoring case,
    datasets) is neither tracked nor announced; one tracked by id always is."""
    sim = simulator.sim
    spec = "invoice-extraction-v2"  # its dataset is invoices-sample-500
    ours = sim.add_run(spec_name=spec, created_by_email="Ada@Example.COM", status="PROCESSING")
    other_spec = sim.add_run(
        spec_name="customer-support-dialogues", created_by_email="ada@example.com"
    )
    other_creator = sim.add_run(spec_name=spec, created_by_email="eve@elsewhere.org")
    explicit = sim.add_run(spec_name="customer-support-dialogues", status="PROCESSING")
    config = write_config(
        dataframer={"base_url": simulator.url},
        track={
            "all": True,
            "filter": {
                "specs": ["invoice-*"],
                "creators": ["*@example.com"],
                "datasets": ["invoices-*"],
            },
        },
        channels={"hook": webhook.url()},
    )
    _cli(config, "once")  # the baseline
    _cli(config, "track", explicit.id)
    for job in (ours, other_spec, other_creator, explicit):
        sim.force_status(job.id, "FAILED")
    _cli(config, "once")
    assert sorted(webhook.run_ids()) == sorted([ours.id, explicit.id])
    status = json.loads(_cli(config, "status", "--json").stdout)
    assert {r["run_id"] for r in status["runs"]} == {ours.id, explicit.id}

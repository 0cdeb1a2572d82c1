"""Ready-made worlds: the demo's handful of runs that all finish within twenty seconds."""

from __future__ import annotations

from .engine import Simulator
from .model import RunPlan, SimRun

DEMO_SETTLES_AFTER = 20.0
"""Seconds after ``demo_scenario`` by which every demo run that is going to finish has."""


def demo_scenario(sim: Simulator) -> list[SimRun]:
    """Add the demo's runs to ``sim``: successes, a failure, a cancellation, one still busy.

    Also one run that finished two hours ago, so a watcher discovering every run has
    something to record silently as its baseline. Returned newest first.
    """
    plans = [
        # (spec, creator, samples, plan)
        (
            "text-to-sql-pairs",
            "diego.alvarez@example.com",
            120,
            RunPlan("SUCCEEDED", 1.0, 4.0, 1.0, 0.0, 0.0042),
        ),
        (
            "customer-support-dialogues",
            "maya.chen@example.com",
            250,
            RunPlan("SUCCEEDED", 2.0, 6.0, 1.0, 0.012, 0.0185),
        ),
        (
            "invoice-extraction-v2",
            "oliver.schmidt@example.com",
            400,
            RunPlan("FAILED", 1.0, 9.0, 0.42, 0.035, 0.0261),
        ),
        (
            "medical-intake-forms",
            "priya.raman@example.com",
            300,
            RunPlan("CANCELED", 3.0, 9.0, 0.55, 0.01, 0.0213),
        ),
        (
            "legal-contract-clauses",
            "sara.lindqvist@example.com",
            180,
            RunPlan("SUCCEEDED", 4.0, 14.0, 1.0, 0.022, 0.0473),
        ),
        (
            "earnings-call-summaries",
            "maya.chen@example.com",
            1000,
            RunPlan("SUCCEEDED", 2.0, 3600.0, 1.0, 0.008, 0.0317),
        ),
    ]
    created = [
        sim.add_run(
            plan=plan,
            spec_name=spec,
            number_of_samples=samples,
            created_by_email=creator,
            options={"revision_types": ["consistency"], "filtering_types": ["structural"]},
        )
        for spec, creator, samples, plan in plans
    ]
    created.append(
        sim.add_run(
            plan=RunPlan("SUCCEEDED", 5.0, 1500.0, 1.0, 0.015, 0.0095),
            spec_name="product-review-sentiment",
            number_of_samples=2000,
            created_by_email="oliver.schmidt@example.com",
            created_ago_seconds=7200.0,
        )
    )
    return sorted(created, key=lambda run: (run.created_at, run.seq), reverse=True)

"""Realistic sample alerts: what `render --sample` shows and `test-notify` sends.

A sample is an Event like the pipeline makes, about a run with every field the API fills
(spec, dataset, samples, cost, creator, runtime parameters, generated files), at a fixed
distance from `now`: a template is tried on the data it will meet.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from watcher.events import SLOW, STUCK, Event, EventKind
from watcher.models import AnonymizationRun, Evaluation, Job, RedTeamRun, Run, RunStatus
from watcher.run_refs import RunRef

__all__ = ["SAMPLE_RUN_ID", "SAMPLE_STATUSES", "sample_event"]

SAMPLE_RUN_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
SAMPLE_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED, STUCK, SLOW)

_FILES = [
    {"id": "f-1", "path": "samples.jsonl", "file_type": "jsonl", "size_bytes": 1_843_200},
    {"id": "f-2", "path": "report.csv", "file_type": "csv", "size_bytes": 48_312},
]


def _run(status: str, created: datetime, ended: datetime | None, **fields: object) -> Run:
    base: dict[str, object] = {
        "id": SAMPLE_RUN_ID,
        "status": status,
        "spec_id": "spec-7d1e",
        "spec_name": "invoice-extraction",
        "spec_version": 3,
        "dataset_id": "ds-42",
        "dataset_name": "invoices-2024-q4",
        "dataset_type": "structured",
        "samples_completed": 1000,
        "samples_failed": 0,
        "total_cost": 4.12,
        "created_at": created,
        "created_by_email": "ada@example.com",
        "completed_at": ended,
        "runtime_params": {"number_of_samples": 1000, "model": "claude-sonnet-4"},
        "generated_files": _FILES if status == RunStatus.SUCCEEDED else [],
    }
    base.update(fields)
    return Run.model_validate(base)


_KIND_IDS = {
    "evaluation": "8f14e45f-ceea-4e67-a6b3-9b1ad0f0c2d1",
    "red_team": "c9f0f895-fb98-4b91-b7e0-6a1f4e4d2b77",
    "anonymization": "45c48cce-2e2d-4fbd-aa1a-f0b6e3b9d8a4",
}


def _of_kind(kind: str, run: Run) -> Job:
    """The sample generation run's twin of another kind: same lifecycle, that kind's facts."""
    shared: dict[str, object] = {
        "id": _KIND_IDS[kind],
        "status": run.status,
        "created_at": run.created_at,
        "completed_at": run.completed_at,
        "created_by_email": run.created_by_email,
    }
    failed = run.status == RunStatus.FAILED
    done = run.status == RunStatus.SUCCEEDED
    if kind == "evaluation":
        return Evaluation.model_validate(
            {
                **shared,
                "run_id": SAMPLE_RUN_ID,
                "samples_classified": 1000 if done else None,
                "error_message": "The evaluator model timed out." if failed else None,
            }
        )
    if kind == "red_team":
        return RedTeamRun.model_validate(
            {
                **shared,
                "spec_name": "jailbreak-suite",
                "model_name": "moonshotai/Kimi-K3",
                "number_of_behaviors": 12,
                "number_of_prompts_per_behavior": 5,
                "prompts_written": 60 if done else None,
                "error_message": "The generation model stopped answering." if failed else None,
            }
        )
    entities = {"EMAIL_ADDRESS": 41, "PERSON": 27, "PHONE_NUMBER": 9}
    return AnonymizationRun.model_validate(
        {
            **shared,
            "dataset_id": "ds-77",
            "dataset_name": "customer-emails",
            "detection_method": "llm",
            "llm_model_name": "claude-sonnet-4",
            "pii_types": sorted(entities),
            "results": {
                "entity_summary": entities if done else {},
                "entities_found": sum(entities.values()) if done else 0,
                "error": "The detection model timed out on a document." if failed else None,
                "samples_processed": 120 if done else 37,
            },
            "generated_files": _FILES[:1] if done else [],
        }
    )


def sample_event(status: str = RunStatus.SUCCEEDED, *, now: datetime, kind: str = "run") -> Event:
    """A sample alert reaching `status` (SUCCEEDED, FAILED, CANCELED, STUCK or SLOW) at `now`,
    about a job of `kind` (a generation run by default)."""
    event = _sample_run_event(status.upper(), now)
    if kind == "run" or event.run is None or not isinstance(event.run, Run):
        return event
    job = _of_kind(kind, event.run)
    return replace(event, run_id=RunRef(kind, job.id).key, run=job)


def _sample_run_event(status: str, now: datetime) -> Event:
    created = now - timedelta(minutes=42, seconds=17)
    if status == STUCK:
        stalled = 72 * 60.0
        run = _run(RunStatus.PROCESSING, created - timedelta(hours=1), None, samples_completed=318)
        return Event(
            run_id=SAMPLE_RUN_ID,
            kind=EventKind.STUCK,
            from_status=RunStatus.PROCESSING,
            to_status=RunStatus.PROCESSING,
            at=now,
            alert=True,
            run=run,
            previous_since=created - timedelta(minutes=55),
            stuck_for=stalled,
        )
    if status == SLOW:
        run = _run(RunStatus.PROCESSING, created, None, samples_completed=96)
        return Event(
            run_id=SAMPLE_RUN_ID,
            kind=EventKind.SLOW,
            from_status=RunStatus.PROCESSING,
            to_status=RunStatus.PROCESSING,
            at=now,
            alert=True,
            run=run,
            previous_since=created,
            flags=("slow",),
            reasons=("12 samples/min, a third of this spec's median 36/min over 8 runs",),
        )
    if status == RunStatus.FAILED:
        run = _run(status, created, now, samples_completed=412, samples_failed=88, total_cost=2.37)
    elif status == RunStatus.CANCELED:
        run = _run(status, created, now, samples_completed=120, total_cost=0.61)
    else:
        run = _run(status, created, now)
    return Event(
        run_id=SAMPLE_RUN_ID,
        kind=EventKind.TRANSITION,
        from_status=RunStatus.PROCESSING,
        to_status=status,
        at=now,
        alert=True,
        run=run,
        previous_since=created + timedelta(minutes=1),
    )

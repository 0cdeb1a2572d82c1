"""What a template sees: one alert's variables, from its Event, in plain values.

The run is a plain dict (every field of the API's run, `runtime_params` and `generated_files`
included, datetimes as aware UTC datetimes), so a template reads `run.spec_name` and cannot
call a model's methods. Everything worded here (the transition, the duration, the facts) is
worded once for every format: the built-in text, Markdown and HTML bodies say the same thing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from watcher.events import SLOW, STUCK, Event, EventKind
from watcher.kinds import KIND_TABLE
from watcher.models import AnonymizationRun, Evaluation, Job, RedTeamRun, RunStatus, is_terminal
from watcher.route import job_kind  # re-exported: one function for routing and rendering
from watcher.templates.helpers import human_duration, human_size, money, percent, utc_time

__all__ = [
    "MARKS",
    "MAX_FILES_LISTED",
    "NOTIFY_TYPES",
    "alert_fields",
    "job_kind",
    "mark_of",
    "run_duration",
    "spec_label",
    "status_counts",
    "subject_of",
    "transition_of",
]

MAX_FILES_LISTED = 10
MARKS: dict[str, str] = {
    RunStatus.SUCCEEDED: "✅",
    RunStatus.FAILED: "❌",
    RunStatus.CANCELED: "⛔",
    STUCK: "⏳",
    SLOW: "🐢",
}
# apprise's notify type per alert status (the brief's table); anything else is information.
NOTIFY_TYPES: dict[str, str] = {
    RunStatus.SUCCEEDED: "success",
    RunStatus.FAILED: "failure",
    RunStatus.CANCELED: "warning",
    STUCK: "warning",
    SLOW: "warning",
}
# A kind's name in a sentence ("Dataframer red-team run FAILED"): the kinds table's nouns.
KIND_WORDS = {name: kind.noun for name, kind in KIND_TABLE.items()}


def mark_of(status: str | None) -> str:
    """The status symbol: ✅ SUCCEEDED, ❌ FAILED, ⛔ CANCELED, ⏳ STUCK, • anything else."""
    return MARKS.get(status or "", "•")


def spec_label(run: Job | None) -> str:
    """ "invoice-extraction v3", the name alone without a version, "unknown spec" without."""
    if run is None or not run.spec_name:
        return "unknown spec"
    return f"{run.spec_name} v{run.spec_version}" if run.spec_version is not None else run.spec_name


def subject_of(event: Event) -> str:
    """What a title names after the status: the spec of a run, the evaluated run of an
    evaluation, the spec and model of a red-team run, the dataset of an anonymization."""
    run = event.run
    if isinstance(run, Evaluation):
        return f"run {run.run_id}" if run.run_id else "unknown run"
    if isinstance(run, RedTeamRun):
        model = f" on {run.model_name}" if run.model_name else ""
        return f"{run.spec_name or 'unknown spec'}{model}"
    if isinstance(run, AnonymizationRun):
        return f"dataset {run.dataset_name or run.dataset_id or '(unknown)'}"
    if run is None and job_kind(event) != "run":
        return event.run_id
    return spec_label(run)


def run_duration(event: Event) -> float | None:
    """Seconds from creation to completion (or to the event, still running), else None."""
    run = event.run
    if run is None or run.created_at is None:
        return None
    end = run.completed_at or event.at
    return (end - run.created_at).total_seconds()


def transition_of(event: Event) -> str:
    """The status line's words: "PROCESSING → SUCCEEDED", a first sighting, or a stall."""
    if event.kind is EventKind.STUCK:
        stalled = human_duration(event.stuck_for or 0)
        how = (
            f"PENDING for {stalled}"
            if event.to_status == RunStatus.PENDING
            else f"{event.to_status} with no new sample for {stalled}"
        )
        return f"STUCK: {how}" + (" (reminder)" if event.reminder else "")
    if event.kind is EventKind.SLOW:
        return f"SLOW: {event.to_status}, slower than this spec's earlier runs"
    if event.from_status is None and event.to_status and not is_terminal(event.to_status):
        return f"{event.to_status} (not finished yet)"
    if event.kind is EventKind.FIRST_SEEN or event.from_status is None:
        return f"{event.to_status} (already finished when first seen)"
    return f"{event.from_status} → {event.to_status}"


def _failure_rate(run: Job | None) -> float | None:
    if run is None or run.samples_failed is None:
        return None
    total = (run.samples_completed or 0) + run.samples_failed
    return run.samples_failed / total if total else None


def _files(run: Job | None) -> tuple[list[dict[str, Any]], int, int]:
    """The files to list (name, detail, and the API's fields), how many in all, how many more."""
    items = (run.generated_files or []) if run is not None else []
    listed = []
    for item in items[:MAX_FILES_LISTED]:
        size = human_size(item.size_bytes) if item.size_bytes is not None else None
        detail = ", ".join(part for part in (item.file_type, size) if part)
        listed.append(
            {
                **item.model_dump(mode="python"),
                "name": item.path or item.id or "(unnamed)",
                "detail": detail,
            }
        )
    return listed, len(items), max(0, len(items) - MAX_FILES_LISTED)


def _kind_facts(run: Job | None) -> list[tuple[str, str]]:
    """What only one kind has: an evaluation's run, a red-team run's model and behaviors, an
    anonymization's entities found."""
    facts: list[tuple[str, str]] = []
    if isinstance(run, Evaluation):
        if run.run_id:
            facts.append(("Evaluated run", run.run_id))
        if run.samples_classified is not None:
            facts.append(("Samples classified", f"{run.samples_classified:,}"))
        if run.error_message:
            facts.append(("Error", run.error_message))
    elif isinstance(run, RedTeamRun):
        if run.model_name:
            facts.append(("Model", run.model_name))
        if run.number_of_behaviors is not None:
            per = run.number_of_prompts_per_behavior
            each = f", {per} prompt{'s' * (per != 1)} each" if per is not None else ""
            facts.append(("Behaviors", f"{run.number_of_behaviors}{each}"))
        if run.prompts_written is not None:
            facts.append(("Prompts written", f"{run.prompts_written:,}"))
        if run.error_message:
            facts.append(("Error", run.error_message))
    elif isinstance(run, AnonymizationRun):
        how = ", ".join(part for part in (run.detection_method, run.llm_model_name) if part)
        if how:
            facts.append(("Detection", how))
        if run.pii_types:
            facts.append(("PII types", ", ".join(run.pii_types)))
        results = run.results
        if results is not None and results.entities_found is not None:
            labels = sorted((results.entity_summary or {}).items(), key=lambda kv: (-kv[1], kv[0]))
            summary = ", ".join(f"{label} {count}" for label, count in labels)
            found = f"{results.entities_found:,}" + (f" ({summary})" if summary else "")
            facts.append(("Entities found", found))
        if results is not None and results.error:
            facts.append(("Error", results.error))
    return facts


def _facts(event: Event, kind: str, duration: float | None, run_url: str | None) -> list[Any]:
    """(label, value) pairs, in the order every built-in body shows them; only known ones."""
    run = event.run
    facts: list[tuple[str, str]] = [("Run", event.run_id)]
    if kind != "run":
        facts.append(("Kind", KIND_WORDS.get(kind, kind)))
    if kind in ("run", "red_team") or (run is not None and run.spec_name):
        facts.append(("Spec", spec_label(run)))
    facts.append(("Status", transition_of(event)))
    facts += _kind_facts(run)
    if event.stuck_for is not None and event.kind is not EventKind.STUCK:
        facts.append(("Stuck", f"was stuck for {human_duration(event.stuck_for)} before this"))
    facts += [("Flagged", reason) for reason in event.reasons]
    if not event.reasons:
        facts += [("Flagged", flag) for flag in event.flags]
    if duration is not None:
        so_far = " so far" if event.kind in (EventKind.STUCK, EventKind.SLOW) else ""
        facts.append(("Duration", human_duration(duration) + so_far))
    if run is not None:
        if kind == "anonymization" and run.samples_completed is not None:
            facts.append(("Documents", f"{run.samples_completed:,} processed"))
        elif run.samples_completed is not None or run.samples_failed is not None:
            done, failed = run.samples_completed or 0, run.samples_failed or 0
            facts.append(("Samples", f"{done:,} completed, {failed:,} failed"))
        if run.total_cost is not None:
            facts.append(("Cost", money(run.total_cost)))
        if run.created_by_email:
            facts.append(("Created by", run.created_by_email))
        if run.dataset_name:
            facts.append(("Dataset", run.dataset_name))
        if run.created_at is not None:
            facts.append(("Created", utc_time(run.created_at)))
        if run.completed_at is not None:
            facts.append(("Completed", utc_time(run.completed_at)))
    if run_url:
        facts.append(("Link", run_url))
    return facts


def alert_fields(event: Event, *, run_url: str | None = None) -> dict[str, Any]:
    """Every variable a template of one alert sees (the README's table lists them)."""
    run = event.run
    status = event.alert_status or "GONE"
    kind = job_kind(event)
    duration = run_duration(event)
    files, files_total, files_more = _files(run)
    rate = _failure_rate(run)
    run_dict: dict[str, Any] = (
        run.model_dump(mode="python") if run is not None else {"id": event.run_id}
    )
    run_dict.setdefault("status", event.to_status)
    return {
        "run": run_dict,
        "run_id": event.run_id,
        "kind": kind,
        "kind_word": KIND_WORDS.get(kind, kind),
        "status": status,
        "mark": mark_of(status),
        "notify_type": NOTIFY_TYPES.get(status, "info"),
        "spec": spec_label(run),
        "subject": subject_of(event),
        "from_status": event.from_status,
        "to_status": event.to_status,
        "transition": transition_of(event),
        "first_seen": event.kind is EventKind.FIRST_SEEN or event.from_status is None,
        "at": event.at,
        "since": event.previous_since,
        "duration": human_duration(duration) if duration is not None else "",
        "duration_seconds": duration,
        "failure_rate": rate,
        "failure_share": percent(rate) if rate is not None else "",
        "flags": list(event.flags),
        "reasons": list(event.reasons),
        "stuck": event.kind is EventKind.STUCK,
        "stuck_for": human_duration(event.stuck_for) if event.stuck_for is not None else "",
        "stuck_for_seconds": event.stuck_for,
        "reminder": event.reminder,
        "run_url": run_url or "",
        "files": files,
        "files_total": files_total,
        "files_more": files_more,
        "facts": _facts(event, kind, duration, run_url),
    }


def status_counts(events: Sequence[Event]) -> list[tuple[str, int]]:
    """(status, how many) per alert status, in name order: STUCK, then GONE for vanished."""
    counts = Counter(event.alert_status or "GONE" for event in events)
    return sorted(counts.items())

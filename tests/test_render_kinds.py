"""What people read about each kind of job: a title naming the kind and what it is about,
the full reference on the `Run:` line, and the facts only that kind has, in every format."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from tests.support import cli, run_ids_in
from watcher.events import Event, EventKind
from watcher.models import AnonymizationRun, Evaluation, RedTeamRun
from watcher.render import render_message, title_for
from watcher.templates.samples import sample_event

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "title", "facts"),
    [
        (
            "evaluation",
            "✅ Dataframer evaluation SUCCEEDED: run 3c90c3cc-0d44-4b50-8888-8dd25736052a",
            ["Kind: evaluation", "Evaluated run: 3c90c3cc-", "Samples classified: 1,000"],
        ),
        (
            "red_team",
            "✅ Dataframer red-team run SUCCEEDED: jailbreak-suite on moonshotai/Kimi-K3",
            ["Kind: red-team run", "Model: moonshotai/Kimi-K3", "Prompts written: 60"],
        ),
        (
            "anonymization",
            "✅ Dataframer anonymization SUCCEEDED: dataset customer-emails",
            ["Kind: anonymization", "Entities found: 77 (EMAIL_ADDRESS 41, PERSON 27,"],
        ),
    ],
)
def test_each_kind_reads_as_itself(kind: str, title: str, facts: list[str]) -> None:
    """The built-in title names the kind; the body's first line is the full reference, and
    it says what only that kind has, with no generation-run noise (no "unknown spec")."""
    event = sample_event("SUCCEEDED", now=NOW, kind=kind)
    prefix = {"red_team": "red-team"}.get(kind, kind)
    assert event.run_id.startswith(f"{prefix}:")
    rendered_title, body = render_message([event]).title, render_message([event]).body
    assert rendered_title == title
    assert run_ids_in([body]) == [event.run_id]
    for fact in facts:
        assert fact in body, body
    assert "unknown spec" not in body


def test_a_long_subject_is_shortened_to_the_title_limit() -> None:
    """A red-team spec and model too long for a title are cut; the body has them whole."""
    event = sample_event("FAILED", now=NOW, kind="red_team")
    assert isinstance(event.run, RedTeamRun)
    long = dataclasses.replace(event, run=event.run.model_copy(update={"spec_name": "x" * 200}))
    assert len(title_for(long)) <= 80
    assert title_for(long).startswith("❌ Dataframer red-team run FAILED: xxx")


def test_a_kind_without_its_data_still_names_itself() -> None:
    """An alert for a job whose data never came (gone before its first read) names its kind
    and its reference, not a spec."""
    event = Event(
        run_id="evaluation:e-1",
        kind=EventKind.GONE,
        from_status="PROCESSING",
        to_status=None,
        at=NOW,
        alert=False,
    )
    assert title_for(event) == "• Dataframer evaluation GONE: evaluation:e-1"


def test_each_kind_model_fills_the_shared_view() -> None:
    """What alerts read of any job: an anonymization's masked files are its generated files
    and its documents processed its samples; the kinds' bulk results are counted."""
    anon = AnonymizationRun.model_validate(
        {
            "id": "a",
            "anonymized_files": [{"id": "1", "path": "x.txt", "size_in_bytes": 3}],
            "results": {"entities_found": [{"label": "PERSON"}] * 4, "samples_processed": 2},
        }
    )
    assert anon.generated_files is not None
    assert [(f.path, f.size_bytes) for f in anon.generated_files] == [("x.txt", 3)]
    assert anon.samples_completed == 2
    assert anon.results is not None
    assert anon.results.entities_found == 4
    evaluation = Evaluation.model_validate({"id": "e", "sample_classifications": [{}] * 7})
    assert evaluation.samples_classified == 7
    assert "sample_classifications" not in (evaluation.model_extra or {})
    red = RedTeamRun.model_validate(
        {"id": "r", "results_json": {"behavior_to_enhanced_queries": {"a": [{}, {}], "b": [{}]}}}
    )
    assert red.prompts_written == 3
    assert "results_json" not in (red.model_extra or {})


def test_render_sample_takes_a_kind(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`render --sample --kind red-team` shows the red-team sample; `--kind` without
    `--sample` and an unknown kind are usage errors (exit 2, one line)."""
    shown = cli("render", "--sample", "--kind", "red-team", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Title: ✅ Dataframer red-team run SUCCEEDED: jailbreak-suite" in shown.stdout
    wrong = cli("render", "--run", "r-1", "--kind", "evaluation", cwd=tmp_path)
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [
        "dataframer-watcher: --kind goes with --sample (a run's kind is in its reference)"
    ]
    unknown = cli("render", "--sample", "--kind", "jobs", cwd=tmp_path)
    assert unknown.returncode == 2
    assert len(unknown.stderr.strip().splitlines()) == 1
    assert "'jobs'" in unknown.stderr


def test_a_slow_sample_is_only_of_a_kind_that_reports_progress(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`--status SLOW` shows a generation run's SLOW alert (no "not finished" warning: it is
    about a run under way); with a kind that has no pace, a one-line usage error."""
    slow = cli("render", "--sample", "--status", "SLOW", cwd=tmp_path)
    assert slow.returncode == 0, slow.stderr
    assert "Title: 🐢 Dataframer run SLOW" in slow.stdout
    assert "not finished" not in slow.stderr
    wrong = cli("render", "--sample", "--status", "SLOW", "--kind", "evaluation", cwd=tmp_path)
    assert wrong.returncode == 2
    assert wrong.stderr.strip().splitlines() == [
        "dataframer-watcher: --status SLOW goes with a kind that reports progress (run),"
        " not evaluation"
    ]

"""templates: the alert text carries every fact the brief lists, and never fails to render."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.events import Event, EventKind, Intent, MessageLimits, Notification, NotifyType
from watcher.models import TERMINAL_STATUSES, Run
from watcher.render import (
    MAX_FILES_LISTED,
    MAX_TITLE_LENGTH,
    body_for,
    compose_messages,
    human_duration,
    human_size,
    notify_type_for,
    render,
    title_for,
)

RUN_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
CREATED = datetime(2025, 3, 1, 10, 0, 0, tzinfo=UTC)
COMPLETED = CREATED + timedelta(hours=1, minutes=2, seconds=5)
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
TERMINAL = sorted(TERMINAL_STATUSES)


def full_run(run_id: str = RUN_ID, status: str = "SUCCEEDED", **overrides: object) -> Run:
    """A finished run with every field the alert shows, as the detail read returns it."""
    fields: dict[str, object] = {
        "id": run_id,
        "status": status,
        "spec_name": "invoice-extraction",
        "spec_version": 3,
        "dataset_name": "invoices-2024",
        "samples_completed": 980,
        "samples_failed": 20,
        "total_cost": 1234.5,
        "created_at": CREATED,
        "completed_at": COMPLETED,
        "created_by_email": "ada@example.com",
        "generated_files": [
            {
                "id": "f1",
                "path": "out/samples.jsonl",
                "file_type": "jsonl",
                "size_bytes": 1_500_000,
            },
            {"id": "f2", "path": "out/report.csv", "file_type": "csv", "size_bytes": 512},
        ],
    }
    fields.update(overrides)
    return Run.model_validate(fields)


def finished(
    run: Run | None,
    *,
    from_status: str | None = "PROCESSING",
    to_status: str | None = None,
    run_id: str | None = None,
) -> Event:
    """The alert event of `run` (None: no run data) reaching its status; FIRST_SEEN without from."""
    return Event(
        run_id=run_id or (run.id if run is not None else RUN_ID),
        kind=EventKind.TRANSITION if from_status is not None else EventKind.FIRST_SEEN,
        from_status=from_status,
        to_status=to_status or (run.status if run is not None else None),
        at=NOW,
        alert=True,
        run=run,
        previous_since=CREATED,
    )


def files(count: int) -> list[dict[str, object]]:
    """`count` generated files named file-0 ... file-(count-1)."""
    return [{"path": f"file-{i}.jsonl", "size_bytes": i} for i in range(count)]


# --- one run ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "symbol"), [("SUCCEEDED", "✅"), ("FAILED", "❌"), ("CANCELED", "⛔")]
)
def test_title_has_status_and_spec(status: str, symbol: str) -> None:
    """The title names the status, its symbol, and the spec with its version."""
    title = title_for(finished(full_run(status=status)))
    assert title == f"{symbol} Dataframer run {status}: invoice-extraction v3"


def test_title_without_spec_data() -> None:
    """A title without spec name says so; without a version it shows the name alone."""
    assert title_for(finished(full_run(spec_name=None))).endswith(": unknown spec")
    assert title_for(finished(full_run(spec_name=""))).endswith(": unknown spec")
    assert title_for(finished(full_run(spec_version=None))).endswith(": invoice-extraction")
    assert title_for(finished(None, to_status="FAILED")) == "❌ Dataframer run FAILED: unknown spec"


def test_body_has_every_fact_of_the_brief() -> None:
    """The body carries the full id, transition, duration, samples, cost, creator and files."""
    body = body_for(finished(full_run()))
    lines = body.splitlines()
    assert lines[0] == f"Run: {RUN_ID}"
    for expected in [
        "Spec: invoice-extraction v3",
        "Status: PROCESSING → SUCCEEDED",
        "Duration: 1h 2m",
        "Samples: 980 completed, 20 failed",
        "Cost: $1,234.50",
        "Created by: ada@example.com",
        "Dataset: invoices-2024",
        "Created: 2025-03-01 10:00:00 UTC",
        "Completed: 2025-03-01 11:02:05 UTC",
        "Generated files (2):",
        "  - out/samples.jsonl (jsonl, 1.5 MB)",
        "  - out/report.csv (csv, 512 B)",
    ]:
        assert expected in lines


def test_body_first_seen_wording() -> None:
    """A run first seen already finished says so instead of a transition."""
    body = body_for(finished(full_run(status="FAILED"), from_status=None))
    assert "Status: FAILED (already finished when first seen)" in body.splitlines()
    assert "→" not in body


def test_duration_runs_to_the_event_when_completion_is_unknown() -> None:
    """Without completed_at the duration is measured up to the event time."""
    body = body_for(finished(full_run(completed_at=None)))
    assert "Duration: 2h" in body.splitlines()
    assert "Completed:" not in body


def test_samples_line_with_one_count_missing() -> None:
    """A missing samples count reads as 0 when the other one is known."""
    body = body_for(finished(full_run(samples_completed=5, samples_failed=None)))
    assert "Samples: 5 completed, 0 failed" in body.splitlines()


def test_files_are_capped_with_a_count_of_the_rest() -> None:
    """Beyond MAX_FILES_LISTED files the body lists the first ones and '… and N more'."""
    body = body_for(finished(full_run(generated_files=files(MAX_FILES_LISTED + 3))))
    lines = body.splitlines()
    assert f"Generated files ({MAX_FILES_LISTED + 3}):" in lines
    listed = [line for line in lines if line.startswith("  - ")]
    assert listed == [f"  - file-{i}.jsonl ({i} B)" for i in range(MAX_FILES_LISTED)]
    assert lines[-1] == "  … and 3 more"


def test_files_at_the_cap_are_all_listed() -> None:
    """Exactly MAX_FILES_LISTED files are all listed, with no '… and N more'."""
    body = body_for(finished(full_run(generated_files=files(MAX_FILES_LISTED))))
    assert "more" not in body
    assert (
        body.splitlines()[-1] == f"  - file-{MAX_FILES_LISTED - 1}.jsonl ({MAX_FILES_LISTED - 1} B)"
    )


def test_file_names_fall_back_to_id_then_unnamed() -> None:
    """A file without path shows its id, without either '(unnamed)'; no detail, no parentheses."""
    run = full_run(generated_files=[{"id": "f9"}, {}, {"path": "p", "file_type": "csv"}])
    lines = body_for(finished(run)).splitlines()
    assert lines[-3:] == ["  - f9", "  - (unnamed)", "  - p (csv)"]


def test_empty_file_list_shows_no_files_section() -> None:
    """A run with an empty generated_files list has no files section."""
    assert "Generated files" not in body_for(finished(full_run(generated_files=[])))


def test_everything_missing_still_renders() -> None:
    """A run with every field null, or no run data at all, renders with its full id."""
    bare = Run(id=RUN_ID, status="CANCELED")
    for event in [finished(bare), finished(None, to_status="CANCELED", run_id=RUN_ID)]:
        title, body = render([event])
        assert title == "⛔ Dataframer run CANCELED: unknown spec"
        assert body.splitlines() == [
            f"Run: {RUN_ID}",
            "Spec: unknown spec",
            "Status: PROCESSING → CANCELED",
        ]


def test_event_without_status_renders() -> None:
    """Even an event without a to_status (GONE) renders instead of raising."""
    gone = Event(
        run_id=RUN_ID,
        kind=EventKind.GONE,
        from_status="PROCESSING",
        to_status=None,
        at=NOW,
        alert=False,
    )
    title, body = render([gone])
    assert "GONE" in title
    assert RUN_ID in body


def test_zero_cost_and_zero_samples_are_shown() -> None:
    """Zero is a value, not a missing one: $0.00 and 0 samples are shown."""
    body = body_for(finished(full_run(total_cost=0, samples_completed=0, samples_failed=0)))
    assert "Cost: $0.00" in body.splitlines()
    assert "Samples: 0 completed, 0 failed" in body.splitlines()


def test_empty_unknown_status_is_worded_as_a_transition() -> None:
    """A transition from the unknown status "" is not described as a first sighting."""
    body = body_for(finished(full_run(), from_status=""))
    assert "already finished when first seen" not in body


def test_timestamps_without_offset_still_render() -> None:
    """A created_at without a UTC offset (naive) does not make the alert fail to render."""
    run = full_run(created_at="2025-03-01T10:00:00", completed_at=None)
    assert RUN_ID in body_for(finished(run))


def test_timestamps_with_an_offset_are_shown_in_utc() -> None:
    """A timestamp with a non-UTC offset is converted before it is labelled UTC."""
    created = datetime(2025, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    body = body_for(finished(full_run(created_at=created, completed_at=None)))
    assert "Created: 2025-03-01 08:00:00 UTC" in body.splitlines()


# --- several runs -----------------------------------------------------------------------------


def test_multi_run_message_names_each_run_and_counts_statuses() -> None:
    """A message for several runs counts statuses in its title and names every run by full id."""
    ids = [f"{n}c90c3cc-0d44-4b50-8888-8dd25736052a" for n in range(3)]
    events = [
        finished(full_run(ids[0], "SUCCEEDED")),
        finished(full_run(ids[1], "FAILED", spec_name="receipts")),
        finished(full_run(ids[2], "SUCCEEDED"), from_status=None),
    ]
    title, body = render(events)
    assert title == "3 Dataframer runs finished: 1 FAILED, 2 SUCCEEDED"
    blocks = body.split("\n\n")
    assert len(blocks) == 3
    for block, event, run_id in zip(blocks, events, ids, strict=True):
        assert block == f"{title_for(event)}\n{body_for(event)}"
        assert f"Run: {run_id}" in block.splitlines()


def test_single_run_render_is_title_and_body() -> None:
    """render of one event is exactly its title and body."""
    event = finished(full_run())
    assert render([event]) == (title_for(event), body_for(event))


def test_notifications_group_per_channel_in_chunks_preserving_order() -> None:
    """Intents become per-channel messages of at most max_runs_per_message runs, in order."""
    events = [finished(full_run(f"run-{i}", "FAILED")) for i in range(5)]
    intents = [Intent(i, "team") for i in range(5)]
    intents[1:1] = [Intent(1, "oncall")]
    intents.append(Intent(3, "oncall"))
    result = compose_messages(events, intents, max_runs_per_message=2)
    assert [(n.channel, n.event_indexes) for n in result] == [
        ("team", (0, 1)),
        ("team", (2, 3)),
        ("team", (4,)),
        ("oncall", (1, 3)),
    ]
    for note in result:
        assert (note.title, note.body) == render([events[i] for i in note.event_indexes])
        for index in note.event_indexes:
            assert f"Run: run-{index}" in note.body


def test_notifications_one_run_per_message() -> None:
    """max_runs_per_message=1 gives one single-run message per intent."""
    events = [finished(full_run(f"run-{i}", "SUCCEEDED")) for i in range(3)]
    intents = [Intent(i, channel) for i in range(3) for channel in ("a", "b")]
    result = compose_messages(events, intents, max_runs_per_message=1)
    assert sorted((n.channel, n.event_indexes) for n in result) == sorted(
        (i.channel, (i.event_index,)) for i in intents
    )
    assert all(n.title == title_for(events[n.event_indexes[0]]) for n in result)


def test_notifications_without_intents() -> None:
    """No intents, no messages."""
    assert compose_messages([finished(full_run())], [], max_runs_per_message=5) == []


@settings(max_examples=200, deadline=None, database=None)
@given(
    channels=st.lists(st.sampled_from(["a", "b", "c"]), min_size=0, max_size=12),
    size=st.integers(min_value=1, max_value=5),
)
def test_notifications_cover_each_intent_once(channels: list[str], size: int) -> None:
    """Every intent lands in exactly one message of its channel, chunks in intent order."""
    events = [finished(full_run(f"run-{i}", "FAILED")) for i in range(len(channels))]
    intents = [Intent(i, channel) for i, channel in enumerate(channels)]
    result = compose_messages(events, intents, max_runs_per_message=size)
    assert all(isinstance(n, Notification) and 1 <= len(n.event_indexes) <= size for n in result)
    for channel in set(channels):
        sent = [i for n in result if n.channel == channel for i in n.event_indexes]
        assert sent == [i.event_index for i in intents if i.channel == channel]


# --- human units ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.4, "0s"),
        (-5, "0s"),
        (1.6, "2s"),
        (45, "45s"),
        (60, "1m"),
        (725, "12m 5s"),
        (3600, "1h"),
        (3 * 3600 + 2 * 60 + 59, "3h 2m"),
        (3605, "1h 5s"),
        (86_400, "1d"),
        (2 * 86_400 + 4 * 3600 + 59, "2d 4h"),
        (400 * 86_400, "400d"),
    ],
)
def test_human_duration_examples(seconds: float, text: str) -> None:
    """Durations read as at most two units, largest first, truncating the rest."""
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 KB"),
        (1536, "1.5 KB"),
        (1_500_000, "1.5 MB"),
        (2_000_000_000, "2.0 GB"),
        (5_000_000_000_000, "5000.0 GB"),
    ],
)
def test_human_size_examples(size: int, text: str) -> None:
    """Sizes use decimal units with one decimal, bytes as a whole number, GB at most."""
    assert human_size(size) == text


def test_human_size_rounds_into_the_next_unit() -> None:
    """A size that rounds up to 1000 of a unit is shown in the next unit."""
    assert human_size(999_999) == "1.0 MB"


DURATION = re.compile(r"^\d+[dhms]( \d+[dhms])?$")
ORDER = "dhms"


@settings(max_examples=300, deadline=None, database=None)
@given(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**9), 10**12))
def test_human_duration_never_fails(seconds: float) -> None:
    """Any finite duration renders as one or two units, largest first."""
    text = human_duration(seconds)
    assert DURATION.match(text), text
    units = [part[-1] for part in text.split()]
    assert [ORDER.index(u) for u in units] == sorted(ORDER.index(u) for u in units)
    assert len(set(units)) == len(units)


@settings(max_examples=300, deadline=None, database=None)
@given(st.integers(min_value=0, max_value=10**18))
def test_human_size_never_fails(size: int) -> None:
    """Any size renders as a number and one of B, KB, MB, GB."""
    text = human_size(size)
    assert re.fullmatch(r"\d+(\.\d)? (B|KB|MB|GB)", text), text


def test_a_transition_from_no_status_reads_as_a_first_sighting() -> None:
    """A re-armed run (status cleared, first_seen kept) never says 'None → SUCCEEDED'."""
    event = Event(
        run_id="r-1",
        kind=EventKind.TRANSITION,
        from_status=None,
        to_status="SUCCEEDED",
        at=datetime(2026, 11, 1, tzinfo=UTC),
        alert=True,
        run=Run(id="r-1", status="SUCCEEDED", spec_name="s"),
    )
    body = body_for(event)
    assert "None" not in body
    assert "SUCCEEDED (already finished when first seen)" in body


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["SUCCEEDED"], NotifyType.SUCCESS),
        (["FAILED"], NotifyType.FAILURE),
        (["CANCELED"], NotifyType.WARNING),
        (["SUCCEEDED", "CANCELED"], NotifyType.WARNING),
        (["CANCELED", "FAILED", "SUCCEEDED"], NotifyType.FAILURE),
    ],
)
def test_notify_type_per_status_and_the_worst_for_a_group(
    statuses: list[str], expected: NotifyType
) -> None:
    """The brief's notify types; a message covering several runs takes the worst."""
    events = [finished(full_run(status=s), to_status=s) for s in statuses]
    assert notify_type_for(events) == expected


@given(st.lists(st.sampled_from(sorted(TERMINAL_STATUSES)), min_size=1, max_size=30))
def test_a_grouped_message_takes_the_worst_type_of_its_alerts(statuses: list[str]) -> None:
    """Whatever the mix, the message's type is the most severe of its runs' types, and
    compose_messages puts it on every message it makes."""
    events = [finished(full_run(status=s), to_status=s) for s in statuses]
    intents = [Intent(i, "team") for i in range(len(events))]
    [message] = compose_messages(events, intents, max_runs_per_message=len(events))
    worst = max((notify_type_for([e]) for e in events), key=lambda t: t.severity)
    assert message.notify_type == worst


def test_a_long_spec_name_is_shortened_in_the_title_and_kept_whole_in_the_body() -> None:
    """A 300-character spec name: the title (an email subject) stays within 80 characters and
    still says what happened; the body names the spec in full."""
    name = "invoice-" + "x" * 292
    event = finished(full_run(status="FAILED", spec_name=name), to_status="FAILED")
    title, body = render([event])
    assert len(title) <= MAX_TITLE_LENGTH
    assert title.startswith("❌ Dataframer run FAILED: invoice-x")
    assert title.endswith("…")
    assert f"Spec: {name} v3" in body


@settings(max_examples=60, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=40),
    max_runs=st.integers(min_value=1, max_value=25),
    body_limit=st.integers(min_value=400, max_value=20_000),
    title_limit=st.integers(min_value=20, max_value=250),
)
def test_grouped_messages_fit_the_channel_and_name_every_run_once(
    count: int, max_runs: int, body_limit: int, title_limit: int
) -> None:
    """Whatever the channel accepts (Discord 2,000 characters, Pushover 1,024, email 32 KB),
    each message fits it, holds at most max_runs runs, and every run is named by its full id
    exactly once, in order."""
    events = [
        finished(full_run(run_id=f"3c90c3cc-0d44-4b50-8888-{i:012d}", status="FAILED"))
        for i in range(count)
    ]
    intents = [Intent(i, "team") for i in range(count)]
    limits = {"team": MessageLimits(title=title_limit, body=body_limit)}
    messages = compose_messages(events, intents, max_runs_per_message=max_runs, limits=limits)
    assert [i for m in messages for i in m.event_indexes] == list(range(count))
    for message in messages:
        assert len(message.body) <= body_limit
        assert len(message.title) <= title_limit
        assert 1 <= len(message.event_indexes) <= max_runs
        for i in message.event_indexes:
            assert f"Run: {events[i].run_id}" in message.body


def test_one_alert_longer_than_the_channel_takes_is_cut_keeping_the_run_id() -> None:
    """A body that cannot fit even alone is cut at a line, says so, and keeps the full id."""
    files = [{"path": f"out/{'p' * 60}-{i}.jsonl", "size_bytes": 10} for i in range(10)]
    event = finished(full_run(generated_files=files))
    _, body = render([event], MessageLimits(title=80, body=300))
    assert len(body) <= 300
    assert body.startswith(f"Run: {RUN_ID}\n")
    assert body.endswith("`dataframer-watcher history RUN_ID` has it all)")

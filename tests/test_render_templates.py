"""Templates: compiled with every check that can run at load, rendered without ever costing an
alert, and given every fact of the run; the helpers; the built-ins in each format."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.events import Event, EventKind, Intent, MessageLimits
from watcher.models import Run
from watcher.ops import API, OpsAlert
from watcher.render import compose_digest, compose_messages, compose_ops, render_message
from watcher.templates import (
    FORMATS,
    TemplateProblem,
    Templates,
    check_template,
    compile_template,
    render_template,
)
from watcher.templates.helpers import markdown_escape, money, percent, utc_time
from watcher.templates.samples import SAMPLE_RUN_ID, SAMPLE_STATUSES, sample_event

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TEXT_ONLY = MessageLimits(formats=frozenset({"text"}))


def sample(status: str = "SUCCEEDED") -> Event:
    return sample_event(status, now=NOW)


def templates(**parts: str) -> Templates:
    return Templates.build({"mine": parts})


# --- compiling --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("line one\n{{ run.id", "line 2: unexpected end of template"),
        ("a\nb\n{% if x %}never closed", "line 3: Unexpected end of template"),
        ("{{ run.total_cost | dollars }}", "line 1: no filter named 'dollars'"),
        ("ok\n{% if x %}{{ y | nope }}{% endif %}", "line 2: no filter named 'nope'"),
        ("{% if run is shiny %}x{% endif %}", "line 1: no test named 'shiny'"),
        ("{{ run.__class__ }}", "line 1: the sandbox refuses the attribute '__class__'"),
        ("\n{{ run['_secret'] }}", "line 2: the sandbox refuses the attribute '_secret'"),
        ("{{ run.id.format(run) }}", "line 1: the sandbox refuses the attribute 'format'"),
    ],
)
def test_a_broken_template_is_refused_with_its_line(source: str, reason: str) -> None:
    """Syntax errors, unknown filters and tests (even in a branch never taken), and what the
    sandbox would refuse are found when the template compiles."""
    with pytest.raises(TemplateProblem) as caught:
        compile_template(source, "text")
    assert str(caught.value).startswith(reason)
    with pytest.raises(ValueError, match="the template does not compile: line"):
        check_template(source, "body")


def test_every_helper_and_variable_compiles() -> None:
    """The documented filters exist in every format's sandbox."""
    source = (
        "{{ duration_seconds | duration }} {{ failure_rate | percent(1) }}"
        " {{ run.total_cost | money }} {{ 1500 | size }} {{ run.created_at | utc }} {{ spec | md }}"
    )
    for fmt in FORMATS:
        assert compile_template(source, fmt) is not None


# --- rendering user templates ----------------------------------------------------------------


def test_the_briefs_example_template() -> None:
    """`{{ mark }} {{ run.spec_name }} {{ run.status }}` and `{{ run.id }} after {{ duration }}`."""
    chosen = templates(
        title="{{ mark }} {{ run.spec_name }} {{ run.status }}",
        body="{{ run.id }} after {{ duration }}",
    )
    rendered = render_message([sample("FAILED")], templates=chosen, template="mine")
    assert rendered.title == "❌ invoice-extraction FAILED"
    assert rendered.bodies == {"text": f"{SAMPLE_RUN_ID} after 42m 17s"}  # body stands in
    assert rendered.notes == ()


def test_an_unknown_variable_renders_empty_and_is_noted() -> None:
    """A typo costs a blank, not the alert; the note names it (render and the log show it)."""
    chosen = templates(body="id={{ run.id }} model={{ run.runtime_params.modle }} x={{ nope.a.b }}")
    rendered = render_message([sample()], templates=chosen, template="mine")
    assert rendered.body == f"id={SAMPLE_RUN_ID} model= x="
    assert rendered.notes == (
        "templates.mine.body: 'modle' is undefined and rendered empty",
        "templates.mine.body: 'nope' is undefined and rendered empty",
    )


def test_a_render_that_fails_falls_back_to_the_built_in_part() -> None:
    """Arithmetic on a missing value raises inside Jinja: the built-in body goes instead,
    with a note naming the template, its line and the error."""
    chosen = templates(title="{{ run.spec_name }}!", body="ok\n{{ run.nothing + 1 }}")
    rendered = render_message([sample()], templates=chosen, template="mine")
    assert rendered.title == "invoice-extraction!"
    assert rendered.body.splitlines()[0] == f"Run: {SAMPLE_RUN_ID}"
    [note] = rendered.notes
    assert note.startswith("templates.mine.body: line 2: UndefinedError")
    assert note.endswith("the built-in one was used")


def test_a_template_title_is_one_line_within_the_channel_limit() -> None:
    """A title template's newlines become spaces; it is cut to the channel's title limit."""
    chosen = templates(title="{{ run.spec_name }}\n{{ run.status }} " + "x" * 200)
    rendered = render_message(
        [sample()], MessageLimits(title=40), templates=chosen, template="mine"
    )
    assert rendered.title.startswith("invoice-extraction SUCCEEDED xxx")
    assert len(rendered.title) == 40
    assert rendered.title.endswith("…")


def test_formats_a_template_leaves_out_are_built_in_unless_its_body_stands_in() -> None:
    """html only: Slack gets the built-in Markdown and the email the template's HTML; with a
    body and no html, the body goes everywhere (apprise converts it)."""
    html_only = render_message(
        [sample()], templates=templates(html="<p>{{ run.id }}</p>"), template="mine"
    )
    assert html_only.bodies["html"] == f"<p>{SAMPLE_RUN_ID}</p>"
    assert html_only.bodies["markdown"].startswith(f"**Run:** `{SAMPLE_RUN_ID}`")
    assert html_only.bodies["text"].startswith(f"Run: {SAMPLE_RUN_ID}")
    body_only = render_message([sample()], templates=templates(body="b"), template="mine")
    assert body_only.bodies == {"text": "b"}


def test_html_templates_escape_values() -> None:
    """A value with markup is shown, not interpreted, in an HTML template (autoescape)."""
    event = dataclasses.replace(sample(), reasons=("<script>alert(1)</script>",))
    rendered = render_message(
        [event], templates=templates(html="{{ reasons[0] }}"), template="mine"
    )
    assert rendered.bodies["html"] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert "&lt;script&gt;" in render_message([event]).bodies["html"]


def test_every_fact_of_the_run_is_a_variable() -> None:
    """run.* (runtime params, files...), kind, transition, duration, mark, flags, reasons,
    stuck_for, reminder, run_url."""
    source = (
        "{{ run.id }}|{{ run.status }}|{{ run.spec_version }}|{{ run.dataset_name }}|"
        "{{ run.runtime_params.model }}|{{ run.generated_files[0].path }}|{{ kind }}|"
        "{{ from_status }}>{{ to_status }}|{{ transition }}|{{ duration }}|{{ mark }}|"
        "{{ flags | join(',') }}|{{ reasons | join(';') }}|{{ stuck_for }}|{{ reminder }}|"
        "{{ run_url }}|{{ run.created_by_email }}|{{ failure_rate | percent }}|"
        "{{ run.total_cost | money }}"
    )
    chosen = Templates.build({"all": {"body": source}}, "https://x.test/{{ kind }}/{{ run.id }}")
    event = dataclasses.replace(
        sample("SUCCEEDED"), flags=("cost",), reasons=("$412.00 > $100.00",), stuck_for=7200.0
    )
    rendered = render_message([event], templates=chosen, template="all")
    assert rendered.body.split("|") == [
        SAMPLE_RUN_ID,
        "SUCCEEDED",
        "3",
        "invoices-2024-q4",
        "claude-sonnet-4",
        "samples.jsonl",
        "run",
        "PROCESSING>SUCCEEDED",
        "PROCESSING → SUCCEEDED",
        "42m 17s",
        "✅",
        "cost",
        "$412.00 > $100.00",
        "2h",
        "False",
        f"https://x.test/run/{SAMPLE_RUN_ID}",
        "ada@example.com",
        "0%",
        "$4.12",
    ]
    assert rendered.notes == ()


@pytest.mark.parametrize(
    ("run_id", "kind", "title"),
    [
        (
            "evaluation:ev-1",
            "evaluation",
            "✅ Dataframer evaluation SUCCEEDED: invoice-extraction v3",
        ),
        (
            "red-team:rt-1",
            "red_team",
            "✅ Dataframer red-team run SUCCEEDED: invoice-extraction v3",
        ),
        (SAMPLE_RUN_ID, "run", "✅ Dataframer run SUCCEEDED: invoice-extraction v3"),
    ],
)
def test_the_kind_comes_from_the_id_when_nothing_else_says(
    run_id: str, kind: str, title: str
) -> None:
    """`kind` is read from the alert's canonical reference: one rule for every stage."""
    event = dataclasses.replace(sample(), run_id=run_id)
    chosen = templates(body="{{ kind }}")
    assert render_message([event], templates=chosen, template="mine").body == kind
    assert render_message([event]).title == title


def test_a_broken_run_url_costs_the_link_only() -> None:
    """alerts.run_url that fails to render: no link, a note, the alert intact."""
    chosen = Templates.build({}, "https://x/{{ run.nothing - 1 }}")
    rendered = render_message([sample()], templates=chosen)
    assert "Link:" not in rendered.body
    assert rendered.notes[0].startswith("alerts.run_url: line 1: UndefinedError")


# --- the built-ins ---------------------------------------------------------------------------


def test_a_stuck_alert_and_a_reminder() -> None:
    """STUCK says since when nothing moved; a reminder says still."""
    stuck = sample("STUCK")
    rendered = render_message([stuck])
    assert rendered.title == "⏳ Dataframer run STUCK: invoice-extraction v3"
    assert "Status: STUCK: PROCESSING with no new sample for 1h 12m" in rendered.body.splitlines()
    again = render_message([dataclasses.replace(stuck, reminder=True)])
    assert again.title == "⏳ Dataframer run still STUCK: invoice-extraction v3"
    assert again.body.splitlines()[2].endswith("(reminder)")
    pending = dataclasses.replace(stuck, from_status="PENDING", to_status="PENDING")
    assert "Status: STUCK: PENDING for 1h 12m" in render_message([pending]).body.splitlines()


def test_several_runs_in_one_poll_share_one_message_per_channel_and_template() -> None:
    """compose_messages groups per (channel, template): a route's template is its own
    message; each run of a group message is headed by its template's title."""
    events = [sample("SUCCEEDED"), dataclasses.replace(sample("FAILED"), run_id="r-2")]
    chosen = templates(title="T {{ run_id }}")
    intents = [Intent(0, "a"), Intent(1, "a"), Intent(0, "a", "mine"), Intent(1, "a", "mine")]
    notes = compose_messages(
        events, intents, max_runs_per_message=5, limits={"a": TEXT_ONLY}, templates=chosen
    )
    assert [n.event_indexes for n in notes] == [(0, 1), (0, 1)]
    assert notes[0].title == "2 Dataframer runs finished: 1 FAILED, 1 SUCCEEDED"
    assert notes[1].body.splitlines()[0] == f"T {SAMPLE_RUN_ID}"
    assert "T r-2" in notes[1].body.splitlines()
    assert set(notes[0].bodies) == {"text"}  # only what the channel takes


def test_a_digest_keeps_a_route_template_title_per_run() -> None:
    """A digest of a route with a template: the template's title heads each run's line."""
    events = [dataclasses.replace(sample(), run_id=f"r-{i}") for i in range(3)]
    [digest] = compose_digest(
        events, "a", templates=templates(title="T {{ run_id }}"), template="mine"
    )
    assert [line for line in digest.body.splitlines() if line.startswith("T ")] == [
        "T r-0",
        "T r-1",
        "T r-2",
    ]
    assert digest.title == "Digest: 3 Dataframer runs: 3 SUCCEEDED"


def test_a_test_alert_says_so() -> None:
    """test-notify's message: [test] in the title and a line saying the run is a sample."""
    rendered = render_message([sample()], test=True)
    assert rendered.title.startswith("[test] ✅ Dataframer run SUCCEEDED")
    assert "This is a test alert" in rendered.body.splitlines()[0]
    assert "This is a test alert" in rendered.bodies["html"]


def test_ops_messages_in_every_format() -> None:
    """An ops alert is failure (down) or success (recovered), in each format."""
    down = compose_ops(OpsAlert("team", True, NOW - timedelta(hours=1), NOW, "HTTP 500"), "ops")
    assert down.title == "🚨 dataframer-watcher: channel 'team' is failing"
    assert str(down.notify_type) == "failure"
    assert set(down.bodies) == set(FORMATS)
    assert down.body.splitlines() == [
        "Channel 'team' has been failing since 2026-12-01 11:00:00 UTC (1h).",
        "Last error: HTTP 500",
        "Nothing is lost: its alerts are retried, and go out once it takes them again.",
        "You will hear once more when it recovers.",
    ]
    back = compose_ops(OpsAlert(API, False, NOW - timedelta(hours=2), NOW), "ops")
    assert str(back.notify_type) == "success"
    assert back.body == (
        "The Dataframer API is reachable again, after 2h of failure (since 2026-12-01 11:00:00"
        " UTC)."
    ).replace("11:00", "10:00")


def test_a_long_html_body_is_left_out_rather_than_cut() -> None:
    """Cut HTML is broken HTML: past the limit, the email gets the (cut) text body."""
    limits = MessageLimits(body=2000)
    rendered = render_message([sample()], limits)
    assert "html" not in rendered.bodies
    assert len(rendered.body) <= 2000


# --- helpers and properties -----------------------------------------------------------------


def test_helpers() -> None:
    """money, percent, utc, md: what the filters give, None as blank."""
    assert (money(412), money(1234.5), money(-3), money(None)) == (
        "$412.00",
        "$1,234.50",
        "-$3.00",
        "",
    )
    assert (percent(1 / 3), percent(0.0512, 1), percent(None)) == ("33%", "5.1%", "")
    assert utc_time(datetime(2025, 3, 1, 10, 0)) == "2025-03-01 10:00:00 UTC"
    assert markdown_escape("<!here> *x*") == "\\<!here\\> \\*x\\*"


run_fields = st.fixed_dictionaries(
    {"id": st.text(min_size=1, max_size=40)},
    optional={
        "status": st.sampled_from(["SUCCEEDED", "FAILED", "CANCELED", "WEIRD", ""]),
        "spec_name": st.text(max_size=60),
        "spec_version": st.integers(-5, 10**6),
        "samples_completed": st.integers(0, 10**9),
        "samples_failed": st.integers(0, 10**9),
        "total_cost": st.floats(allow_nan=False, allow_infinity=False, width=32),
        "created_by_email": st.text(max_size=40),
        "dataset_name": st.text(max_size=40),
        "runtime_params": st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
        "generated_files": st.lists(
            st.fixed_dictionaries(
                {}, optional={"path": st.text(max_size=20), "size_bytes": st.integers(0, 10**12)}
            ),
            max_size=12,
        ),
    },
)


@settings(max_examples=150, deadline=None, database=None)
@given(
    fields=run_fields,
    kind=st.sampled_from(list(EventKind)),
    flags=st.lists(st.sampled_from(["quality", "cost"]), max_size=2, unique=True),
    stuck_for=st.none() | st.floats(0, 10**7),
    status=st.sampled_from(SAMPLE_STATUSES),
)
def test_any_alert_renders_in_every_format_and_names_its_run(
    fields: dict[str, object],
    kind: EventKind,
    flags: list[str],
    stuck_for: float | None,
    status: str,
) -> None:
    """Whatever the API said, every format renders, the title fits, the text names the run."""
    run = Run.model_validate(fields)
    event = Event(
        run_id=run.id,
        kind=kind,
        from_status="PROCESSING",
        to_status=run.status or status,
        at=NOW,
        alert=True,
        run=run,
        flags=tuple(flags),
        stuck_for=stuck_for,
    )
    rendered = render_message([event], MessageLimits(title=60, body=5000))
    assert set(rendered.bodies) <= set(FORMATS)
    assert "text" in rendered.bodies
    assert len(rendered.title) <= 60
    assert rendered.body.startswith(f"Run: {run.id}")
    assert all(len(body) <= 5000 for body in rendered.bodies.values())
    _, blanks = render_template(compile_template("{{ run.id }}{{ nope }}"), {"run": fields})
    assert blanks == ("nope",)

"""What each channel really receives: the email as aiosmtpd got it (subject, HTML part, text
part), the JSON a webhook got (title, body, type), and the payload apprise posts to Slack (its
server is the one thing mocked), for every kind of message the watcher sends.

Each message is composed as the pipeline composes it (`watcher.render`, with the channel's
limits and formats from `message_limits`) and sent through the real `Sender`.
"""

from __future__ import annotations

import dataclasses
import email.message
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from typing import Any

import apprise.plugins.slack
import pytest

from tests.support import SmtpSink, WebhookSink, run_ids_in, statuses_in
from watcher.deliver.sender import Sender, message_limits
from watcher.events import Event, EventKind, Intent, Notification
from watcher.models import Run
from watcher.ops import API, OpsAlert
from watcher.render import compose_digest, compose_messages, compose_ops
from watcher.templates import Templates

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RUN_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
SLACK = "slack://TokenA/TokenB/TokenC/#ml-runs"
LINKS = Templates.build({}, "https://app.example.com/runs/{{ run.id }}")


def run(status: str, run_id: str = RUN_ID, **fields: Any) -> Run:
    values: dict[str, Any] = {
        "id": run_id,
        "status": status,
        "spec_name": "invoice-extraction",
        "spec_version": 3,
        "dataset_name": "invoices-2024",
        "samples_completed": 6,
        "samples_failed": 0,
        "total_cost": 4.12,
        "created_at": NOW - timedelta(hours=1, minutes=5),
        "completed_at": NOW,
        "created_by_email": "ada@example.com",
    }
    values.update(fields)
    return Run.model_validate(values)


def finished(status: str, run_id: str = RUN_ID, **fields: Any) -> Event:
    return Event(
        run_id=run_id,
        kind=EventKind.TRANSITION,
        from_status="PROCESSING",
        to_status=status,
        at=NOW,
        alert=True,
        run=run(status, run_id, **fields),
        previous_since=NOW - timedelta(hours=1),
    )


def stuck() -> Event:
    return Event(
        run_id=RUN_ID,
        kind=EventKind.STUCK,
        from_status="PROCESSING",
        to_status="PROCESSING",
        at=NOW,
        alert=True,
        run=run("PROCESSING", completed_at=None, samples_completed=3),
        previous_since=NOW - timedelta(hours=3),
        stuck_for=2 * 3600.0,
    )


@dataclass
class Received:
    """What the three channels got for one message."""

    mail: email.message.Message
    webhook: dict[str, Any]
    slack: dict[str, Any]

    @property
    def subject(self) -> str:
        return str(make_header(decode_header(self.mail["Subject"])))

    @property
    def html(self) -> str:
        return _part(self.mail, "text/html")

    @property
    def text(self) -> str:
        return _part(self.mail, "text/plain")


def _part(message: email.message.Message, kind: str) -> str:
    for part in message.walk():
        if part.get_content_type() == kind:
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError(f"no {kind} part in {message.get_content_type()}")


class Channels:
    """An email, a webhook and a Slack channel, and one sender."""

    def __init__(self, smtp: SmtpSink, hook: WebhookSink, slack: list[dict[str, Any]]) -> None:
        self.smtp, self.hook, self.slack = smtp, hook, slack
        self.urls = {"mail": smtp.url, "hook": hook.url(), "slack": SLACK}

    async def send(self, compose: Any) -> Received:
        """`compose(channel, limits)` -> the Notification for that channel; each is sent, and
        what each received for it returned."""
        seen = (len(self.smtp.messages), len(self.hook.posts), len(self.slack))
        sender = Sender(concurrency=3, timeout=5)
        try:
            for name, url in self.urls.items():
                note: Notification = compose(name, message_limits([url]))
                outcome = await sender.send(
                    [url],
                    note.title,
                    note.body,
                    notify_type=note.notify_type,
                    bodies=note.bodies,
                )
                assert outcome.ok, (name, outcome.reason)
        finally:
            sender.close()
        [mail] = self.smtp.messages[seen[0] :]
        [hook] = self.hook.posts[seen[1] :]
        [slack] = self.slack[seen[2] :]
        return Received(mail, hook, slack)


class _SlackAnswer:
    status_code = 200
    content = b"ok"


@pytest.fixture
def channels(monkeypatch: pytest.MonkeyPatch) -> Iterator[Channels]:
    posts: list[dict[str, Any]] = []
    # apprise's plugins share one `requests` module: only Slack's server is answered here.
    real = apprise.plugins.slack.requests.request

    def fake_request(method: str, url: str, **kwargs: Any) -> Any:
        if not url.startswith("https://hooks.slack.com/"):
            return real(method, url, **kwargs)
        posts.append(json.loads(kwargs["data"]))
        return _SlackAnswer()

    monkeypatch.setattr(apprise.plugins.slack.requests, "request", fake_request)
    with SmtpSink() as smtp, WebhookSink() as hook:
        yield Channels(smtp, hook, posts)


def single(event: Event) -> Any:
    def compose(channel: str, limits: Any) -> Notification:
        [note] = compose_messages(
            [event],
            [Intent(0, channel)],
            max_runs_per_message=5,
            limits={channel: limits},
            templates=LINKS,
        )
        return note

    return compose


def slack_text(received: Received) -> str:
    return str(received.slack["attachments"][0]["text"])


async def test_a_success(channels: Channels) -> None:
    """Subject, a green HTML card, a text part that reads line by line, Slack markdown."""
    got = await channels.send(single(finished("SUCCEEDED")))
    title = "✅ Dataframer run SUCCEEDED: invoice-extraction v3"
    assert got.subject == title
    assert "border-top:4px solid #16a34a" in got.html
    assert RUN_ID in got.html
    assert got.mail.get_content_type() == "multipart/alternative"
    assert 'href="https://app.example.com/runs/' + RUN_ID + '"' in got.html
    text = got.text.splitlines()
    assert text[0] == title
    assert f"Run: {RUN_ID}" in text
    assert "Status: PROCESSING → SUCCEEDED" in text
    assert "Duration: 1h 5m" in text
    assert f"Link: https://app.example.com/runs/{RUN_ID}" in text
    assert got.webhook["title"] == title
    assert got.webhook["type"] == "success"
    assert got.webhook["message"].splitlines()[0] == f"Run: {RUN_ID}"
    assert "Samples: 6 completed, 0 failed" in got.webhook["message"].splitlines()
    attachment = got.slack["attachments"][0]
    assert attachment["title"] == title
    assert got.slack["mrkdwn"] is True
    assert f"*Run:* `{RUN_ID}`" in slack_text(got)
    assert f"<https://app.example.com/runs/{RUN_ID}|Open the run in Dataframer>" in slack_text(got)
    assert attachment["color"] == "#3AA337"


async def test_a_failure_with_partial_samples(channels: Channels) -> None:
    """A failure says how many samples made it; failure everywhere (red, type failure)."""
    event = finished("FAILED", samples_completed=412, samples_failed=88)
    got = await channels.send(single(event))
    assert got.subject == "❌ Dataframer run FAILED: invoice-extraction v3"
    assert "border-top:4px solid #dc2626" in got.html
    assert "Samples: 412 completed, 88 failed" in got.text.splitlines()
    assert got.webhook["type"] == "failure"
    assert "Samples: 412 completed, 88 failed" in got.webhook["message"]
    assert "*Samples:* 412 completed, 88 failed" in slack_text(got)
    assert got.slack["attachments"][0]["color"] == "#A32037"


async def test_a_cancellation(channels: Channels) -> None:
    """A cancellation is a warning (amber), with its transition."""
    got = await channels.send(single(finished("CANCELED", samples_completed=2)))
    assert got.subject == "⛔ Dataframer run CANCELED: invoice-extraction v3"
    assert "border-top:4px solid #d97706" in got.html
    assert "Status: PROCESSING → CANCELED" in got.text.splitlines()
    assert got.webhook["type"] == "warning"
    assert statuses_in([got.webhook["message"]]) == {RUN_ID: ["PROCESSING → CANCELED"]}


async def test_a_stuck_run_and_its_final_alert(channels: Channels) -> None:
    """The STUCK alert says how long nothing moved; the run's final alert says it was stuck."""
    got = await channels.send(single(stuck()))
    assert got.subject == "⏳ Dataframer run STUCK: invoice-extraction v3"
    line = "Status: STUCK: PROCESSING with no new sample for 2h"
    assert line in got.text.splitlines()
    assert line in got.webhook["message"].splitlines()
    assert got.webhook["type"] == "warning"
    assert "*Status:* STUCK: PROCESSING with no new sample for 2h" in slack_text(got)

    final = dataclasses.replace(finished("SUCCEEDED"), stuck_for=2 * 3600.0)
    got = await channels.send(single(final))
    assert "Stuck: was stuck for 2h before this" in got.webhook["message"].splitlines()
    assert "⏳ Stuck: was stuck for 2h before this" in got.text.splitlines()
    assert "Was stuck for 2h before this." in slack_text(got)
    assert got.webhook["type"] == "success"


async def test_a_quality_flag(channels: Channels) -> None:
    """A flagged success names the flag in its title and says why, in every format."""
    event = dataclasses.replace(
        finished("SUCCEEDED", samples_completed=4, samples_failed=2),
        flags=("quality",),
        reasons=("33% of samples failed (2 of 6)",),
    )
    got = await channels.send(single(event))
    title = "✅ Dataframer run SUCCEEDED (quality): invoice-extraction v3"
    assert (got.subject, got.webhook["title"]) == (title, title)
    assert "⚠️ Flagged: 33% of samples failed (2 of 6)" in got.text.splitlines()
    assert "Flagged: 33% of samples failed (2 of 6)" in got.webhook["message"].splitlines()
    assert "> ⚠️ *33% of samples failed (2 of 6)*" in slack_text(got)
    assert got.webhook["type"] == "success"  # a flag does not change the status's type


async def test_a_cost_flag(channels: Channels) -> None:
    """A cost flag says the cost and the threshold it passed."""
    event = dataclasses.replace(
        finished("FAILED", total_cost=412.0), flags=("cost",), reasons=("$412.00 > $100.00",)
    )
    got = await channels.send(single(event))
    assert got.subject == "❌ Dataframer run FAILED (cost): invoice-extraction v3"
    assert "⚠️ Flagged: $412.00 &gt; $100.00" in got.html
    assert "⚠️ Flagged: $412.00 > $100.00" in got.text.splitlines()
    assert "Flagged: $412.00 > $100.00" in got.webhook["message"].splitlines()
    assert "> ⚠️ *$412.00 &gt; $100.00*" in slack_text(got)  # escaped, then Slack's &gt;


async def test_a_digest_of_12_runs(channels: Channels) -> None:
    """One message naming all 12 runs by full id, counts per status, the worst type."""
    ids = [f"{n:08d}-0d44-4b50-8888-8dd25736052a" for n in range(12)]
    statuses = ["SUCCEEDED"] * 9 + ["FAILED"] * 2 + ["CANCELED"]
    events = [finished(s, i) for s, i in zip(statuses, ids, strict=True)]

    def compose(channel: str, limits: Any) -> Notification:
        [note] = compose_digest(events, channel, limits=limits, templates=LINKS)
        assert note.event_indexes == tuple(range(12))
        return note

    got = await channels.send(compose)
    title = "Digest: 12 Dataframer runs: 1 CANCELED, 2 FAILED, 9 SUCCEEDED"
    assert (got.subject, got.webhook["title"]) == (title, title)
    assert got.webhook["type"] == "failure"
    for text in (got.text, got.webhook["message"]):
        assert run_ids_in([text]) == ids
        assert (
            "12 alerts held back (a burst, or quiet hours): 1 CANCELED, 2 FAILED, 9 SUCCEEDED"
            in text
        )
    assert statuses_in([got.text])[ids[9]] == ["PROCESSING → FAILED"]
    for run_id in ids:
        assert f"`{run_id}`" in slack_text(got)
        assert run_id in got.html


@pytest.mark.parametrize("down", [True, False])
async def test_an_ops_alert_and_its_recovery(channels: Channels, down: bool) -> None:
    """The API down: failure, since when, the last error; back: success, how long it lasted."""
    alert = OpsAlert(API, down, NOW - timedelta(minutes=12), NOW, "HTTP 503" if down else None)
    got = await channels.send(lambda channel, limits: compose_ops(alert, channel, limits=limits))
    if down:
        title = "🚨 dataframer-watcher: the Dataframer API is unreachable"
        assert got.webhook["type"] == "failure"
        assert "Last error: HTTP 503" in got.webhook["message"].splitlines()
        assert "Last error: HTTP 503" in got.text.splitlines()
        assert "*Last error:* `HTTP 503`" in slack_text(got)
        sentence = "The Dataframer API has been unreachable since 2026-12-01 11:48:00 UTC (12m)."
    else:
        title = "✅ dataframer-watcher: the Dataframer API is reachable again"
        assert got.webhook["type"] == "success"
        sentence = (
            "The Dataframer API is reachable again, after 12m of failure"
            " (since 2026-12-01 11:48:00 UTC)."
        )
    assert (got.subject, got.webhook["title"]) == (title, title)
    assert got.slack["attachments"][0]["title"] == title
    assert sentence in got.text.splitlines()
    assert got.webhook["message"].splitlines()[0] == sentence
    assert sentence in slack_text(got)

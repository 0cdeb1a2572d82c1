"""Sender against real loopback receivers: the JSON apprise posts, SMTP, timeouts, redaction."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import apprise.plugins.slack
import pytest
import structlog

from tests.support import Answer, SmtpSink, WebhookSink, free_port
from watcher.deliver.sender import Sender, message_limits
from watcher.events import MessageLimits, NotifyType

TIMEOUT = 0.5


@pytest.fixture
def sender() -> Iterator[Sender]:
    s = Sender(concurrency=4, timeout=TIMEOUT)
    yield s
    s.close()


@pytest.fixture
def receiver() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


async def test_json_posts_exactly_apprises_payload(sender: Sender, receiver: WebhookSink) -> None:
    """json:// posts {"version","title","message","attachments","type"} as JSON, once."""
    outcome = await sender.send([receiver.url("runs/alerts")], "Run FAILED", "run r-1 failed")

    assert (outcome.ok, outcome.accepted, outcome.reason) == (True, frozenset({0}), None)
    assert receiver.posts == [
        {
            "version": "1.0",
            "title": "Run FAILED",
            "message": "run r-1 failed",
            "attachments": [],
            "type": "info",
        }
    ]
    assert [(r.path, r.content_type) for r in receiver.requests] == [
        ("/runs/alerts", "application/json")
    ]


async def test_http_500_is_a_failure_with_its_status_then_a_retry_succeeds(
    sender: Sender, receiver: WebhookSink
) -> None:
    """A 5xx answer fails the URL with "HTTP 500 ..."; the next send goes through."""
    receiver.plan(500, 503)

    first = await sender.send([receiver.url()], "t", "b")
    second = await sender.send([receiver.url()], "t", "b")
    third = await sender.send([receiver.url()], "t", "b")

    assert (first.ok, first.accepted) == (False, frozenset())
    assert first.reason == "JSON: HTTP 500 Internal Server Error"
    assert second.reason == "JSON: HTTP 503 Service Unavailable"
    assert third.ok
    assert len(receiver.requests) == 3


async def test_refused_connection_is_reported_as_such(sender: Sender) -> None:
    """Nothing listening: the reason says so, from apprise's socket error."""
    outcome = await sender.send([f"json://127.0.0.1:{free_port()}/hook"], "t", "b")

    assert not outcome.ok
    assert outcome.reason == "JSON: connection refused"


async def test_a_hung_webhook_times_out_without_blocking_the_loop(
    sender: Sender, receiver: WebhookSink
) -> None:
    """A send that hangs fails with "timed out after 0.5s" while other sends go on.

    The hung thread finishes once the server answers; its message did arrive, so the retry
    delivers it a second time: the documented duplicate of a send that outlives its timeout.
    """
    healthy = WebhookSink().start()
    try:
        receiver.plan(Answer(hang=True))  # held, then taken: a server slower than our timeout
        hung_task = asyncio.create_task(sender.send([receiver.url()], "t", "late"))
        quick = await sender.send([healthy.url()], "t", "quick")

        assert quick.ok
        assert not hung_task.done()
        hung = await hung_task
        assert (hung.ok, hung.reason) == (False, "timed out after 0.5s")

        receiver.release()
        retry = await sender.send([receiver.url()], "t", "late")
        assert retry.ok
        assert [r.message for r in receiver.requests] == ["late", "late"]
    finally:
        healthy.stop()


async def test_a_send_queued_behind_busy_threads_never_runs_after_its_timeout(
    receiver: WebhookSink,
) -> None:
    """With every thread busy, a send times out unstarted, and is cancelled, not run later."""
    sender = Sender(concurrency=1, timeout=TIMEOUT)
    try:
        receiver.plan(Answer(hang=True))
        hung, queued = await asyncio.gather(
            sender.send([receiver.url()], "t", "hung"),
            sender.send([receiver.url()], "t", "queued"),
        )
        assert hung.reason == "timed out after 0.5s"
        assert queued.reason == "not started within 0.5s: all 1 sender threads were busy"

        receiver.release()
        # The one thread runs work in order: had "queued" survived, it would arrive first.
        assert (await sender.send([receiver.url()], "t", "after")).ok
        assert [r.message for r in receiver.requests] == ["hung", "after"]
    finally:
        sender.close()


async def test_mailto_delivers_to_a_real_smtp_server(sender: Sender, smtp: SmtpSink) -> None:
    """mailto:// speaks plain SMTP: the title is the subject, the body the text."""
    outcome = await sender.send([smtp.url], "Run SUCCEEDED", "run r-2 succeeded")

    assert outcome.ok
    [message] = smtp.messages
    assert message["Subject"] == "Run SUCCEEDED"
    assert message["To"] == "oncall@example.com"
    assert "watcher@example.com" in message["From"]
    texts = [part.get_payload(decode=True) for part in message.walk() if not part.is_multipart()]
    assert any(b"run r-2 succeeded" in text for text in texts if isinstance(text, bytes))


async def test_smtp_down_then_back(sender: Sender) -> None:
    """No SMTP server: a failed outcome naming the refusal; once it listens, the send works."""
    server = SmtpSink()

    down = await sender.send([server.url], "t", "b")
    assert (down.ok, down.reason) == (False, "E-Mail: connection refused")

    server.start()
    try:
        up = await sender.send([server.url], "t", "b")
        assert up.ok
        assert len(server.messages) == 1
    finally:
        server.stop()


async def test_a_silent_smtp_server_times_out(sender: Sender) -> None:
    """A server that accepts the connection and never greets: "timed out after 0.5s"."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        url = f"mailto://127.0.0.1:{port}?from=a@example.com&to=b@example.com"
        task = asyncio.create_task(sender.send([url], "t", "b"))
        conn, _ = await asyncio.to_thread(listener.accept)
        with conn:
            outcome = await task
        # Closing the connection ends the client thread still waiting for a greeting.

    assert (outcome.ok, outcome.reason) == (False, "timed out after 0.5s")


async def test_smtp_rejection_carries_the_servers_reply(sender: Sender) -> None:
    """A recipient the server refuses: the reason is its SMTP reply code and text."""
    server = SmtpSink(refuse=True).start()
    try:
        outcome = await sender.send([server.url], "t", "b")
    finally:
        server.stop()

    assert outcome.reason == "E-Mail: SMTP 550 5.1.1 no such user"


class _SlackAnswer:
    def __init__(self, status: int, content: bytes) -> None:
        self.status_code = status
        self.content = content


async def test_slack_webhook_payload(sender: Sender, monkeypatch: pytest.MonkeyPatch) -> None:
    """slack://TokenA/TokenB/TokenC/#ml-runs posts title, body and channel to the webhook."""
    posts: list[dict[str, Any]] = []

    def fake_request(method: str, url: str, **kwargs: Any) -> _SlackAnswer:
        posts.append({"method": method, "url": url, "json": json.loads(kwargs["data"])})
        return _SlackAnswer(200, b"ok")

    monkeypatch.setattr(apprise.plugins.slack.requests, "request", fake_request)

    outcome = await sender.send(
        ["slack://TokenA/TokenB/TokenC/#ml-runs"], "Run FAILED: spec-x", "run r-3 failed"
    )

    assert outcome.ok
    [post] = posts
    assert post["method"] == "post"
    assert post["url"] == "https://hooks.slack.com/services/TokenA/TokenB/TokenC"
    assert isinstance(post["json"]["attachments"][0].pop("ts"), float)
    icon = (
        "https://github.com/caronc/apprise/raw/master"
        "/apprise/assets/themes/default/apprise-info-72x72.png"
    )
    assert post["json"] == {
        "mrkdwn": False,  # we send plain text (body_format=TEXT), not markdown
        "attachments": [
            {
                "title": "Run FAILED: spec-x",
                "text": "run r-3 failed",
                "color": "#3AA3E3",
                "footer_icon": icon,
                "footer": "Apprise",
            }
        ],
        "icon_url": icon,
        "channel": "#ml-runs",
    }


async def test_slack_shows_the_notify_type(sender: Sender, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure goes to Slack in apprise's failure colour and icon, not as information."""
    posts: list[dict[str, Any]] = []

    def fake_request(method: str, url: str, **kwargs: Any) -> _SlackAnswer:
        posts.append(json.loads(kwargs["data"]))
        return _SlackAnswer(200, b"ok")

    monkeypatch.setattr(apprise.plugins.slack.requests, "request", fake_request)
    for notify_type in (NotifyType.FAILURE, NotifyType.SUCCESS, NotifyType.WARNING):
        outcome = await sender.send(
            ["slack://TokenA/TokenB/TokenC/#ml-runs"], "t", "b", notify_type=notify_type
        )
        assert outcome.ok

    colours = [post["attachments"][0]["color"] for post in posts]
    icons = [post["icon_url"].rsplit("/", 1)[1] for post in posts]
    assert colours == ["#A32037", "#3AA337", "#CACF29"]
    assert icons == [f"apprise-{kind}-72x72.png" for kind in ("failure", "success", "warning")]


@pytest.mark.parametrize(
    ("url", "status", "content", "reason"),
    [
        (
            "slack://TokenA1x/TokenB2y/TokenC3z/#ml-runs",
            404,
            b"no_service",
            "Slack: HTTP 404 Not Found (no_service)",
        ),
        (
            "slack://xoxb-1234-5678-Tok3nTok3n/#ml-runs",
            200,
            b'{"ok": false, "error": "channel_not_found"}',
            "Slack: HTTP 200 OK, refused (channel_not_found)",
        ),
    ],
)
async def test_slack_failures_give_the_status_and_slacks_error_code(
    sender: Sender,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    status: int,
    content: bytes,
    reason: str,
) -> None:
    """A webhook 404, or a bot-API 200 with ok: false: the reason names Slack's error code,
    never the tokens."""
    requested: list[str] = []

    def fake_request(method: str, url: str, **kwargs: Any) -> _SlackAnswer:
        requested.append(url)
        return _SlackAnswer(status, content)

    monkeypatch.setattr(apprise.plugins.slack.requests, "request", fake_request)

    outcome = await sender.send([url], "t", "b")

    assert outcome.reason == reason
    assert requested  # the plugin did call out, through the patched function


async def test_two_urls_one_failing_then_a_retry_skips_the_good_one(
    sender: Sender, receiver: WebhookSink
) -> None:
    """accepted has the URL that took the message; the retry sends only to the other."""
    bad = WebhookSink(default=500).start()
    try:
        urls = [receiver.url(), bad.url()]

        first = await sender.send(urls, "t", "b")
        assert (first.ok, first.accepted) == (False, frozenset({0}))
        assert first.reason == "url 1: JSON: HTTP 500 Internal Server Error"

        second = await sender.send(urls, "t", "b", skip=first.accepted)
        assert (second.ok, second.accepted) == (False, frozenset({0}))

        bad.set_default(200)
        third = await sender.send(urls, "t", "b", skip=second.accepted)
        assert (third.ok, third.accepted, third.reason) == (True, frozenset({0, 1}), None)

        assert len(receiver.requests) == 1
        assert len(bad.requests) == 3
    finally:
        bad.stop()


async def test_a_url_apprise_cannot_read_fails_without_raising(sender: Sender) -> None:
    """An unknown scheme is one failed URL with a plain reason, not an exception."""
    outcome = await sender.send(["nosuchservice://user:hunter22@host/path"], "t", "b")

    assert outcome.reason == "not a URL apprise can use"


class _RootRecords(logging.Handler):
    """What a handler on the root logger (where the app's log routing sits) receives."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_records() -> Iterator[list[logging.LogRecord]]:
    root = logging.getLogger()
    handler, level = _RootRecords(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler.records
    root.removeHandler(handler)
    root.setLevel(level)


async def test_failures_leak_no_secret_into_reasons_or_logs(
    root_records: list[logging.LogRecord],
) -> None:
    """Passwords, tokens, custom headers and parameters, given secrets: none reach any text.

    apprise logs at DEBUG (its lines hold the Slack webhook URL, for one); none of them may
    reach our handlers, and the reasons we build from them are redacted.
    """
    secrets = ["SuperSecretPw1", "TopSecretTok", "HeaderSecret99", "GivenSecret77", "MailPassw0rd"]
    refusing = WebhookSink(default=500).start()
    smtp = SmtpSink().start()
    sender = Sender(concurrency=4, timeout=TIMEOUT, secrets=["GivenSecret77"])
    urls = [
        refusing.url("GivenSecret77/hook", auth="user:SuperSecretPw1", query="-token=TopSecretTok"),
        f"json://user:SuperSecretPw1@127.0.0.1:{free_port()}/hook"
        "?-token=TopSecretTok&+X-Api-Key=HeaderSecret99",
        f"mailto://user:MailPassw0rd@127.0.0.1:{smtp.port}?from=a@example.com&to=b@example.com",
    ]
    try:
        with structlog.testing.capture_logs() as events:
            outcome = await sender.send(urls, "t", "b")
        logging.getLogger("tests.probe").debug("probe")  # the root handler does see records
    finally:
        sender.close()
        smtp.stop()
        refusing.stop()

    assert outcome.reason is not None
    assert outcome.reason.split("; ") == [
        "url 0: JSON: HTTP 500 Internal Server Error",
        "url 1: JSON: connection refused",
        "url 2: E-Mail: SMTP AUTH extension not supported by server.",
    ]
    assert "probe" in [r.getMessage() for r in root_records]
    ours = [r for r in root_records if not r.name.startswith("mail.log")]  # the SMTP server's
    texts = [outcome.reason, *(str(e) for e in events), *(r.getMessage() for r in ours)]
    assert not [text for text in texts for secret in secrets if secret in text]
    assert not [r.name for r in ours if r.name.startswith(("apprise", "urllib3"))]


def test_close_is_idempotent_and_a_closed_sender_fails_softly() -> None:
    """After close, a send is a failed outcome (no exception), and close may be called again."""
    sender = Sender(concurrency=1, timeout=TIMEOUT)
    sender.close()
    sender.close()

    outcome = asyncio.run(sender.send(["json://127.0.0.1:9/x"], "t", "b"))

    assert (outcome.ok, outcome.reason) == (False, "sender is closed")


@pytest.mark.parametrize(("concurrency", "timeout"), [(0, 1.0), (1, 0.0)])
def test_bad_settings_are_rejected(concurrency: int, timeout: float) -> None:
    """Zero threads or a zero timeout is a programming error, raised at once."""
    with pytest.raises(ValueError, match="must be"):
        Sender(concurrency=concurrency, timeout=timeout)


@pytest.mark.parametrize(
    ("urls", "expected"),
    [
        (["json://127.0.0.1/hook"], MessageLimits(title=80, body=32_768)),
        (["discord://1234/abcd"], MessageLimits(title=80, body=2_000)),
        (["json://127.0.0.1/hook", "pover://user@token"], MessageLimits(title=80, body=1_024)),
        # Telegram has no title: apprise puts it before the body, so the body has less room.
        (["tgram://123456789:abcdefg_hijklmnop/123"], MessageLimits(title=80, body=4_096 - 82)),
        (["ntfy://host/topic"], MessageLimits(title=80, body=7_800)),
        ([], MessageLimits(title=80, body=32_768)),
    ],
)
def test_message_limits_come_from_what_apprise_knows_of_each_service(
    urls: list[str], expected: MessageLimits
) -> None:
    """A channel's limits are the smallest of its URLs' (apprise's body_maxlen, title_maxlen)."""
    found = message_limits(urls)
    assert (found.title, found.body) == (expected.title, expected.body)


@pytest.mark.parametrize(
    ("urls", "formats"),
    [
        (["json://127.0.0.1/hook"], {"text"}),
        (["slack://TokenA/TokenB/TokenC/#ml-runs"], {"text", "markdown"}),
        (["mailto://127.0.0.1:2525?from=a@example.com&to=b@example.com"], {"text", "html"}),
        (["tgram://123456789:abcdefg_hijklmnop/123"], {"text", "html"}),
        # A URL's own format= wins over the service's default, as apprise decides it.
        (["slack://TokenA/TokenB/TokenC/#ml-runs?format=text"], {"text"}),
        (
            ["json://127.0.0.1/hook?format=markdown", "mailto://127.0.0.1?from=a@example.com"],
            {"text", "markdown", "html"},
        ),
        ([], {"text"}),
    ],
)
def test_a_channel_takes_the_formats_its_services_take_best(
    urls: list[str], formats: set[str]
) -> None:
    """Per URL the format apprise would resolve (the URL's format=, else the service's own
    first), and text always: the bodies a message for that channel carries."""
    assert message_limits(urls).formats == frozenset(formats)


async def test_each_url_gets_the_body_its_service_takes(
    sender: Sender, receiver: WebhookSink, smtp: SmtpSink
) -> None:
    """One message, three URLs: the email an HTML part (and apprise's text part), the same
    email with format=text the plain body alone, json:// the plain body; without an HTML body
    the email is plain text."""
    bodies = {"text": "Run: r-1\nplain", "html": "<div>Run: r-1</div><div>rich</div>"}
    urls = [smtp.url, smtp.url + "&format=text", receiver.url()]
    outcome = await sender.send(urls, "t", bodies["text"], bodies=bodies)
    assert outcome.ok, outcome.reason
    rich, plain = sorted(smtp.messages, key=lambda m: m.get_content_type())
    assert rich.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in rich.get_payload()] == ["text/plain", "text/html"]
    part = [p.get_payload(decode=True).decode().replace("\r\n", "\n") for p in rich.get_payload()]
    assert part == ["Run: r-1\nrich", bodies["html"]]
    assert plain.get_content_type() == "text/plain"
    assert plain.get_payload(decode=True).decode().replace("\r\n", "\n").strip() == bodies["text"]
    assert receiver.messages == [bodies["text"]]

    assert (await sender.send([smtp.url], "t", "only text", bodies={"text": "only text"})).ok
    assert smtp.messages[-1].get_content_type() == "text/plain"

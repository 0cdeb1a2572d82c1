"""Redaction: secrets never reach logs, CLI output or exceptions."""

from __future__ import annotations

import logging
import string
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from watcher.logs import SecretScrubber
from watcher.plugins import apprise_plugin
from watcher.redact import (
    MASK,
    MIN_SECRET_LENGTH,
    mask,
    redact_text,
    redact_url,
    redact_value,
    scrubbable,
    url_secrets,
    value_secrets,
)

PROPERTIES = settings(database=None, max_examples=200, deadline=None)

# (url, secrets it holds, pieces that must stay readable)
KNOWN_URLS = [
    pytest.param(
        "slack://TokenA/TokenB/TokenC/#chan",
        ["TokenA", "TokenB", "TokenC"],
        ["slack://", "chan"],
        id="slack",
    ),
    pytest.param(
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ml-runs",
        ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"],
        ["slack://", "ml-runs"],
        id="slack-real-shape",
    ),
    pytest.param(
        "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
        ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"],
        ["slack://"],
        id="slack-native-webhook",
    ),
    pytest.param(
        "mailtos://user:pass@smtp.example.com?to=oncall@example.com",
        ["pass"],
        ["mailtos://user:", "smtp.example.com", "oncall"],
        id="mailtos",
    ),
    pytest.param(
        "mailto://alerts:S3cret-Passw0rd@127.0.0.1:2525?from=a@example.com&to=b@example.com",
        ["S3cret-Passw0rd"],
        ["mailto://alerts:", "127.0.0.1:2525", "from="],
        id="mailto-password",
    ),
    pytest.param(
        "json://hooks.example.com/path?+X-Token=abcdef123456&-apikey=qwertyuiop&+Accept=json",
        ["abcdef123456", "qwertyuiop"],
        ["json://hooks.example.com/path", "X-Token=", "-apikey="],
        id="json-custom-header-and-param",
    ),
    pytest.param(
        "json://user:hunter2hunter@localhost:8080/hooks/8f3a9c2d1e7b?+Authorization=Bearer%20zzTOKENzz99",
        ["hunter2hunter", "8f3a9c2d1e7b", "zzTOKENzz99", "Bearer zzTOKENzz99"],
        ["json://user:", "localhost:8080/hooks/"],
        id="json-password-path-token-bearer",
    ),
    pytest.param(
        "discord://1234567890/abcdefTOKENabcdef1234567890",
        ["1234567890", "abcdefTOKENabcdef1234567890"],
        ["discord://"],
        id="discord",
    ),
    pytest.param(
        "tgram://123456789:ABCdefGhIJKlmNoPQRsTUVwxyZ/987654321",
        ["ABCdefGhIJKlmNoPQRsTUVwxyZ"],
        ["tgram://"],
        id="telegram",
    ),
    pytest.param(
        "ntfy://user:pass1234@ntfy.sh/topic",
        ["pass1234"],
        ["ntfy://user:", "ntfy.sh/topic"],
        id="ntfy",
    ),
    pytest.param(
        "pover://userkey1234567890abcdefghijklm@apptoken1234567890abcdefghijk",
        ["userkey1234567890abcdefghijklm", "apptoken1234567890abcdefghijk"],
        ["pover://"],
        id="pushover",
    ),
]


@pytest.mark.parametrize(("url", "secrets", "visible"), KNOWN_URLS)
def test_redact_url_hides_every_secret(url: str, secrets: list[str], visible: list[str]) -> None:
    """apprise's privacy mode plus our own masking leave no secret and keep the shape."""
    redacted = redact_url(url)
    for secret in secrets:
        assert secret not in redacted
        assert quote(secret, safe="") not in redacted
    for piece in visible:
        assert piece in redacted


@pytest.mark.parametrize(("url", "secrets", "visible"), KNOWN_URLS)
def test_url_secrets_lists_what_redact_url_hides(
    url: str, secrets: list[str], visible: list[str]
) -> None:
    """url_secrets names the hidden values, so logs can be scrubbed of them anywhere."""
    found = url_secrets(url)
    for secret in secrets:
        assert secret in found
    redacted = redact_url(url)
    assert all(value not in redacted for value in found)
    assert redact_text(f"sending to {url} failed", found).count(MASK) >= 1
    for secret in secrets:
        assert secret not in redact_text(f"sending to {url} failed: {secret}", found)


def test_custom_header_and_param_values_are_masked() -> None:
    """apprise leaves +Header= and -param= values in clear; we do not."""
    url = "json://example.com/hook?+X-Api-Key=verysecretvalue&-token=anothersecret"
    plugin = apprise_plugin(url)
    assert plugin is not None
    assert "verysecretvalue" in plugin.url(privacy=True)  # the apprise behaviour we correct
    redacted = redact_url(url)
    assert "verysecretvalue" not in redacted
    assert "anothersecret" not in redacted
    assert "X-Api-Key=ve***" in redacted


def test_apprise_defaults_the_user_did_not_write_are_dropped() -> None:
    """The redacted form shows the user's own parameters, not apprise's defaults."""
    redacted = redact_url(
        "mailto://user:pw12345@127.0.0.1:2525?from=a@example.com&to=b@example.com"
    )
    assert "overflow=" not in redacted
    assert "from=a%40example.com" in redacted


@pytest.mark.parametrize(
    ("url", "secrets", "expected"),
    [
        (
            "foo://user:hunter22@webhookid123/secretpath?token=abc&x=averylongvalue#fragmentlong",
            ["hunter22", "webhookid123", "secretpath", "averylongvalue", "fragmentlong"],
            "foo://user:***@we***/se***?token=***&x=av***#fr***",
        ),
        ("foo://host.example.com/a/b?x=1", [], "foo://host.example.com/a/b?x=1"),
        ("foo://example.com/TokenA/TokenB", ["TokenA", "TokenB"], "foo://example.com/***/***"),
        ("foo://[::1]:8080/p", [], "foo://[::1]:8080/p"),
        ("foo://:pw123456@host.example.com", ["pw123456"], "foo://:***@host.example.com"),
        ("foo://h.example.com/?+Auth=ab", ["ab"], "foo://h.example.com/?+Auth=***"),
        ("sk-live-0123456789abcdef", ["0123456789abcdef"], "sk***"),
        ("", [], ""),
    ],
)
def test_generic_masking_of_urls_apprise_cannot_read(
    url: str, secrets: list[str], expected: str
) -> None:
    """Unknown schemes are masked conservatively: password, long pieces, secret-named keys."""
    assert apprise_plugin(url) is None
    redacted = redact_url(url)
    assert redacted == expected
    for secret in secrets:
        assert secret not in redacted
    for secret in secrets:
        if len(secret) >= 4:
            assert secret in url_secrets(url) or any(secret in s for s in url_secrets(url))


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_apprise_never_logs_into_our_handlers() -> None:
    """apprise logs rejected URLs (with pieces of them) and, when sending, tokens: once the
    watcher has touched apprise, none of its lines reaches the root logger's handlers."""
    root = logging.getLogger()
    handler, level = _Records(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        assert apprise_plugin("foo://user:hunter22@host/secretpath") is None
        redact_url("slack://onlyonetoken")
        logging.getLogger("apprise").warning("a line that would carry hunter22")
        logging.getLogger("urllib3").warning("GET /hook?token=hunter22")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert [r for r in handler.records if r.name.startswith(("apprise", "urllib3"))] == []


@PROPERTIES
@given(st.text(max_size=200))
def test_redact_url_never_raises(text: str) -> None:
    """Any string at all gets an answer: a redactor that raised would leak its input."""
    assert isinstance(redact_url(text), str)
    assert isinstance(url_secrets(text), list)


# Letters, digits and punctuation, without "*" (the mask itself) and "%" (an escape).
SECRET_ALPHABET = string.ascii_letters + string.digits + "!#$&'()+,-./:;<=>?@[]^_`{|}~\"\\ "
password_strategy = st.text(alphabet=SECRET_ALPHABET, min_size=6, max_size=40)
TEMPLATES = [
    "mailto://user:{}@smtp.example.com?to=oncall@example.com",
    "mailtos://user:{}@smtp.example.com:587?to=oncall@example.com",
    "json://admin:{}@hooks.example.com/path",
    "ntfy://user:{}@ntfy.sh/topic",
    "foo://user:{}@host.example.com/path",
    "https://user:{}@hooks.example.com/x",
]


@PROPERTIES
@given(password_strategy, st.sampled_from(TEMPLATES))
def test_userinfo_password_never_appears(secret: str, template: str) -> None:
    """For any password in the userinfo, the redacted URL contains neither it nor its escape."""
    assume(secret.strip() == secret and secret.strip())
    url = template.format(quote(secret, safe=""))
    skeleton = redact_url(template.format("placeholder0"))
    assume(secret not in skeleton and secret not in template)
    for redacted in (redact_url(url), redact_value(url)):
        assert secret not in redacted
        assert quote(secret, safe="") not in redacted


@PROPERTIES
@given(st.text(alphabet=SECRET_ALPHABET, min_size=4, max_size=30), st.text(max_size=60))
def test_redact_text_removes_every_occurrence(secret: str, noise: str) -> None:
    """A known secret is gone from any text it was embedded in, however often."""
    assume(secret not in noise.replace(secret, ""))
    text = f"{noise}{secret} and again {secret}{noise} escaped {quote(secret, safe='')}"
    scrubbed = redact_text(text, [secret])
    assert secret not in scrubbed
    assert quote(secret, safe="") not in scrubbed


def test_redact_text_ignores_short_secrets() -> None:
    """Secrets under four characters would mangle ordinary text: they are left alone."""
    assert redact_text("a bit of text", ["a", "bit", ""]) == "a bit of text"
    assert redact_text("token abcd here", ["abcd"]) == "token *** here"


def test_redact_text_hides_the_longest_secret_whole() -> None:
    """When one secret contains another, the longer one is replaced first."""
    assert redact_text("key=abcdefgh", ["abcd", "abcdefgh"]) == "key=***"


def test_redact_text_with_no_secrets_or_no_text() -> None:
    """Nothing to hide, nothing changed."""
    assert redact_text("plain", []) == "plain"
    assert redact_text("", ["secret"]) == ""


def test_redact_text_handles_regex_metacharacters() -> None:
    """Secrets are matched literally."""
    assert redact_text("p(a)ss.w*rd and more", ["p(a)ss.w*rd"]) == "*** and more"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", "***"), ("abc", "***"), ("abcdef", "***"), ("abcdefg", "ab***")],
)
def test_mask(value: str, expected: str) -> None:
    """Long values keep two characters for recognition, short ones nothing."""
    assert mask(value) == expected


# --- the one minimum secret length -------------------------------------------------------------


def test_scrubbable_keeps_long_enough_strings_longest_first() -> None:
    """Distinct strings of at least MIN_SECRET_LENGTH, longest first; anything else skipped."""
    values = ["abc", "abcd", "token-123", "abcd", "", None, 42, "wxyz"]
    assert scrubbable(values) == ["token-123", "abcd", "wxyz"]
    assert MIN_SECRET_LENGTH == 4


@PROPERTIES
@given(st.lists(st.text(max_size=8), max_size=10))
def test_the_logger_scrubs_what_redact_text_scrubs(secrets: list[str]) -> None:
    """The log scrubber and redact_text apply the same length rule (it was written twice)."""
    scrubber = SecretScrubber(secrets)
    assert scrubber.secrets == scrubbable(secrets)
    for secret in secrets:
        hidden = redact_text(f"<{secret}>", [secret]) != f"<{secret}>"
        assert hidden == (len(secret) >= MIN_SECRET_LENGTH)


# --- redact_value: a typed value quoted back, its secrets masked -------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "secrets"),
    [
        ("127.0.0.1:18765", "127.0.0.1:18765", []),
        ("notaurl", "notaurl", []),
        ("foo://host.example.com/secretpath?x=averylongvalue", None, []),
        ("sk-live-0123456789abcdef", "sk***", ["sk-live-0123456789abcdef"]),
        ("https://me:pw@proxy.example.com/df", "https://me:***@proxy.example.com/df", ["pw"]),
        ("https://h.example.com/?token=abc&page=2", "https://h.example.com/?token=***&page=2", []),
        (
            "https://h.example.com/?+Auth=ab&-key=cd",
            "https://h.example.com/?+Auth=***&-key=***",
            [],
        ),
        ("h.example.com/T1JJ3T3L2/x", "h.example.com/T1***/x", ["T1JJ3T3L2"]),
        ("", "", []),
    ],
)
def test_redact_value_masks_secrets_not_the_value(
    value: str, expected: str | None, secrets: list[str]
) -> None:
    """What the user typed stays readable where it cannot be a secret (unlike `redact_url`'s
    conservative masking of URLs it cannot read); passwords, secret-named keys' values and
    token-like pieces are masked, and listed for the log scrubber."""
    assert redact_value(value) == (value if expected is None else expected)
    for secret in secrets:
        assert secret not in redact_value(value)
        if len(secret) >= MIN_SECRET_LENGTH:
            assert secret in value_secrets(value)


@PROPERTIES
@given(st.text(max_size=200))
def test_redact_value_never_raises(text: str) -> None:
    assert isinstance(redact_value(text), str)
    assert isinstance(value_secrets(text), list)

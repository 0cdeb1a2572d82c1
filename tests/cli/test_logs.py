"""The log scrubber: a known secret is replaced wherever a log call puts it, not only in the
string values of the event."""

from __future__ import annotations

import io
import json
import logging
from collections import namedtuple
from typing import Any

import structlog
from structlog.testing import capture_logs

from watcher.logs import SCRUBBER, SecretScrubber, configure

SECRET = "tok-abcdef-9876543210"


def scrub(event: dict[str, Any]) -> dict[str, Any]:
    return dict(SecretScrubber([SECRET])(None, "info", event))


def test_dict_keys_are_scrubbed_at_every_depth() -> None:
    """A secret used as a key (a per-token counter, a URL -> result map) is masked too."""
    out = scrub({"event": "e", SECRET: 1, "results": {f"json://{SECRET}@host": "ok"}})
    assert SECRET not in repr(out)
    assert out["results"] == {"json://***@host": "ok"}
    assert out["***"] == 1


def test_bytes_are_decoded_and_scrubbed() -> None:
    """bytes (a response body) become text, undecodable bytes replaced, the secret masked."""
    out = scrub(
        {"event": "e", "body": b"token=" + SECRET.encode() + b" \xff", "raw": bytearray(b"x")}
    )
    assert out["body"] == "token=*** \ufffd"
    assert out["raw"] == "x"
    assert SECRET.encode() not in repr(out).encode()


def test_sets_and_frozensets_are_scrubbed() -> None:
    """Sets keep their kind, with clean members."""
    out = scrub({"event": "e", "urls": {f"a-{SECRET}", "b"}, "frozen": frozenset([SECRET])})
    assert out["urls"] == {"a-***", "b"}
    assert out["frozen"] == frozenset(["***"])


def test_exceptions_nested_in_containers_are_scrubbed() -> None:
    """An exception inside a list, dict or set becomes `Type: message`, masked."""
    error = ValueError(f"bad token {SECRET}")
    out = scrub(
        {
            "event": "e",
            "errors": [error],
            "by_channel": {"team": (error,)},
            "unique": {error},
        }
    )
    assert out["errors"] == ["ValueError: bad token ***"]
    assert out["by_channel"] == {"team": ("ValueError: bad token ***",)}
    assert out["unique"] == {"ValueError: bad token ***"}


def test_namedtuples_and_other_values_survive() -> None:
    """A namedtuple stays one (it used to break the processor); numbers pass untouched."""
    Pair = namedtuple("Pair", "name value")
    out = scrub({"event": "e", "pair": Pair("k", SECRET), "n": 3, "none": None})
    assert out["pair"] == Pair("k", "***")
    assert isinstance(out["pair"], Pair)
    assert out["n"] == 3
    assert out["none"] is None


def test_a_logged_line_never_shows_the_secret() -> None:
    """Through the configured pipeline: JSON output of such an event holds no secret."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level, structlog_config = root.handlers[:], root.level, structlog.get_config()
    secrets = list(SCRUBBER.secrets)
    try:
        configure(level="info", fmt="json", stream=stream)
        SCRUBBER.update([SECRET])
        structlog.get_logger("test").info(
            "sent",
            **{SECRET: "as a key"},
            body=SECRET.encode(),
            tags=frozenset([SECRET]),
            errors={"x": [RuntimeError(SECRET)]},
        )
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        SCRUBBER.update(secrets)
        structlog.configure(**structlog_config)
    line = stream.getvalue().strip().splitlines()[-1]
    assert SECRET not in line
    data = json.loads(line)
    assert data["***"] == "as a key"
    assert data["errors"] == {"x": ["RuntimeError: ***"]}


def test_capture_logs_sees_clean_events() -> None:
    """With structlog.testing's capture, the scrubber as a processor cleans what it is given."""
    scrubber = SecretScrubber([SECRET])
    with capture_logs(processors=[scrubber]) as logs:
        structlog.get_logger().warning("w", payload={SECRET: {SECRET.encode()}})
    assert SECRET not in repr(logs)

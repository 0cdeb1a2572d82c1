"""What the rest of the program reads from the settings: the redacted config that check-config
prints, the secrets the logger scrubs, and the warnings that are not errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.config.helpers import check_config
from watcher.config import (
    config_warnings,
    load_settings,
    redacted_config,
    render_config_yaml,
    secrets_of,
)
from watcher.redact import redact_text

API_KEY = "df-key-0123456789abcdef"
SLACK = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ")
MAIL_PASSWORD = "S3cret-Mail-Passw0rd"
HEADER_TOKEN = "hdr-token-9f8e7d6c5b"
HOOK_PATH_TOKEN = "8f3a9c2d1e7b"
DISCORD_TOKEN = "abcdefTOKENabcdef1234567890"
SUBSTITUTED = "opaquewebhooksecret"  # letters only: no heuristic would call it a token

ALL_SECRETS = (
    API_KEY,
    *SLACK,
    MAIL_PASSWORD,
    HEADER_TOKEN,
    HOOK_PATH_TOKEN,
    DISCORD_TOKEN,
    SUBSTITUTED,
)

CONFIG = f"""\
dataframer:
  base_url: http://127.0.0.1:8080
  timeout: 2.5s
poll:
  interval: 90
track:
  all: true
channels:
  team: "slack://{SLACK[0]}/{SLACK[1]}/${{SLACK_C}}/#ml-runs"
  oncall:
    - "mailtos://alerts:{MAIL_PASSWORD}@smtp.example.com?to=oncall@example.com"
    - "json://hooks.example.com/hooks/{HOOK_PATH_TOKEN}?+X-Token={HEADER_TOKEN}"
  chat: "discord://1234567890/{DISCORD_TOKEN}"
  hook: "json://hooks.example.com/${{HOOK_SECRET}}"
routes:
  - statuses: [FAILED, canceled]
    channels: [oncall, team]
  - channels: [team, chat, hook]
    specs: ["nightly-*"]
"""
ENVIRON = {"SLACK_C": SLACK[2], "DATAFRAMER_API_KEY": API_KEY, "HOOK_SECRET": SUBSTITUTED}
# A channel and something tracked: a config that can alert, so only the advice under test shows.
CAN_ALERT = "channels:\n  team: json://a.example.com\ntrack:\n  all: true\n"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """The sample config, written into tmp_path."""
    path = tmp_path / "watcher.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_redacted_config_hides_every_secret(config_path: Path) -> None:
    """The effective config as data: durations formatted, key and channel secrets hidden."""
    data = redacted_config(load_settings(config_path, environ=ENVIRON))
    text = repr(data)
    for secret in ALL_SECRETS:
        assert secret not in text
    assert data["dataframer"]["api_key"] == "***"
    assert data["dataframer"]["timeout"] == "2.5s"
    assert data["poll"]["interval"] == "1m30s"
    assert data["state"]["retention"] == "30d"
    assert data["delivery"]["horizon"] == "1d"
    assert data["channels"]["team"][0].startswith("slack://T...2/A...D/T...Q/")
    assert data["channels"]["oncall"][0].startswith("mailtos://alerts:****@smtp.example.com")
    assert data["channels"]["oncall"][1] == "json://hooks.example.com/hooks/8f***?%2BX-Token=hd***"
    assert data["channels"]["hook"] == ["json://hooks.example.com/***"]
    assert data["routes"][0] == {"statuses": ["FAILED", "CANCELED"], "channels": ["oncall", "team"]}
    assert data["routes"][1]["specs"] == ["nightly-*"]
    assert data["routes"][1]["statuses"] == ["SUCCEEDED", "FAILED", "CANCELED"]


def test_render_config_yaml_is_yaml_without_secrets(config_path: Path) -> None:
    """check-config's output parses as YAML, in schema order, with no secret in it."""
    text = render_config_yaml(load_settings(config_path, environ=ENVIRON))
    for secret in ALL_SECRETS:
        assert secret not in text
    data = yaml.safe_load(text)
    assert list(data) == [
        "dataframer",
        "poll",
        "state",
        "track",
        "channels",
        "routes",
        "templates",
        "alerts",
        "ops",
        "delivery",
        "health",
        "log",
        "ui",
    ]
    assert data["poll"]["interval"] == "1m30s"


@pytest.mark.parametrize(
    ("yaml_text", "environ", "shown"),
    [
        ("", {"DATAFRAMER_API_KEY": API_KEY}, "***"),
        (
            "dataframer:\n  api_key_file: /run/secrets/df\n",
            {},
            "(from api_key_file /run/secrets/df)",
        ),
        ("", {}, "(not set)"),
    ],
)
def test_api_key_display(
    tmp_path: Path, yaml_text: str, environ: dict[str, str], shown: str
) -> None:
    """The key itself is never shown; where it comes from is."""
    path = tmp_path / "watcher.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    assert redacted_config(load_settings(path, environ=environ))["dataframer"]["api_key"] == shown


def test_base_url_password_is_hidden(tmp_path: Path) -> None:
    """A proxy URL with credentials shows the user but not the password."""
    path = tmp_path / "watcher.yaml"
    path.write_text("dataframer:\n  base_url: https://me:proxy-pass-123@proxy.example.com/df\n")
    settings = load_settings(path, environ={})
    assert (
        redacted_config(settings)["dataframer"]["base_url"] == "https://me:***@proxy.example.com/df"
    )
    assert "proxy-pass-123" in secrets_of(settings)


@pytest.mark.parametrize(
    ("base_url", "shown", "secret"),
    [
        ("https://proxy.example.com/df?token=abc", "https://proxy.example.com/df?token=***", "abc"),
        (
            f"https://{API_KEY}@proxy.example.com/df",
            "https://df***@proxy.example.com/df",
            API_KEY,
        ),
        (
            f"https://proxy.example.com/df?k={API_KEY}",
            "https://proxy.example.com/df?k=df***",
            API_KEY,
        ),
    ],
)
def test_base_url_query_token_and_pasted_key_are_hidden(
    tmp_path: Path, base_url: str, shown: str, secret: str
) -> None:
    """A query token (any length) and a key-like piece of base_url are masked in check-config's
    view and scrubbed from the logs; the host and path stay readable."""
    path = tmp_path / "watcher.yaml"
    path.write_text(f"dataframer:\n  base_url: {base_url}\n")
    settings = load_settings(path, environ={})
    assert redacted_config(settings)["dataframer"]["base_url"] == shown
    if len(secret) >= 4:
        assert secret in secrets_of(settings)


def test_secrets_of_lists_every_secret(config_path: Path) -> None:
    """The API key, channel tokens and passwords, and values substituted from ${VAR}."""
    found = secrets_of(load_settings(config_path, environ=ENVIRON))
    for secret in ALL_SECRETS:
        assert secret in found
    assert all(len(secret) >= 4 for secret in found)
    assert found == sorted(found, key=lambda s: (-len(s), s))


def test_secrets_of_scrub_a_log_line(config_path: Path) -> None:
    """redact_text with secrets_of leaves no secret in any text, e.g. an exception message."""
    settings = load_settings(config_path, environ=ENVIRON)
    line = " | ".join(
        [f"auth {API_KEY}", *(url for urls in settings.channels.values() for url in urls)]
    )
    scrubbed = redact_text(line, secrets_of(settings))
    for secret in ALL_SECRETS:
        assert secret not in scrubbed
    assert "smtp.example.com" in scrubbed  # the rest stays readable


def test_secrets_of_reads_the_key_file(tmp_path: Path) -> None:
    """A key given through api_key_file is a secret too; a missing file is simply skipped."""
    key_file = tmp_path / "key"
    key_file.write_text("file-key-0123456789\n")
    path = tmp_path / "watcher.yaml"
    path.write_text(f"dataframer:\n  api_key_file: {key_file}\n")
    assert secrets_of(load_settings(path, environ={})) == ["file-key-0123456789"]
    key_file.unlink()
    assert secrets_of(load_settings(path, environ={})) == []


def test_public_substituted_values_are_not_secrets(tmp_path: Path) -> None:
    """${HOST} or ${PORT} values are plainly public; scrubbing them would mangle logs."""
    path = tmp_path / "watcher.yaml"
    path.write_text("channels:\n  hook: json://${HOST}:${PORT}/alerts\n")
    settings = load_settings(path, environ={"HOST": "hooks.example.com", "PORT": "8080"})
    assert secrets_of(settings) == []
    assert redacted_config(settings)["channels"]["hook"] == ["json://hooks.example.com:8080/alerts"]


def test_inline_api_key_warns(tmp_path: Path) -> None:
    """A key written in the YAML works, with advice to move it out."""
    path = tmp_path / "watcher.yaml"
    path.write_text(f"dataframer:\n  api_key: {API_KEY}\n{CAN_ALERT}")
    settings = load_settings(path, environ={})
    warnings = config_warnings(settings)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"dataframer.api_key is written in {path}")
    assert API_KEY not in warnings[0]
    # The same key from the environment is not written in the file: no advice needed.
    path.write_text(CAN_ALERT)
    assert config_warnings(load_settings(path, environ={"DATAFRAMER_API_KEY": API_KEY})) == []


def test_inline_key_overridden_by_the_environment_does_not_warn(tmp_path: Path) -> None:
    """The warning is about the key in use, not any key in the file."""
    path = tmp_path / "watcher.yaml"
    path.write_text(f"dataframer:\n  api_key: {API_KEY}\n{CAN_ALERT}")
    settings = load_settings(path, environ={"DATAFRAMER_API_KEY": "other-key-123456"})
    assert config_warnings(settings) == []


def test_key_and_key_file_warns(tmp_path: Path) -> None:
    """A YAML api_key_file loses to DATAFRAMER_API_KEY (higher priority), and check-config
    names both and where each came from."""
    path = tmp_path / "watcher.yaml"
    path.write_text(f"dataframer:\n  api_key_file: /run/secrets/df\n{CAN_ALERT}")
    settings = load_settings(path, environ={"DATAFRAMER_API_KEY": API_KEY})
    assert config_warnings(settings) == [
        f"dataframer.api_key_file (from {path}) is ignored: "
        "dataframer.api_key (from DATAFRAMER_API_KEY) takes precedence"
    ]


def test_unrouted_channel_warns(tmp_path: Path) -> None:
    """With routes, a channel no route names gets nothing: worth a warning."""
    path = tmp_path / "watcher.yaml"
    path.write_text(
        "channels:\n  a: json://a.example.com\n  b: json://b.example.com\n"
        "routes:\n  - channels: [a]\ntrack:\n  all: true\n"
    )
    assert config_warnings(load_settings(path, environ={})) == [
        "channel 'b' is named by no route and receives no alerts"
    ]


@pytest.mark.parametrize(
    ("alerts", "expected"),
    [
        (
            "",
            [
                "routes[0].flags: no alert carries 'quality' or 'cost' since "
                "alerts.failure_rate_above and alerts.cost_above are not set, so this route "
                "matches no alert",
                "routes[1].statuses: no STUCK alert is raised since alerts.stuck is not set",
            ],
        ),
        (
            "alerts:\n  cost_above: 100\n",
            [
                "routes[0].flags: no alert carries 'quality' since alerts.failure_rate_above "
                "is not set",
                "routes[1].statuses: no STUCK alert is raised since alerts.stuck is not set",
            ],
        ),
        (
            "alerts:\n  cost_above: 100\n  failure_rate_above: 0.05\n"
            "  stuck:\n    pending_after: 30m\n",
            [],
        ),
    ],
)
def test_routes_that_can_never_match_warn(tmp_path: Path, alerts: str, expected: list[str]) -> None:
    """A route on a flag whose threshold is not set, or on STUCK without alerts.stuck, is
    valid but takes nothing: said per route, and the route that can match nothing at all."""
    path = tmp_path / "watcher.yaml"
    path.write_text(
        CAN_ALERT
        + "routes:\n  - flags: [quality, cost]\n    channels: [team]\n"
        + "  - statuses: [FAILED, STUCK]\n    channels: [team]\n"
        + alerts
    )
    assert config_warnings(load_settings(path, environ={})) == expected


def test_clean_config_has_no_warnings(config_path: Path) -> None:
    """The sample config (key in the environment, every channel routed) is clean."""
    assert config_warnings(load_settings(config_path, environ=ENVIRON)) == []


NO_CHANNEL = (
    "no channels are configured, so no alert can be sent: add an apprise URL under `channels:`"
)
NOTHING_TRACKED = (
    "nothing is tracked: track.runs is empty and track.all is false, so only runs added with "
    "`dataframer-watcher track RUN_ID` are watched"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", [NO_CHANNEL, NOTHING_TRACKED]),
        ("track:\n  runs: [run-1]\n", [NO_CHANNEL]),
        ("channels:\n  team: json://a.example.com\n", [NOTHING_TRACKED]),
        ("channels:\n  team: json://a.example.com\ntrack:\n  all: false\n", [NOTHING_TRACKED]),
        ("channels:\n  team: json://a.example.com\ntrack:\n  runs: [run-1]\n", []),
        (CAN_ALERT, []),
    ],
)
def test_a_config_that_cannot_alert_warns(tmp_path: Path, text: str, expected: list[str]) -> None:
    """An empty config is valid but can never alert: no channel, or nothing to watch, is
    said (the way an unrouted channel is), for check-config and for `run` at start."""
    path = tmp_path / "watcher.yaml"
    path.write_text(text)
    assert config_warnings(load_settings(path, environ={})) == expected
    # Commands that never send read the same config, and find the same.
    assert config_warnings(load_settings(path, environ={}, expand_channels=False)) == expected


def test_check_config_warns_about_an_empty_config(tmp_path: Path) -> None:
    """check-config passes an empty config (exit 0) and prints both warnings."""
    result = check_config(tmp_path, "", DATAFRAMER_API_KEY=API_KEY)
    assert result.returncode == 0, result.stderr
    assert f"warning: {NO_CHANNEL}\n" in result.stderr
    assert f"warning: {NOTHING_TRACKED}\n" in result.stderr
    assert "config ok" in result.stderr

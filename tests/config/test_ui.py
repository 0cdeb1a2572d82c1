"""The `ui` section and `alerts.slow_below`: defaults, bad values as one line each, and the
warnings for routes that no slow alert can reach."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.helpers import config_error, write
from watcher.config import config_warnings, load_settings
from watcher.config.sections import is_loopback

ENV = {"DATAFRAMER_API_KEY": "k-0123456789"}


def test_defaults_keep_the_page_off() -> None:
    """No `ui` section: no page, the default user, no password file; no slow alerts."""
    settings = load_settings(None, environ=ENV)
    assert settings.ui.enabled is False
    assert settings.ui.username == "watcher"
    assert settings.ui.password_file is None
    assert settings.alerts.slow_below is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alerts:\n  slow_below: 0\n", "alerts.slow_below"),
        ("alerts:\n  slow_below: 1\n", "alerts.slow_below"),
        ("alerts:\n  slow_below: -0.5\n", "alerts.slow_below"),
        ("alerts:\n  slow_below: half\n", "alerts.slow_below"),
        ("ui:\n  enabled: maybe\n", "ui.enabled"),
        ("ui:\n  username: 'a:b'\n", "ui.username"),
        ("ui:\n  username: ''\n", "ui.username"),
        ("ui:\n  colour: blue\n", "ui.colour"),
        (
            "health:\n  listen: '192.0.2.7:9464'\nui:\n  enabled: true\n",
            "ui.password_file: required with ui.enabled when health.listen (192.0.2.7:9464)",
        ),
    ],
)
def test_bad_values_are_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    """Each bad value: one line naming its dotted key."""
    assert expected in config_error(write(tmp_path, text), ENV)


def test_a_page_with_its_password_off_loopback_or_with_the_listener_off_is_fine(
    tmp_path: Path,
) -> None:
    """Off loopback with a password file, or with health disabled (no page at all): valid."""
    with_password = "health:\n  listen: '0.0.0.0:9464'\nui:\n  enabled: true\n  password_file: /x\n"
    assert load_settings(write(tmp_path, with_password), environ=ENV).ui.enabled
    listener_off = "health:\n  enabled: false\n  listen: '0.0.0.0:9464'\nui:\n  enabled: true\n"
    assert load_settings(write(tmp_path, listener_off), environ=ENV).ui.enabled


def test_a_page_without_its_listener_is_warned_about(tmp_path: Path) -> None:
    """ui.enabled with health.enabled false: valid, and check-config says nothing serves it."""
    text = "health:\n  enabled: false\nui:\n  enabled: true\n"
    warnings = config_warnings(load_settings(write(tmp_path, text), environ=ENV))
    assert (
        "ui.enabled is set but health.enabled is false: the status page is not served" in warnings
    )


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.7", False),
        ("watcher.example.com", False),
    ],
)
def test_what_counts_as_loopback(host: str, loopback: bool) -> None:
    """Only addresses this machine alone reaches; any other name may resolve anywhere."""
    assert is_loopback(host) is loopback


def test_routes_a_slow_alert_cannot_reach_are_warned_about(tmp_path: Path) -> None:
    """SLOW or `flags: [slow]` without alerts.slow_below: a warning, not an error."""
    text = (
        "channels:\n  team: json://127.0.0.1:9/\n"
        "routes:\n  - statuses: [SLOW]\n    flags: [slow]\n    channels: [team]\n"
    )
    warnings = config_warnings(load_settings(write(tmp_path, text), environ=ENV))
    assert any("no SLOW alert is raised since alerts.slow_below is not set" in w for w in warnings)
    assert any("no alert carries 'slow' since alerts.slow_below is not set" in w for w in warnings)
    quiet = text + "alerts:\n  slow_below: 0.5\n"
    assert not [
        w
        for w in config_warnings(load_settings(write(tmp_path, quiet), environ=ENV))
        if "slow" in w.lower()
    ]

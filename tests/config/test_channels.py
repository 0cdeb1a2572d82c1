"""The channels (`watcher.config.channels`): names are case-insensitive in every source, and a
load for a command that never sends keeps the URLs as written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.helpers import config_error, write
from watcher.config import ConfigError, config_warnings, load_settings, secrets_of

pytestmark = pytest.mark.usefixtures("in_tmp")


# --- channel names are case-insensitive -------------------------------------------------------


def test_env_overrides_a_channel_the_file_spells_in_capitals(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "channels:\n  OnCall: json://a.example.com\n  Team: json://t.example.com\n"
        "routes:\n  - channels: [ONCALL, team]\n",
    )
    settings = load_settings(path, environ={"WATCHER_CHANNELS__ONCALL": "json://b.example.com"})
    assert settings.channels == {
        "oncall": ["json://b.example.com"],
        "team": ["json://t.example.com"],
    }
    assert settings.routes[0].channels == ["oncall", "team"]
    assert settings.channels["oncall"] == ["json://b.example.com"]
    assert config_warnings(settings) == []


def test_names_differing_only_by_case_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, "channels:\n  team: json://a.example.com\n  Team: json://b.example.com\n"
    )
    message = config_error(path, {})
    assert message == (
        f"config error in {path}: channels: 'team' and 'Team' differ only by case "
        "(channel names are case-insensitive)"
    )
    message = config_error(
        None, {"WATCHER_CHANNELS": '{"A": "json://a.b.com", "a": "json://c.d.com"}'}
    )
    assert "'A' and 'a' differ only by case" in message


# --- loads that do not expand channel URLs ----------------------------------------------------

UNEXPANDED = (
    "channels:\n"
    "  team: 'slack://${SLACK_A}/${SLACK_B}/${SLACK_C}/#ml'\n"
    "  hook: 'json://hooks.example.com/Tok3nAbcdef123456'\n"
    "routes:\n  - channels: [team, hook]\n"
)


def test_channels_unexpanded_for_commands_that_do_not_send(tmp_path: Path) -> None:
    """No ${VAR} needed, no apprise check; the names still check the routes."""
    path = write(tmp_path, UNEXPANDED)
    with pytest.raises(ConfigError, match="SLACK_A is not set"):
        load_settings(path, environ={})
    settings = load_settings(path, environ={}, expand_channels=False)
    assert not settings.channels_expanded
    assert settings.channels["team"] == ["slack://${SLACK_A}/${SLACK_B}/${SLACK_C}/#ml"]
    assert "Tok3nAbcdef123456" in secrets_of(settings)  # written in clear: still a secret
    assert not any("$" in secret for secret in secrets_of(settings))

    write(tmp_path, UNEXPANDED.replace("[team, hook]", "[team, pager]"))
    with pytest.raises(ConfigError, match="unknown channel 'pager'"):
        load_settings(path, environ={}, expand_channels=False)


@pytest.mark.parametrize("item", ["[1]", "{a: 1}", "7", "null"])
def test_a_route_channel_that_is_not_a_string(tmp_path: Path, item: str) -> None:
    """A list, mapping, number or null among a route's channels: one line, exit 2."""
    text = f"channels:\n  team: json://127.0.0.1:9/x\nroutes:\n  - channels: [team, {item}]\n"
    message = config_error(write(tmp_path, text), {"DATAFRAMER_API_KEY": "sk-test-123"})
    assert "routes[0].channels" in message
    assert "must be a string" in message

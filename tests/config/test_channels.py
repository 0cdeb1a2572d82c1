"""The channels (`watcher.config.channels`): names are case-insensitive in every source, and a
load for a command that never sends keeps the URLs as written."""

from __future__ import annotations

import string
from pathlib import Path
from random import Random

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.config.helpers import config_error, write
from tests.support import WebhookSink, cli, wait_for
from watcher.cli.usage import channel_argument
from watcher.config import (
    ConfigError,
    Settings,
    channel_key,
    config_warnings,
    load_settings,
    secrets_of,
)
from watcher.config.channels import unsent_parameters

pytestmark = pytest.mark.usefixtures("in_tmp")


# --- channel names are case-insensitive -------------------------------------------------------


def test_env_overrides_a_channel_the_file_spells_in_capitals(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "channels:\n  OnCall: json://a.example.com\n  Team: json://t.example.com\n"
        "routes:\n  - channels: [ONCALL, team]\ntrack:\n  all: true\n",
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


def test_a_whole_json_section_overrides_the_file_in_any_case(tmp_path: Path) -> None:
    """WATCHER_CHANNELS='{"Team": ...}' overrides the file's team, as WATCHER_CHANNELS__TEAM
    does: each source is folded before they merge (this was refused as two names)."""
    path = write(tmp_path, "channels:\n  team: json://a.example.com\n  ops: json://o.example.com\n")
    environ = {"WATCHER_CHANNELS": '{"Team": "json://b.example.com"}'}
    assert load_settings(path, environ=environ).channels == {
        "team": ["json://b.example.com"],
        "ops": ["json://o.example.com"],
    }


def test_keyword_arguments_are_folded_too() -> None:
    settings = Settings(channels={"Team": "json://a.example.com"}, routes=[{"channels": ["TEAM"]}])
    assert list(settings.channels) == ["team"]
    assert settings.routes[0].channels == ["team"]
    with pytest.raises(ConfigError, match="'A' and 'a' differ only by case"):
        Settings(channels={"A": "json://a.example.com", "a": "json://b.example.com"})


SPELLABLE = st.text(alphabet=string.ascii_letters + string.digits + ".-", min_size=1, max_size=10)


@hypothesis.settings(max_examples=40, deadline=None, database=None)
@given(SPELLABLE.filter(lambda name: any(c.isalpha() for c in name)), st.randoms())
def test_every_spelling_of_a_name_is_one_channel(
    tmp_path_factory: pytest.TempPathFactory, name: str, rnd: Random
) -> None:
    """The file, a route, the environment and the command line's --channel, each spelling the
    name its own way, all meet on one channel (the one rule: channel_key)."""

    def spell() -> str:
        return "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in name)

    path = write(
        tmp_path_factory.mktemp("spell"),
        # Quoted: YAML reads a bare NULL, yes or off as a value, not as a name.
        f"channels:\n  '{spell()}': json://a.example.com\nroutes:\n  - channels: ['{spell()}']\n",
    )
    settings = load_settings(path, environ={f"WATCHER_CHANNELS__{spell()}": "json://b.example.com"})
    assert settings.channels == {channel_key(name): ["json://b.example.com"]}
    assert settings.routes[0].channels == [channel_key(name)]
    assert channel_argument(settings, spell()) == channel_key(name)


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


# --- what the errors of a channel say -----------------------------------------------------------


def test_a_non_ascii_channel_name_says_ascii(tmp_path: Path) -> None:
    """é is a letter: the rule is ASCII letters, and the message says so."""
    message = config_error(write(tmp_path, "channels:\n  équipe: json://a.example.com\n"), {})
    assert (
        "channels['équipe']: channel name 'équipe' may only use ASCII letters and digits, "
        "'_', '.' and '-'"
    ) in message


@pytest.mark.parametrize(
    ("second", "reason"),
    [
        ("notaurl", "apprise cannot use 'notaurl'"),
        ("''", "an apprise URL must not be empty"),
        ("5", "must be an apprise URL (got a number)"),
        ("json://h.example.com/${UNSET_VAR}", "environment variable UNSET_VAR is not set"),
    ],
)
def test_an_item_of_a_url_list_is_named_one_way(tmp_path: Path, second: str, reason: str) -> None:
    """The second URL of a list is `channels.team[1]` in every message, whoever finds the fault
    (pydantic, or our own check of the URLs, which said "URL 2")."""
    text = f"channels:\n  team:\n    - json://a.example.com\n    - {second}\n"
    message = config_error(write(tmp_path, text), {})
    assert f"channels.team[1]: {reason}" in message
    assert "URL 2" not in message


def test_a_list_item_from_the_environment_names_the_variable() -> None:
    message = config_error(None, {"WATCHER_CHANNELS__TEAM": '["json://a.example.com", "nope"]'})
    assert "channels.team[1] (from WATCHER_CHANNELS__TEAM): apprise cannot use 'nope'" in message


def test_a_single_url_is_named_by_its_channel(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "channels:\n  team: notaurl\n"), {})
    assert "channels.team: apprise cannot use 'notaurl'" in message


@pytest.mark.parametrize(
    ("value", "got"),
    [("", "null"), ("5", "a number"), ("{a: 1}", "a mapping"), ("true", "a boolean")],
)
def test_a_channel_that_is_not_a_url_or_a_list_says_what_is_accepted(
    tmp_path: Path, value: str, got: str
) -> None:
    """`team:` with no value said "input should be a valid list", though a string is valid too."""
    message = config_error(write(tmp_path, f"channels:\n  team: {value}\n"), {})
    assert f"channels.team: must be an apprise URL or a list of them (got {got})" in message
    assert "valid list" not in message


@pytest.mark.parametrize(
    ("url", "shown", "hidden"),
    [
        ("notaurl", "'notaurl'", ()),
        ("htps://hooks.example.com/alerts", "'htps://hooks.example.com/alerts'", ()),
        (
            "nope://user:hunter22@hooks.example.com/T1JJ3T3L2?token=abc&x=1",
            "'nope://user:***@hooks.example.com/T1***?token=***&x=1'",
            ("hunter22", "T1JJ3T3L2"),
        ),
        ("xoxb-1234567890-abcdefghij", "'xo***'", ("1234567890",)),
    ],
)
def test_a_url_apprise_cannot_use_is_shown_but_its_secrets(
    tmp_path: Path, url: str, shown: str, hidden: tuple[str, ...]
) -> None:
    """The value at fault is readable ('notaurl' showed as 'no***'); a password, a token-like
    piece and the value of a secret-named key are not."""
    message = config_error(write(tmp_path, f"channels:\n  team: '{url}'\n"), {})
    assert f"apprise cannot use {shown} (an unknown service" in message
    for secret in hidden:
        assert secret not in message


def test_a_substituted_value_is_masked_in_the_error(tmp_path: Path) -> None:
    """A value ${VAR} put into a URL apprise refuses is a secret, whatever it looks like."""
    path = write(tmp_path, "channels:\n  team: 'nope://hooks.example.com/${HOOK}'\n")
    message = config_error(path, {"HOOK": "opaquewebhooksecret"})
    assert "apprise cannot use 'nope://hooks.example.com/***'" in message
    assert "opaquewebhooksecret" not in message


# --- query parameters apprise would drop ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "unsent"),
    [
        ("json://hooks.example.com/hook?token=abc", ["token"]),
        ("jsons://hooks.example.com/hook?Token=abc&page=2", ["Token", "page"]),
        ("xml://hooks.example.com/hook?key=abc", ["key"]),
        ("form://hooks.example.com/hook?key=abc&method=get", ["key"]),
        # the forms that are sent, and the plugin's own options (read, not sent)
        ("json://hooks.example.com/hook?-token=abc&+X-Api-Key=v&:extra=w", []),
        ("json://hooks.example.com/hook?method=PUT&overflow=split&format=text&verify=no", []),
        ("json://user@hooks.example.com/hook?pass=hunter22", []),  # apprise's password alias
        # read though not declared: pagertree takes ?id= as its integration
        ("pagertree://int_abcdefgh?id=int_abcdefgh", []),
        # plugins that send no query parameters at all are not judged
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/?foo=bar", []),
        ("notaurl", []),
    ],
)
def test_unsent_parameters_from_what_apprise_knows(url: str, unsent: list[str]) -> None:
    """A plugin that sends `-param=` as a query parameter keeps only its own arguments from
    the plain query: each other key, as the user wrote it, is found."""
    assert unsent_parameters(url) == unsent


def test_a_dropped_parameter_warns_naming_channel_key_and_form(tmp_path: Path) -> None:
    """check-config's warning names where, which key and the form that passes; no value."""
    text = (
        "channels:\n  team: 'json://hooks.example.com/hook?token=s3cr3tvalue'\n"
        "  two:\n    - json://a.example.com\n    - 'xml://b.example.com/x?Key=abc&-ok=1'\n"
        "track:\n  all: true\n"
    )
    settings = load_settings(write(tmp_path, text), environ={})
    assert config_warnings(settings) == [
        "channels.team: apprise's json:// does not send the query parameter 'token' (it reads "
        "only its own options from the query): write it as '-token=' to have it sent",
        "channels.two[1]: apprise's xml:// does not send the query parameter 'Key' (it reads "
        "only its own options from the query): write it as '-Key=' to have it sent",
    ]
    assert not any("s3cr3tvalue" in warning for warning in config_warnings(settings))
    # A load that does not expand the URLs does not read them through apprise either.
    assert (
        config_warnings(load_settings(write(tmp_path, text), environ={}, expand_channels=False))
        == []
    )


def test_the_advice_is_what_apprise_sends(tmp_path: Path) -> None:
    """Through the real sender (test-notify) to a real receiver: `?token=` is dropped from the
    request, `?-token=` arrives as `?token=`; check-config warns about the first alone."""
    with WebhookSink() as sink:
        text = (
            f"channels:\n  plain: '{sink.url('plain', query='token=abc123')}'\n"
            f"  minus: '{sink.url('minus', query='-token=abc123')}'\n"
            "track:\n  all: true\n"
        )
        path = write(tmp_path, text)
        env = {"DATAFRAMER_API_KEY": "sk-test-0123456789"}
        checked = cli("--config", str(path), "check-config", cwd=tmp_path, env=env)
        assert checked.returncode == 0, checked.stderr
        warnings = [line for line in checked.stderr.splitlines() if line.startswith("warning:")]
        assert warnings == [
            "warning: channels.plain: apprise's json:// does not send the query parameter "
            "'token' (it reads only its own options from the query): write it as '-token=' "
            "to have it sent"
        ]
        assert "abc123" not in checked.stderr
        sent = cli("--config", str(path), "test-notify", cwd=tmp_path, env=env)
        assert sent.returncode == 0, sent.stderr
        wait_for(lambda: len(sink.posts) == 2, what="both test alerts")
        assert sorted(request.path for request in sink.accepted) == [
            "/minus?token=abc123",
            "/plain",
        ]

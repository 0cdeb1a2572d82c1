"""Regressions from the config review: huge durations, non-string YAML keys, misspelled
WATCHER_* variables, api_key / api_key_file precedence, case of channel names, a swapped
DATAFRAMER_BASE_URL, run ids, the state path, message grammar and loads that do not expand
channel URLs. Each bad config is one line, exit 2 from the CLI, no traceback, no secret."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from apscheduler.triggers.interval import IntervalTrigger

from tests.support import ROOT, clean_env
from watcher.config import (
    ConfigError,
    config_warnings,
    load_settings,
    redacted_config,
    resolve_api_key,
    secrets_of,
)
from watcher.config.sections import (
    MAX_API_TIMEOUT,
    MAX_HORIZON,
    MAX_POLL_INTERVAL,
    MAX_RETENTION,
    MAX_RETRY_DELAY,
    MAX_SEND_TIMEOUT,
)
from watcher.state import Store

SECRET = "sk-live-REALKEY0123456789abcdef"
UUID_UPPER = "3C90C3CC-0D44-4B50-8888-8DD25736052A"
UUID = UUID_UPPER.lower()


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loads without a path never see a ./watcher.yaml of the working directory."""
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"  # not ./watcher.yaml: loads without a path must not see it
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path | None, environ: dict[str, str]) -> str:
    """The one-line message of the ConfigError the load raises."""
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ)
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.__cause__ is None
    return message


def check_config(tmp_path: Path, text: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m watcher --config FILE check-config` with only ``env`` configuring it."""
    return subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(write(tmp_path, text)), "check-config"],
        cwd=tmp_path,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_exit_2_one_line(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


# --- 1. durations: no OverflowError, an upper bound on each -----------------------------------

BOUNDS = [
    ("dataframer", "timeout", MAX_API_TIMEOUT, "10m"),
    ("poll", "interval", MAX_POLL_INTERVAL, "1d"),
    ("state", "retention", MAX_RETENTION, "3650d"),
    ("delivery", "timeout", MAX_SEND_TIMEOUT, "1h"),
    ("delivery", "retry_initial", MAX_RETRY_DELAY, "1d"),
    ("delivery", "retry_max", MAX_RETRY_DELAY, "1d"),
    ("delivery", "horizon", MAX_HORIZON, "365d"),
]


@pytest.mark.parametrize(("section", "key", "maximum", "shown"), BOUNDS)
@pytest.mark.parametrize("value", ["1e400", "1e10d", "1e308d", "99999999999999999999d"])
def test_huge_durations_are_one_line_errors(
    tmp_path: Path, section: str, key: str, maximum: float, shown: str, value: str
) -> None:
    """From the environment or the file, too large a duration names its bound."""
    variable = f"WATCHER_{section.upper()}__{key.upper()}"
    message = config_error(None, {variable: value})
    assert f"{section}.{key} (from {variable}): must be at most {shown} (got {value!r})" in message
    path = write(tmp_path, f"{section}:\n  {key}: {value}\n")
    assert f"{section}.{key}: must be at most {shown}" in config_error(path, {})


@pytest.mark.parametrize(("section", "key", "maximum", "shown"), BOUNDS)
def test_each_bound_is_accepted_and_usable(
    tmp_path: Path, section: str, key: str, maximum: float, shown: str
) -> None:
    """The bound itself loads, and the arithmetic the daemon does with it does not overflow."""
    environ = {f"WATCHER_{section.upper()}__{key.upper()}": shown}
    if key == "retry_initial":
        environ["WATCHER_DELIVERY__RETRY_MAX"] = shown  # retry_max must cover it
    settings = load_settings(environ=environ)
    assert getattr(getattr(settings, section), key) == maximum
    now = datetime.now(UTC)
    assert now - timedelta(seconds=maximum) < now < now + timedelta(seconds=maximum)
    IntervalTrigger(seconds=maximum)


def test_prune_at_the_longest_retention(tmp_path: Path) -> None:
    """state.retention at its bound: the prune job computes its cutoff (it raised before)."""
    store = Store.open(tmp_path / "w.db")
    try:
        assert store.prune(datetime.now(UTC), MAX_RETENTION) == 0
    finally:
        store.close()


@pytest.mark.parametrize("value", ["1e400", "1e10d"])
def test_check_config_refuses_a_huge_interval(tmp_path: Path, value: str) -> None:
    """The CLI: exit 2 and one line, where 1e400 was a traceback and 1e10d crashed `run`."""
    result = check_config(tmp_path, "", WATCHER_POLL__INTERVAL=value)
    assert_exit_2_one_line(result, "poll.interval (from WATCHER_POLL__INTERVAL)", "at most 1d")


def test_huge_numbers_in_yaml_are_one_line(tmp_path: Path) -> None:
    """A 5000-digit number made PyYAML raise a bare ValueError."""
    for text in ("a: " + "9" * 5000 + "\n", "poll:\n  interval: " + "9" * 5000 + "\n"):
        message = config_error(write(tmp_path, text), {})
        assert "invalid YAML: a value cannot be read" in message
        assert "9" * 50 not in message


# --- 2. top-level keys that are not strings -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown", "line"),
    [
        ("1: 2\n", "1", 1),
        ("true: 1\n", "true", 1),
        ("null: 1\n", "null", 1),
        ("poll:\n  interval: 5s\n2.5: x\n", "2.5", 3),
    ],
)
def test_non_string_top_level_key(tmp_path: Path, text: str, shown: str, line: int) -> None:
    """Named with its line, where it was an AttributeError traceback."""
    path = write(tmp_path, text)
    message = config_error(path, {})
    assert message.startswith(f"config error in {path}: line {line}: top-level key {shown} ")
    assert "is not a section name" in message


def test_non_string_top_level_key_from_the_cli(tmp_path: Path) -> None:
    assert_exit_2_one_line(check_config(tmp_path, "true: 1\n"), "line 1", "top-level key true")


# --- 3. misspelled WATCHER_* variables ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("WATCHER_POLL_INTERVAL", "WATCHER_POLL__INTERVAL"),
        ("WATCHER_TRACK_ALL", "WATCHER_TRACK__ALL"),
        ("WATCHER_CHANNEL__TEAM", "WATCHER_CHANNELS__TEAM"),
        ("WATCHER_CHANNELS_TEAM", "WATCHER_CHANNELS__TEAM"),
        ("WATCHER_DATAFRAMER_API_KEY", "WATCHER_DATAFRAMER__API_KEY"),
        ("WATCHER_POLL__INTERVAL__X", "WATCHER_POLL__INTERVAL"),
        ("watcher_state_path", "WATCHER_STATE__PATH"),
        ("WATCHER_BOGUS", None),
    ],
)
def test_unknown_variable_is_an_error(name: str, suggestion: str | None) -> None:
    """Each is named (never its value), with the variable it probably meant."""
    message = config_error(None, {name: SECRET})
    assert f"environment variable {name} sets nothing" in message
    assert SECRET not in message
    if suggestion is not None:
        assert f"(did you mean {suggestion}?)" in message
    else:
        assert "WATCHER_<SECTION>__<KEY>" in message


def test_every_unknown_variable_is_named_at_once() -> None:
    message = config_error(None, {"WATCHER_BOGUS": "1", "WATCHER_TRACK_ALL": "true"})
    assert "WATCHER_BOGUS" in message
    assert "WATCHER_TRACK_ALL" in message


def test_known_and_empty_variables_pass(tmp_path: Path) -> None:
    """WATCHER_CONFIG is the program's own; an empty variable means unset, as elsewhere."""
    path = write(tmp_path, "")
    settings = load_settings(
        environ={"WATCHER_CONFIG": str(path), "WATCHER_BOGUS": "", "WATCHER_CHANNELS__TEAM": ""}
    )
    assert settings.source_path == path


def test_shipped_deployments_set_only_known_variables() -> None:
    """Every WATCHER_* the systemd unit, the Dockerfile and compose.yaml set loads."""
    text = "\n".join(
        (ROOT / name).read_text(encoding="utf-8")
        for name in ("systemd/dataframer-watcher.service", "Dockerfile")
    )
    environ = dict(re.findall(r"\b(WATCHER_[A-Z_]+)=(\S+)", text))
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    environ.update(compose["services"]["watcher"]["environment"])
    environ.pop("WATCHER_CONFIG")  # names a file of the image
    assert {"WATCHER_STATE__PATH", "WATCHER_HEALTH__LISTEN"} <= set(environ)
    load_settings(environ={k: str(v) for k, v in environ.items()})


def test_check_config_refuses_a_misspelled_variable(tmp_path: Path) -> None:
    result = check_config(tmp_path, "", WATCHER_POLL_INTERVAL="5s")
    assert_exit_2_one_line(
        result, "WATCHER_POLL_INTERVAL sets nothing", "did you mean WATCHER_POLL__INTERVAL?"
    )


# --- 4. api_key and api_key_file are one setting -------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key"
    path.write_text("file-key-0123456789\n")
    return path


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    directory = tmp_path / "credentials"
    directory.mkdir()
    (directory / "DATAFRAMER_API_KEY").write_text("cred-key-0123456789")
    return directory


def test_env_key_file_beats_a_yaml_key(tmp_path: Path, key_file: Path) -> None:
    path = write(tmp_path, "dataframer:\n  api_key: yaml-key-0123456789\n")
    settings = load_settings(path, environ={"WATCHER_DATAFRAMER__API_KEY_FILE": str(key_file)})
    assert resolve_api_key(settings) == "file-key-0123456789"
    assert redacted_config(settings)["dataframer"]["api_key"] == f"(from api_key_file {key_file})"
    assert (
        f"dataframer.api_key (from {path}) is ignored: dataframer.api_key_file "
        "(from WATCHER_DATAFRAMER__API_KEY_FILE) takes precedence"
    ) in config_warnings(settings)
    assert "yaml-key-0123456789" in secrets_of(settings)  # still scrubbed from the logs


def test_yaml_key_file_beats_a_credential_key(
    tmp_path: Path, key_file: Path, credentials: Path
) -> None:
    path = write(tmp_path, f"dataframer:\n  api_key_file: {key_file}\n")
    settings = load_settings(path, environ={"CREDENTIALS_DIRECTORY": str(credentials)})
    assert resolve_api_key(settings) == "file-key-0123456789"
    assert config_warnings(settings) == [
        f"dataframer.api_key (from a credential file in {credentials}) is ignored: "
        f"dataframer.api_key_file (from {path}) takes precedence"
    ]


def test_sdk_key_beats_a_yaml_key_file(tmp_path: Path, key_file: Path) -> None:
    path = write(tmp_path, f"dataframer:\n  api_key_file: {key_file}\n")
    settings = load_settings(path, environ={"DATAFRAMER_API_KEY": "env-key-0123456789"})
    assert resolve_api_key(settings) == "env-key-0123456789"
    assert redacted_config(settings)["dataframer"]["api_key"] == "***"


def test_one_source_with_both_uses_the_key(tmp_path: Path, key_file: Path) -> None:
    path = write(
        tmp_path, f"dataframer:\n  api_key: yaml-key-0123456789\n  api_key_file: {key_file}\n"
    )
    settings = load_settings(path, environ={})
    assert resolve_api_key(settings) == "yaml-key-0123456789"
    assert (
        f"dataframer.api_key_file (from {path}) is ignored: dataframer.api_key is set there "
        "too, and wins"
    ) in config_warnings(settings)


def test_blank_higher_key_does_not_claim_the_setting(
    tmp_path: Path, key_file: Path, credentials: Path
) -> None:
    """A blank DATAFRAMER_API_KEY is unset: the file's api_key_file decides."""
    path = write(tmp_path, f"dataframer:\n  api_key_file: {key_file}\n")
    environ = {"DATAFRAMER_API_KEY": "  ", "CREDENTIALS_DIRECTORY": str(credentials)}
    assert resolve_api_key(load_settings(path, environ=environ)) == "file-key-0123456789"


# --- 5. channel names are case-insensitive --------------------------------------------------


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


# --- 6. a swapped DATAFRAMER_BASE_URL is never echoed ---------------------------------------


def test_a_key_in_base_url_is_masked() -> None:
    message = config_error(None, {"DATAFRAMER_BASE_URL": SECRET})
    assert "dataframer.base_url (from DATAFRAMER_BASE_URL)" in message
    assert "(got 'sk***'" in message
    assert SECRET[2:8] not in message


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (
            f"ftp://user:{SECRET}@files.example.com:21/p?token={SECRET}",
            "'ftp://files.example.com:21'",
        ),
        (f"https://:{SECRET}@", "'ht***'"),
        (f"localhost:{SECRET}", "'lo***'"),
    ],
)
def test_base_url_shows_scheme_and_host_at_most(value: str, shown: str) -> None:
    message = config_error(None, {"WATCHER_DATAFRAMER__BASE_URL": value})
    assert f"(got {shown}" in message
    assert SECRET[2:8] not in message
    assert "user" not in message


def test_swapped_base_url_from_the_cli(tmp_path: Path) -> None:
    result = check_config(tmp_path, "", DATAFRAMER_BASE_URL=SECRET)
    assert SECRET[2:8] not in assert_exit_2_one_line(result, "dataframer.base_url")


# --- 7. run ids are normalised ----------------------------------------------------------------


def test_run_ids_are_normalised_and_deduplicated(tmp_path: Path) -> None:
    path = write(tmp_path, f"track:\n  runs: ['{UUID_UPPER}', ' {UUID} ', Run-7]\n")
    assert load_settings(path, environ={}).track.runs == [UUID, "Run-7"]
    environ = {"WATCHER_TRACK__RUNS": f"{UUID_UPPER}, {UUID}"}
    assert load_settings(environ=environ).track.runs == [UUID]


def test_a_bad_run_id_is_quoted(tmp_path: Path) -> None:
    path = write(tmp_path, "track:\n  runs: [good-1, 'bad id/x']\n")
    assert "track.runs: not a run id: 'bad id/x'" in config_error(path, {})
    message = config_error(None, {"WATCHER_TRACK__RUNS": '["../etc"]'})
    assert "track.runs (from WATCHER_TRACK__RUNS): not a run id: '../etc'" in message


# --- 8. the state path is a file --------------------------------------------------------------


def test_empty_state_path(tmp_path: Path) -> None:
    message = config_error(write(tmp_path, "state:\n  path: ''\n"), {})
    assert "state.path: must not be empty" in message


def test_state_path_naming_a_directory(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    message = config_error(write(tmp_path, f"state:\n  path: {directory}\n"), {})
    assert f"state.path: {directory} is a directory" in message
    message = config_error(None, {"WATCHER_STATE__PATH": str(directory)})
    assert "state.path (from WATCHER_STATE__PATH)" in message
    assert "must name a file" in config_error(None, {"WATCHER_STATE__PATH": "/var/lib/x/"})


def test_state_path_directory_from_the_cli(tmp_path: Path) -> None:
    result = check_config(tmp_path, f"state:\n  path: {tmp_path}\n")
    assert_exit_2_one_line(result, "state.path", "is a directory")


# --- 9. grammar -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("dataframer:\n  api_key_file: 3\n", "must be a file path (got a number)"),
        ("track:\n  runs: {a: 1}\n", "must be a list of run ids (got a mapping)"),
        ("track:\n  runs: [1.5]\n", "a run id must be a string (got a number)"),
        ("poll:\n  interval: {a: 1}\n", "a mapping is not a duration"),
        ("[1]\n", "(got a list)"),
    ],
)
def test_kinds_are_named_in_english(tmp_path: Path, text: str, fragment: str) -> None:
    message = config_error(write(tmp_path, text), {})
    assert fragment in message
    assert not re.search(r"\ba (int|float|dict|NoneType|bool)\b", message)


# --- 10. loads that do not expand channel URLs ----------------------------------------------

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


def test_an_env_key_holding_the_delimiter_is_not_suggested_back() -> None:
    """WATCHER_CHANNELS__A__B cannot set a channel; the hint never names the variable itself."""
    message = config_error(None, {"WATCHER_CHANNELS__A__B": "json://x"})
    assert "WATCHER_CHANNELS__A__B" in message
    assert "did you mean WATCHER_CHANNELS__A__B" not in message

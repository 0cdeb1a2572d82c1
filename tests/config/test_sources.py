"""Where values come from (`watcher.config.sources`): the YAML file read strictly (top-level
keys that are not section names, numbers PyYAML cannot read), and api_key / api_key_file as one
setting decided by the highest source that gives either."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.helpers import assert_exit_2_one_line, check_config, config_error, write
from watcher.config import (
    config_warnings,
    load_settings,
    redacted_config,
    resolve_api_key,
    secrets_of,
)

pytestmark = pytest.mark.usefixtures("in_tmp")


# --- the YAML file -----------------------------------------------------------------------------


def test_huge_numbers_in_yaml_are_one_line(tmp_path: Path) -> None:
    """A 5000-digit number made PyYAML raise a bare ValueError."""
    for text in ("a: " + "9" * 5000 + "\n", "poll:\n  interval: " + "9" * 5000 + "\n"):
        message = config_error(write(tmp_path, text), {})
        assert "invalid YAML: a value cannot be read" in message
        assert "9" * 50 not in message


# --- top-level keys that are not strings ------------------------------------------------------


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


# --- api_key and api_key_file are one setting -------------------------------------------------


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

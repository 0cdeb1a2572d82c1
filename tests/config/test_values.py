"""Single values (`watcher.config.values`), read through a load: run ids normalised, the state
path a file, kinds named in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.config.helpers import assert_exit_2_one_line, check_config, config_error, write
from watcher.config import load_settings

pytestmark = pytest.mark.usefixtures("in_tmp")

UUID_UPPER = "3C90C3CC-0D44-4B50-8888-8DD25736052A"
UUID = UUID_UPPER.lower()


# --- run ids are normalised -------------------------------------------------------------------


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


# --- the state path is a file -----------------------------------------------------------------


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


# --- grammar ----------------------------------------------------------------------------------


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

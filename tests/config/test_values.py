"""Single values (`watcher.config.values`): run ids normalised, the state path a file, kinds
named in English, and the one spelling of a channel name."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.config.helpers import assert_exit_2_one_line, check_config, config_error, write
from watcher.config import load_settings
from watcher.config.values import channel_key, fold_channel_names, name_list, run_id_list

pytestmark = pytest.mark.usefixtures("in_tmp")

UUID_UPPER = "3C90C3CC-0D44-4B50-8888-8DD25736052A"
UUID = UUID_UPPER.lower()
PROPERTIES = settings(database=None, max_examples=200, deadline=None)


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


# --- the one spelling of a channel name ------------------------------------------------------

CHANNEL_NAMES = st.text(alphabet=string.ascii_letters + string.digits + "_.-", min_size=1)


@PROPERTIES
@given(CHANNEL_NAMES)
def test_channel_key_ignores_case_and_is_stable(name: str) -> None:
    """Any casing of a name has one spelling, and the spelling is its own."""
    key = channel_key(name)
    assert key == channel_key(name.upper()) == channel_key(name.swapcase())
    assert channel_key(key) == key


@PROPERTIES
@given(st.dictionaries(CHANNEL_NAMES, st.just(["json://a.example.com"]), max_size=6))
def test_folding_keys_each_channel_by_its_spelling(channels: dict[str, list[str]]) -> None:
    """Folded names are the channel_key of each, in order; two spellings of one name are an
    error naming both."""
    keys = [channel_key(name) for name in channels]
    if len(set(keys)) < len(keys):
        with pytest.raises(ValueError, match="differ only by case"):
            fold_channel_names(channels)
        return
    folded = fold_channel_names(channels)
    assert list(folded) == keys
    assert fold_channel_names(folded) == folded


def test_route_channel_names_are_spelled_like_channels() -> None:
    """A route's channel list: stripped, spelled by channel_key, each once."""
    check = name_list("channel", spelling=channel_key).func
    assert check([" Team", "team ", "OnCall"]) == ["team", "oncall"]
    assert name_list("spec pattern").func(["Nightly-*", "Nightly-*"]) == ["Nightly-*"]


# --- track.runs: every form, each run once ----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("a, b ,a", ["a", "b"]),
        ("", []),
        ('["Run-1", "run-1"]', ["Run-1", "run-1"]),  # plain tokens keep their case
        ([UUID_UPPER, f" {UUID} "], [UUID]),
        ([42, "42"], ["42"]),
    ],
)
def test_run_id_list_reads_every_form(value: object, ids: list[str]) -> None:
    assert run_id_list(value) == ids


def test_run_id_list_checks_items_in_order() -> None:
    """The first bad item is the one named."""
    with pytest.raises(ValueError, match="not a run id: 'bad id'"):
        run_id_list(["bad id", 1.5])
    with pytest.raises(ValueError, match="must be a string"):
        run_id_list([1.5, "bad id"])

"""The walk over the settings model's fields (`watcher.config.fields`), and the one guess at a
misspelt name, shared by the unknown-key messages and the WATCHER_* variable check."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.helpers import config_error, write
from watcher.config import PollConfig, Route, Settings
from watcher.config.env import unknown_variables
from watcher.config.fields import did_you_mean, holds_mapping, model_at

SECTIONS = [
    (field, section)
    for field in Settings.model_fields
    if (section := model_at(Settings, (field,), into_lists=False)) is not None
]
KEYS = [(field, key) for field, section in SECTIONS for key in section.model_fields]


def test_model_at_walks_sections_and_lists_of_models() -> None:
    assert model_at(Settings, ()) is Settings
    assert model_at(Settings, ("poll",)) is PollConfig
    assert model_at(Settings, ("routes", 0)) is Route
    assert model_at(Settings, ("routes",)) is Route  # positions are skipped


@pytest.mark.parametrize(
    ("path", "into_lists"),
    [
        (("routes",), False),  # a variable cannot set one route
        (("channels",), True),  # a mapping: its keys are the user's
        (("poll", "interval"), True),  # a plain value
        (("bogus",), True),
        (("poll", "bogus"), True),
    ],
)
def test_model_at_is_none_off_the_models(path: tuple[str, ...], into_lists: bool) -> None:
    assert model_at(Settings, path, into_lists=into_lists) is None


def test_holds_mapping() -> None:
    assert holds_mapping(Settings, "channels")
    assert not holds_mapping(Settings, "routes")
    assert not holds_mapping(Settings, "poll")
    assert not holds_mapping(Settings, "bogus")


def test_did_you_mean() -> None:
    assert did_you_mean("intervall", ["interval", "timeout"]) == "interval"
    assert did_you_mean("frobnicate", ["interval", "timeout"]) is None
    assert did_you_mean("POLL_INTERVAL", ["POLL__INTERVAL", "POLL"], cutoff=0.75) == (
        "POLL__INTERVAL"
    )


@pytest.mark.parametrize(("section", "key"), KEYS)
def test_every_key_is_a_variable_the_environment_check_accepts(section: str, key: str) -> None:
    """The walk and the variable check agree: each key of each section can be set."""
    assert unknown_variables({f"WATCHER_{section.upper()}__{key.upper()}": "x"}, Settings) == []


@pytest.mark.parametrize(("section", "key"), KEYS)
def test_every_misspelt_key_is_answered_with_the_key(
    tmp_path: Path, section: str, key: str
) -> None:
    """A key with one letter doubled, in the file: "unknown key (did you mean 'key'?)"."""
    typo = key + key[-1]
    message = config_error(write(tmp_path, f"{section}:\n  {typo}: 1\n"), {})
    assert f"{section}.{typo}: unknown key (did you mean {key!r}?)" in message


@pytest.mark.parametrize(("section", "key"), KEYS)
def test_every_variable_with_one_underscore_is_answered(section: str, key: str) -> None:
    """WATCHER_POLL_INTERVAL sets nothing: "did you mean WATCHER_POLL__INTERVAL?"."""
    meant = f"WATCHER_{section.upper()}__{key.upper()}"
    typo = meant.replace("__", "_")
    [problem] = unknown_variables({typo: "x"}, Settings)
    assert problem == f"environment variable {typo} sets nothing (did you mean {meant}?)"

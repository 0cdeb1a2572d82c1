"""The `track` section's job kinds: references in `track.runs`, `track.kinds` (what discovery
reads) and `track.filter` (what it keeps); every mistake one line naming the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.config.helpers import check_config, config_error, write
from watcher.config import load_settings

UUID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


def test_defaults_discover_generation_runs_unfiltered(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "track: {all: true}\n"), environ={})
    assert settings.track.kinds == ["run"]
    assert settings.track.filter.specs is None
    assert settings.track.filter.creators is None
    assert settings.track.filter.datasets is None


def test_kinds_in_any_spelling_each_once(tmp_path: Path) -> None:
    text = "track: {all: true, kinds: [run, Red-Team, red_team, anonymization]}\n"
    settings = load_settings(write(tmp_path, text), environ={})
    assert settings.track.kinds == ["run", "red_team", "anonymization"]


def test_kinds_from_the_environment(tmp_path: Path) -> None:
    environ = {"WATCHER_TRACK__KINDS": "run,red-team"}
    settings = load_settings(write(tmp_path, "track: {all: true}\n"), environ=environ)
    assert settings.track.kinds == ["run", "red_team"]


def test_references_in_track_runs_are_canonical(tmp_path: Path) -> None:
    text = f"track: {{runs: ['{UUID.upper()}', 'red_team:{UUID}', ' Evaluation:e-1 ']}}\n"
    settings = load_settings(write(tmp_path, text), environ={})
    assert settings.track.runs == [UUID, f"red-team:{UUID}", "evaluation:e-1"]


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "track: {all: true, kinds: [run, evaluation]}\n",
            ["track.kinds", "evaluation cannot be discovered", "evaluation:ID"],
        ),
        ("track: {kinds: [run, jobs]}\n", ["track.kinds", "unknown kind 'jobs'", "red_team"]),
        ("track: {kinds: []}\n", ["track.kinds", "at least one kind"]),
        ("track: {kinds: [7]}\n", ["track.kinds", "must be a string"]),
        ("track: {runs: ['evaluation:']}\n", ["track.runs", "no id after evaluation:"]),
        (f"track: {{runs: ['foo:{UUID}']}}\n", ["track.runs", "unknown kind 'foo'"]),
        ("track: {filter: {specs: ['']}}\n", ["track.filter.specs", "must not be empty"]),
        ("track: {filter: {spec: ['a*']}}\n", ["track.filter", "spec"]),
    ],
)
def test_a_bad_track_section_is_one_line_naming_it(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    message = config_error(write(tmp_path, text), {})
    for fragment in fragments:
        assert fragment in message, message


def test_check_config_refuses_a_kind_it_cannot_discover(tmp_path: Path) -> None:
    """The command exits 2 with one line on stderr, no traceback."""
    result = check_config(tmp_path, "track: {all: true, kinds: [evaluation]}\n")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "evaluation cannot be discovered" in lines[0], result.stderr
    assert "Traceback" not in result.stderr

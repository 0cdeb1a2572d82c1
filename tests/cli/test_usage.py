"""Bad usage on the command line: one line `dataframer-watcher: <message>`, exit 2; run ids
as people paste them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import cli, write

UUID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"

USAGE_ERRORS = {
    "unknown-command": (["frobnicate"], "frobnicate"),
    "unknown-option": (["status", "--jsn"], "--jsn"),
    "unknown-global-option": (["--bogus", "status"], "--bogus"),
    "missing-argument": (["track"], "RUN_ID"),
    "out-of-range": (["history", "--limit", "0"], "--limit"),
    "not-a-number": (["simulate", "--port", "http"], "--port"),
    "extra-argument": (["status", "extra"], "extra"),
    "junk-run-id": (["track", "../../etc/passwd"], "../../etc/passwd"),
    "junk-run-id-history": (["history", "a b"], "'a b'"),
}


@pytest.mark.parametrize("name", sorted(USAGE_ERRORS))
def test_usage_errors_are_one_line_exit_2(name: str, tmp_path: Path) -> None:
    """Every usage error: exactly one stderr line, prefixed, naming the culprit; no usage dump."""
    args, culprit = USAGE_ERRORS[name]
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dataframer-watcher: "), lines[0]
    assert culprit in lines[0]
    assert "Usage:" not in result.stderr
    assert "Error:" not in result.stderr
    assert result.stdout == ""


def test_help_and_version_still_work(tmp_path: Path) -> None:
    """--help (global and per command) and --version print as before and exit 0."""
    top = cli("--help", cwd=tmp_path)
    assert top.returncode == 0
    assert "Usage: dataframer-watcher" in top.stdout
    sub = cli("track", "--help", cwd=tmp_path)
    assert sub.returncode == 0
    assert "RUN_ID..." in sub.stdout
    assert cli("--version", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("DIR", "names a directory"),
        ("  ", "is blank"),
        ("\t", "is blank"),
    ],
)
def test_watcher_config_blank_or_a_directory_is_one_line(
    value: str, words: str, tmp_path: Path
) -> None:
    """WATCHER_CONFIG set to a directory or to blanks: one line naming the variable, exit 2."""
    env_value = str(tmp_path) if value == "DIR" else value
    result = cli("status", cwd=tmp_path, env={"WATCHER_CONFIG": env_value})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "WATCHER_CONFIG" in lines[0]
    assert words in lines[0]
    if value == "DIR":
        assert str(tmp_path) in lines[0]


def test_config_option_naming_a_directory_is_one_line(tmp_path: Path) -> None:
    """--config DIR names the option and the path."""
    result = cli("--config", str(tmp_path), "status", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"dataframer-watcher: --config names a directory, not a YAML config file: {tmp_path}"
    ]


def test_watcher_config_is_stripped(tmp_path: Path) -> None:
    """Blanks around WATCHER_CONFIG's path (a pasted value) do not make another file."""
    config = write(tmp_path / "watcher.yaml", f"state:\n  path: {tmp_path / 'w.db'}\n")
    result = cli("status", "--json", cwd=tmp_path, env={"WATCHER_CONFIG": f"  {config}\n"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == str(tmp_path / "w.db")


def test_run_ids_are_normalized_on_the_command_line(tmp_path: Path) -> None:
    """track ' 3C90…' and track 3c90… are the same run; untrack and history agree."""
    config = write(tmp_path / "watcher.yaml", f"state:\n  path: {tmp_path / 'w.db'}\n")
    first = cli("--config", str(config), "track", f" {UUID.upper()} ", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"{UUID}: added"
    again = cli("--config", str(config), "track", UUID, f"{UUID.upper()}\n", cwd=tmp_path)
    assert again.stdout.strip() == f"{UUID}: already tracked"
    status = json.loads(cli("--config", str(config), "status", "--json", cwd=tmp_path).stdout)
    assert [run["run_id"] for run in status["runs"]] == [UUID]
    history = cli("--config", str(config), "history", UUID.upper(), cwd=tmp_path)
    assert history.stdout.strip() == f"no history for run {UUID}"
    gone = cli("--config", str(config), "untrack", UUID.upper(), cwd=tmp_path)
    assert gone.stdout.strip() == f"{UUID}: untracked"


def test_a_junk_id_among_good_ones_changes_nothing(tmp_path: Path) -> None:
    """One bad id: exit 2 naming it, and the good ids beside it are not tracked either."""
    state = tmp_path / "w.db"
    config = write(tmp_path / "watcher.yaml", f"state:\n  path: {state}\n")
    result = cli("--config", str(config), "track", UUID, "not/an id", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert "'not/an id'" in result.stderr
    assert not state.exists()

"""Run references on the command line: every command that takes a run id takes every kind's
reference, and refuses a bad one with one line naming it (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import cli, write

UUID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
COMMANDS = [
    ["track"],
    ["untrack"],
    ["history"],
    ["render", "--run"],
    ["mute", "--for", "1h", "--run"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("evaluation:", "no id after evaluation:"),
        (f"foo:{UUID}", "unknown kind 'foo'"),
        ("red-team:a b", "not a run id"),
    ],
)
def test_a_bad_reference_is_one_line_exit_2(
    tmp_path: Path, command: list[str], bad: str, says: str
) -> None:
    result = cli(*command, bad, cwd=tmp_path)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert says in lines[0], lines[0]
    assert repr(bad) in lines[0], lines[0]
    assert not (tmp_path / "state").exists()  # nothing was stored


def test_track_stores_canonical_references_of_every_kind(tmp_path: Path) -> None:
    """However a reference is typed, `track` stores (and prints) its canonical form, and
    `status`, `untrack` and `mute --run` find the job by any spelling of it."""
    config = write(tmp_path / "watcher.yaml", f"state: {{path: {tmp_path / 'w.db'}}}\n")
    args = ["--config", str(config)]
    typed = [UUID.upper(), f"Evaluation:{UUID}", f"red_team:{UUID}", f"anonymization:{UUID}"]
    out = cli(*args, "track", *typed, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    keys = [UUID, f"evaluation:{UUID}", f"red-team:{UUID}", f"anonymization:{UUID}"]
    for key in keys:
        assert f"{key}: added" in out.stdout, out.stdout
    status = json.loads(cli(*args, "status", "--json", cwd=tmp_path).stdout)
    assert {r["run_id"]: r["kind"] for r in status["runs"]} == dict(
        zip(keys, ["run", "evaluation", "red_team", "anonymization"], strict=True)
    )
    muted = cli(*args, "mute", "--run", f"RED-TEAM:{UUID.upper()}", "--for", "1h", cwd=tmp_path)
    assert muted.returncode == 0, muted.stderr
    mutes = json.loads(cli(*args, "mutes", "--json", cwd=tmp_path).stdout)
    assert [m["pattern"] for m in mutes] == [f"red-team:{UUID}"]
    gone = cli(*args, "untrack", f"red_team:{UUID}", cwd=tmp_path)
    assert f"red-team:{UUID}: untracked" in gone.stdout, gone.stdout

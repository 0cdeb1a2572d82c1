"""`routes[].actions`: every bad action is one line naming it; good ones load as written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.config.helpers import check_config, config_error, write
from watcher.config import config_warnings, load_settings

KEY = {"DATAFRAMER_API_KEY": "sk-test-123456"}
HEAD = "channels:\n  team: json://127.0.0.1:9/x\nroutes:\n  - channels: [team]\n    actions:\n"

BAD = [
    (
        "exec: 'ingest --all'",
        "routes[0].actions[0].exec: must be a list (the program and its arguments, no shell),"
        " such as ['ingest', ...]",
    ),
    ("exec: []", "routes[0].actions[0].exec: must name a program to run: the list is empty"),
    ("exec: ['']", "routes[0].actions[0].exec: the program (argument 0) must not be empty"),
    ("exec: [ingest, [a]]", "routes[0].actions[0].exec: argument 1 must be a string (got a list)"),
    ("exec: {a: 1}", "routes[0].actions[0].exec: must be a list of strings (got a mapping)"),
    (
        "exec: [ingest]\n        download: /tmp",
        "routes[0].actions[0]: an action is either `exec: [PROGRAM, ARGS...]` or `download: DIR`",
    ),
    (
        "{}",
        "routes[0].actions[0]: an action is either `exec: [PROGRAM, ARGS...]` or `download: DIR`",
    ),
    (
        "exec: [ingest]\n        timeout: 0s",
        "routes[0].actions[0].timeout: must be greater than 0s (got '0s')",
    ),
    (
        "exec: [ingest]\n        timeout: 2d",
        "routes[0].actions[0].timeout: must be at most 1d (got '2d')",
    ),
    (
        "download: /tmp\n        timeout: 1m",
        "routes[0].actions[0]: timeout applies to exec actions only",
    ),
    ("download: ''", "routes[0].actions[0].download: must name a directory, such as ./downloads"),
    ("download: [a]", "routes[0].actions[0].download: must be a directory path (got a list)"),
    ("run: [ingest]", "routes[0].actions[0].run: unknown key"),
]


@pytest.mark.parametrize(("action", "expected"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_action_is_one_line_naming_it(tmp_path: Path, action: str, expected: str) -> None:
    """Each mistake is refused with the field's path and what is wrong, in one line."""
    message = config_error(write(tmp_path, HEAD + f"      - {action}\n"), KEY)
    assert expected in message


def test_a_download_into_a_file_is_refused(tmp_path: Path) -> None:
    """A DIR that exists as a file can never take the downloads."""
    (tmp_path / "taken").write_text("x")
    message = config_error(write(tmp_path, HEAD + f"      - download: {tmp_path / 'taken'}\n"), KEY)
    assert "routes[0].actions[0].download: " in message
    assert "exists and is not a directory" in message


def test_a_route_with_neither_channels_nor_actions_is_refused(tmp_path: Path) -> None:
    """An empty route does nothing: refused, as a route without channels always was."""
    text = "channels:\n  team: json://127.0.0.1:9/x\nroutes:\n  - channels: []\n"
    assert "routes[0]: a route needs channels, actions, or both" in config_error(
        write(tmp_path, text), KEY
    )


def test_an_actions_only_route_needs_no_channels(tmp_path: Path) -> None:
    """A route may only run actions; exec keeps its argv, the timeout defaults to 5m and a
    relative download directory is made absolute from the working directory."""
    text = (
        "routes:\n  - statuses: [SUCCEEDED]\n    actions:\n"
        "      - exec: [/bin/echo, 1, --flag]\n      - download: ./out\n"
    )
    settings = load_settings(write(tmp_path, text), environ=KEY)
    (route,) = settings.routes
    assert route.channels == []
    assert [a.spec() for a in route.actions] == [
        {"exec": ["/bin/echo", "1", "--flag"], "timeout": 300.0},
        {"download": str(Path.cwd() / "out")},
    ]


def test_check_config_shows_actions_as_given_and_warns_when_they_cannot_run(
    tmp_path: Path,
) -> None:
    """check-config prints each action without unused keys; it warns about actions on a
    STUCK-only route (actions run for finished runs) and a program that is not there."""
    text = (
        "channels:\n  team: json://127.0.0.1:9/x\nalerts:\n  stuck: {pending_after: 1h}\n"
        "routes:\n  - statuses: [STUCK]\n    channels: [team]\n    actions:\n"
        "      - exec: [no-such-program-xyz, --go]\n        timeout: 30s\n"
        "      - download: out\n"
    )
    done = check_config(tmp_path, text, **KEY)
    assert done.returncode == 0, done.stderr
    shown = yaml.safe_load(done.stdout.split("config ok")[0])
    assert shown["routes"][0]["actions"] == [
        {"exec": ["no-such-program-xyz", "--go"], "timeout": "30s"},
        {"download": str(tmp_path / "out")},
    ]
    assert (
        "routes[0].actions: this route matches only STUCK alerts, and actions run only when a"
        " run finishes" in done.stderr
    )
    assert "routes[0].actions[0].exec: 'no-such-program-xyz' is not an executable" in done.stderr
    settings = load_settings(write(tmp_path, text), environ=KEY)
    assert len([w for w in config_warnings(settings) if "actions" in w]) == 2


def test_a_download_on_kinds_without_files_is_warned_about(tmp_path: Path) -> None:
    """Evaluations and red-team runs produce no files: a download on a route only for them
    saves nothing, and check-config says so; a route that also takes anonymization runs (or
    any kind) is not warned about."""
    text = (
        "routes:\n  - kinds: [evaluation, red-team]\n    actions:\n      - download: out\n"
        "  - kinds: [red_team, anonymization]\n    actions:\n      - download: out\n"
        "  - actions:\n      - download: out\n"
    )
    done = check_config(tmp_path, text, **KEY)
    assert done.returncode == 0, done.stderr
    assert (
        "routes[0].actions[0].download: this route matches only evaluations and red-team runs,"
        " which have no files, so it saves nothing" in done.stderr
    )
    settings = load_settings(write(tmp_path, text), environ=KEY)
    assert [w for w in config_warnings(settings) if "download" in w] == [
        "routes[0].actions[0].download: this route matches only evaluations and red-team runs,"
        " which have no files, so it saves nothing"
    ]

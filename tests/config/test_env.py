"""The environment's names (`watcher.config.env`): a WATCHER_* variable that sets nothing is an
error naming it (never its value), with the variable it probably meant."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.config.helpers import SECRET, assert_exit_2_one_line, check_config, config_error, write
from tests.support import ROOT
from watcher.config import load_settings

pytestmark = pytest.mark.usefixtures("in_tmp")


# --- misspelled WATCHER_* variables -----------------------------------------------------------


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


def test_an_env_key_holding_the_delimiter_is_not_suggested_back() -> None:
    """WATCHER_CHANNELS__A__B cannot set a channel; the hint never names the variable itself."""
    message = config_error(None, {"WATCHER_CHANNELS__A__B": "json://x"})
    assert "WATCHER_CHANNELS__A__B" in message
    assert "did you mean WATCHER_CHANNELS__A__B" not in message

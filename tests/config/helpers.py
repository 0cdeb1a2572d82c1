"""What the configuration's tests share: write a config file, load it expecting one error line,
run check-config as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import clean_env
from watcher.config import ConfigError, load_settings

SECRET = "sk-live-REALKEY0123456789abcdef"


def write(tmp_path: Path, text: str) -> Path:
    """``text`` as ``tmp_path/config.yaml`` (not ./watcher.yaml, which loads without a path see)."""
    path = tmp_path / "config.yaml"
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
    """Exit 2, one line on stderr holding each fragment, no traceback; returns stderr."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr

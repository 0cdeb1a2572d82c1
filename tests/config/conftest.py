"""Fixtures of the configuration's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test inside tmp_path, so ./watcher.yaml lookups never see the repository's."""
    monkeypatch.chdir(tmp_path)
    return tmp_path

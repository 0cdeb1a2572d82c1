"""The status page's files reach the wheel: a page that works from a checkout but not once
installed would be found by its first user."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT

SHIPPED = (
    "watcher/ui/pages/base.html",
    "watcher/ui/pages/index.html",
    "watcher/ui/pages/run.html",
    "watcher/ui/pages/alerts.html",
    "watcher/ui/pages/missing.html",
    "watcher/ui/static/uPlot.iife.min.js",
    "watcher/ui/static/uPlot.min.css",
    "watcher/ui/static/uPlot.LICENSE",
    "watcher/ui/static/page.js",
    "watcher/ui/static/page.css",
)


def test_the_wheel_carries_the_pages_the_script_and_the_chart_with_its_license(
    tmp_path: Path,
) -> None:
    """Build the wheel as pip does (an isolated build) from a copy of the tree, so nothing
    is written into the checkout."""
    tree = tmp_path / "src"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "watcher", tree / "watcher", ignore=shutil.ignore_patterns("__pycache__")
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(tree),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 and "Could not find a version that satisfies" in done.stderr:
        # pip builds in isolation, with the setuptools pyproject.toml asks for.
        pytest.skip("no package index reachable to fetch the build backend")
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in SHIPPED if name not in names] == []
    assert "MIT License" in zipfile.ZipFile(wheel).read("watcher/ui/static/uPlot.LICENSE").decode()

"""Headless Chromium from Debian's `chromium` package, driven from its command line.

`--dump-dom` prints the DOM after the page's scripts ran (`--virtual-time-budget` lets its
timers and fetches settle without a timed sleep), `--screenshot` writes a PNG. No DevTools
client and no browser download: the system binary is the whole dependency, installed by
`make test` where the machine allows (scripts/install-chromium.sh).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> str:
    """The browser's path, or the test skips saying why."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "no chromium on this machine: `make test` installs Debian's package when it runs"
        " as root with apt-get; else `apt-get install chromium`"
    )


def _base(profile: Path, width: int, height: int) -> list[str]:
    return [
        chromium(),
        "--headless",
        "--no-sandbox",  # tests run as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "--virtual-time-budget=5000",
    ]


def dump_dom(url: str, profile: Path, *, width: int = 1280, height: int = 900) -> str:
    """The page's DOM once its scripts have run."""
    done = subprocess.run(
        [*_base(profile, width, height), "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )
    return done.stdout


def screenshot(url: str, out: Path, profile: Path, *, width: int, height: int) -> Path:
    """A PNG of the page at this window size."""
    subprocess.run(
        [*_base(profile, width, height), f"--screenshot={out}", url],
        capture_output=True,
        timeout=90,
        check=True,
    )
    assert out.stat().st_size > 0
    return out

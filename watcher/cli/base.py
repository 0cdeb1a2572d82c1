"""What every command shares: the global options' state, one-line failures, the one event loop.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from watcher.cli.usage import one_line
from watcher.config import ConfigError, Settings, load_settings
from watcher.errors import UsageError, WatcherError

__all__ = ["CliState", "expected_errors", "fail", "run_async"]

T = TypeVar("T")


@dataclass
class CliState:
    """What the global options give every command."""

    config_path: Path | None
    settings: Settings | None = None

    def load(self, *, send: bool = True) -> Settings:
        """The effective settings; a bad config exits 2 with one line.

        Commands that never send (`send=False`) leave `${VAR}` in channel URLs unexpanded:
        the tokens may live only in the daemon's environment (a systemd EnvironmentFile).
        """
        if self.settings is None:
            try:
                self.settings = load_settings(self.config_path, expand_channels=send)
            except ConfigError as exc:
                fail(str(exc), code=2)
        return self.settings


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print one clean line to stderr and exit."""
    click.echo(one_line(message), err=True)
    sys.exit(code)


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine on the process's one event loop: every command that needs a
    loop (`run`, `once`, `test-notify`, `demo`) comes through here, and opens what it uses
    inside it."""
    return asyncio.run(main)


@contextmanager
def expected_errors() -> Iterator[None]:
    """Turn the watcher's own errors into one line and an exit code, never a traceback."""
    try:
        yield
    except (ConfigError, UsageError) as exc:
        fail(str(exc), code=2)
    except WatcherError as exc:
        fail(str(exc), code=1)

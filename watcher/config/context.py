"""The load context: what one load reads (the environment, the YAML path) and what it learns.

pydantic-settings sources and pydantic validators cannot take arguments from `load_settings`:
the context reaches them through a context variable, and collects on the way what the settings
remember (the values substituted into channel URLs, which source gave the API key).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LoadContext", "current_context", "is_loading", "loading"]


@dataclass
class LoadContext:
    """One load's inputs, and what its sources and validators noted."""

    environ: Mapping[str, str]
    yaml_path: Path | None = None
    # False for commands that never send: channel URLs are kept as written (no ${VAR}, no check).
    expand_channels: bool = True
    yaml_data: dict[str, Any] = field(default_factory=dict)
    substituted: set[str] = field(default_factory=set)
    # Which of api_key / api_key_file gives the key, and where it came from; the other one
    # where a lower-priority source gave it (for check-config's warning).
    key_field: str | None = None
    key_origin: str = ""
    key_ignored: list[tuple[str, str]] = field(default_factory=list)

    @property
    def secrets_dir(self) -> Path | None:
        """``$CREDENTIALS_DIRECTORY`` (systemd ``LoadCredential=``), if set."""
        directory = self.environ.get("CREDENTIALS_DIRECTORY", "").strip()
        return Path(directory) if directory else None


_CURRENT: ContextVar[LoadContext | None] = ContextVar("watcher_config_load", default=None)


@contextmanager
def loading(context: LoadContext) -> Iterator[LoadContext]:
    """Make ``context`` the current one for the settings built inside the block."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def is_loading() -> bool:
    """Whether a load (`loading`) is under way."""
    return _CURRENT.get() is not None


def current_context() -> LoadContext:
    """The context of the load under way; outside one, a fresh one on `os.environ`."""
    return _CURRENT.get() or LoadContext(environ=os.environ)

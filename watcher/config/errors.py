"""`ConfigError`: what every configuration problem becomes, one line naming the file and field.

How pydantic's and pydantic-settings' errors read as such a line is `watcher.config.messages`.
"""

from __future__ import annotations

from pathlib import Path

from watcher.errors import WatcherError

__all__ = ["ConfigError", "reason"]


class ConfigError(WatcherError):
    """Bad configuration: ``str()`` is one line, "config error in FILE: field.path: reason"."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        self.message = " ".join(message.splitlines()).strip()
        self.path = path
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f" in {self.path}" if self.path is not None else ""
        return f"config error{where}: {self.message}"


def reason(exc: BaseException) -> str:
    """Why an OS call failed, in lower case (``strerror``), else the exception's type name."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return type(exc).__name__

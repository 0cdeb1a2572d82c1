"""Logging: structlog everywhere, JSON off a terminal, readable on one, secrets scrubbed.

Stdlib loggers (apscheduler, apprise, httpx) go through the same processors, so every line
is structured and no library can print a token we know about.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from watcher.redact import redact_text, scrubbable


class SecretScrubber:
    """A processor that replaces every known secret in every string of an event with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: list[str] = []
        self.update(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """Replace the known secrets (on start and on config reload)."""
        self.secrets = scrubbable(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Scrub these too, keeping the known ones (a reload: old keys may still be in use)."""
        self.update([*self.secrets, *secrets])

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
        if not self.secrets:
            return event_dict
        return {self._clean(key): self._clean(value) for key, value in event_dict.items()}

    def _clean(self, value: Any) -> Any:
        """``value`` with every known secret replaced, in strings at any depth.

        Containers (dict keys included) are rebuilt with clean contents, bytes become text
        (undecodable bytes replaced), exceptions become ``Type: message``; any other object
        is left as is: the renderer's repr() of it is its own business.
        """
        if isinstance(value, str):
            return redact_text(value, self.secrets)
        if isinstance(value, bytes | bytearray | memoryview):
            return redact_text(bytes(value).decode("utf-8", errors="replace"), self.secrets)
        if isinstance(value, BaseException):
            return redact_text(f"{type(value).__name__}: {value}", self.secrets)
        if isinstance(value, dict):
            return {self._clean(k): self._clean(v) for k, v in value.items()}
        if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple
            return type(value)(*(self._clean(item) for item in value))
        if isinstance(value, list | tuple | set | frozenset):
            items = (self._clean(item) for item in value)
            try:
                return type(value)(items)
            except TypeError:  # a subclass with another constructor
                return [self._clean(item) for item in value]
        return value


SCRUBBER = SecretScrubber()
_NOISY = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "apscheduler": logging.WARNING}


def configure(*, level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Set up structlog and route stdlib logging through it; safe to call again on reload."""
    out = stream if stream is not None else sys.stderr
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if console
        else structlog.processors.JSONRenderer()
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        # Tracebacks become text before the scrubber runs, so they are scrubbed too.
        structlog.processors.format_exc_info,
        SCRUBBER,
    ]
    numeric = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name, floor in _NOISY.items():
        logging.getLogger(name).setLevel(max(floor, numeric))

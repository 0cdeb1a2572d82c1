"""How the command line meets bad usage: one line `dataframer-watcher: <message>`, exit 2.

click prints a usage error as four lines (usage, a hint, a blank line, the error); the
watcher's contract is one line naming the value at fault. `WatcherGroup` turns every
`click.UsageError` (unknown command or option, missing or bad argument) raised while parsing
or dispatching into a `OneLineUsageError`; help, `--version` and a bare
`dataframer-watcher` (the help) work as click makes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import click
from click.core import ParameterSource

from watcher.config import Settings, channel_key
from watcher.errors import UsageError
from watcher.logs import SCRUBBER
from watcher.redact import redact_text
from watcher.run_refs import normalize_run_id, normalize_run_ids

__all__ = [
    "OneLineUsageError",
    "WatcherGroup",
    "channel_argument",
    "config_path_callback",
    "one_line",
    "run_ids_callback",
    "statuses_callback",
]

# click 8.2+ shows a bare group's help as a UsageError subclass: that one stays help.
_HELP_ERRORS: tuple[type[click.UsageError], ...] = tuple(
    getattr(click.exceptions, name)
    for name in ("NoArgsIsHelpError",)
    if hasattr(click.exceptions, name)
)


def one_line(message: str) -> str:
    """An error line as the CLI prints it: the program's name, the message, no secret."""
    return f"dataframer-watcher: {redact_text(message, SCRUBBER.secrets)}"


class OneLineUsageError(click.ClickException):
    """Bad usage, shown as one line `dataframer-watcher: <message>` (exit 2)."""

    exit_code = 2

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(one_line(self.message), err=True)

    @classmethod
    def of(cls, exc: click.UsageError) -> OneLineUsageError:
        """click's four-line usage error (usage, hint, blank, error) as one line."""
        message = " ".join(exc.format_message().split()).removesuffix(".")
        if message[:1].isupper() and message[1:2].islower():
            message = message[0].lower() + message[1:]
        bad_value = isinstance(exc, click.BadParameter) and not isinstance(
            exc, click.MissingParameter
        )
        if exc.ctx is not None and not bad_value:
            message += f" (see '{exc.ctx.command_path} --help')"
        return cls(message)


class WatcherGroup(click.Group):
    """A click group whose usage errors are one line; help and version work as usual."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if isinstance(exc, _HELP_ERRORS):
                raise
            raise OneLineUsageError.of(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if isinstance(exc, _HELP_ERRORS):
                raise
            raise OneLineUsageError.of(exc) from None


def config_path_callback(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> Path | None:
    """--config / WATCHER_CONFIG, stripped; blank or a directory is bad usage naming the source."""
    if value is None:
        return None
    source = ctx.get_parameter_source("config_path")
    named = "WATCHER_CONFIG" if source is ParameterSource.ENVIRONMENT else "--config"
    text = value.strip()
    if not text:
        raise OneLineUsageError(f"{named} is blank: give it a YAML config file, or leave it unset")
    path = Path(text).expanduser()
    if path.is_dir():
        raise OneLineUsageError(f"{named} names a directory, not a YAML config file: {path}")
    return path


def run_ids_callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """RUN_ID arguments as people paste them, each run once (the rule: `watcher.run_refs`).

    A callback, not a `click.ParamType`, so it works on every click the package allows.
    """
    if value is None:
        return None
    try:
        if isinstance(value, tuple):
            return tuple(normalize_run_ids(value))
        return normalize_run_id(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def channel_argument(settings: Settings, name: str | None) -> str | None:
    """A --channel argument as configured (names are case-insensitive), or a usage error."""
    if name is None:
        return None
    if channel_key(name) not in settings.channels:
        known = ", ".join(sorted(settings.channels)) or "none"
        raise UsageError(f"no channel named {name!r} (known: {known})")
    return channel_key(name)


def statuses_callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """--status values as the state file names them: upper case, each once (CANCELLED too)."""
    if not value:
        return ()
    names: list[str] = []
    for item in value:
        name = str(item).strip().upper()
        name = "CANCELED" if name == "CANCELLED" else name
        if not name:
            raise click.BadParameter("a status must not be empty", ctx=ctx, param=param)
        names.append(name)
    return tuple(dict.fromkeys(names))

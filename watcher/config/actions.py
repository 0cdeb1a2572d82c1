"""`routes[].actions`: what runs when a route matches a finished run (`exec`, `download`).

Each action is either `exec: [ARGV...]` (a program and its arguments, no shell; `timeout`,
default 5m) or `download: DIR` (the job's generated files, saved under `DIR/REF/`, REF the
job's canonical reference). A relative DIR is taken from the directory the watcher starts
in, as `state.path` is, and made absolute when the config loads, so check-config shows
where files will land and a later change of directory moves nothing. `watcher.actions`
runs them through the outbox.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

from pydantic import field_validator, model_validator

from watcher.config.durations import Duration, within
from watcher.config.sections import HOUR, Section
from watcher.config.values import kind_of
from watcher.kinds import kind_info

__all__ = ["DEFAULT_ACTION_TIMEOUT", "MAX_ACTION_TIMEOUT", "ActionConfig", "action_warnings"]

DEFAULT_ACTION_TIMEOUT = 300.0  # 5m, the brief's default
MAX_ACTION_TIMEOUT = 24 * HOUR  # longer is a typo; a day-long job belongs in a queue


class ActionConfig(Section):
    """One action of a route: `exec` (argv, with `timeout`) or `download` (a directory)."""

    exec: list[str] | None = None
    timeout: Annotated[Duration, within(0, MAX_ACTION_TIMEOUT, inclusive=False)] | None = None
    download: Path | None = None

    @field_validator("exec", mode="before")
    @classmethod
    def _argv(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            # No shell ever reads it, so splitting a string on spaces would be a guess.
            raise ValueError(
                "must be a list (the program and its arguments, no shell), such as"
                f" [{value.split()[0] if value.split() else 'program'!r}, ...]"
            )
        if not isinstance(value, list):
            raise ValueError(f"must be a list of strings (got {kind_of(value)})")
        if not value:
            raise ValueError("must name a program to run: the list is empty")
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int | float):
                raise ValueError(f"argument {index} must be a string (got {kind_of(item)})")
        argv = [str(item) for item in value]
        if not argv[0].strip():
            raise ValueError("the program (argument 0) must not be empty")
        if any("\x00" in arg for arg in argv):
            raise ValueError("an argument must not contain a NUL character")
        return argv

    @field_validator("download", mode="before")
    @classmethod
    def _directory(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str | Path):
            raise ValueError(f"must be a directory path (got {kind_of(value)})")
        text = str(value).strip()
        if not text:
            raise ValueError("must name a directory, such as ./downloads")
        path = Path(text).expanduser()
        if path.exists() and not path.is_dir():
            raise ValueError(f"{path} exists and is not a directory")
        return path.absolute()

    @model_validator(mode="after")
    def _one_kind(self) -> ActionConfig:
        if (self.exec is None) == (self.download is None):
            raise ValueError("an action is either `exec: [PROGRAM, ARGS...]` or `download: DIR`")
        if self.download is not None and self.timeout is not None:
            raise ValueError("timeout applies to exec actions only")
        return self

    @property
    def kind(self) -> str:
        """ "exec" or "download"."""
        return "exec" if self.exec is not None else "download"

    @property
    def exec_timeout(self) -> float:
        """The exec action's timeout in seconds (the default when not given)."""
        return DEFAULT_ACTION_TIMEOUT if self.timeout is None else self.timeout

    def spec(self) -> dict[str, Any]:
        """What the outbox keeps of this action (JSON): enough to run it after a restart."""
        if self.exec is not None:
            return {"exec": list(self.exec), "timeout": self.exec_timeout}
        return {"download": str(self.download)}


def action_warnings(routes: list[Any]) -> list[str]:
    """Actions that are valid but cannot do what they say: on a route that only matches
    STUCK alerts (actions run for finished runs only), a program not found on PATH, or a
    download on a route whose `kinds` have no files (evaluations, red-team runs)."""
    found: list[str] = []
    for index, route in enumerate(routes):
        actions: list[ActionConfig] = route.actions
        if not actions:
            continue
        if not set(route.statuses) - {"STUCK"}:
            found.append(
                f"routes[{index}].actions: this route matches only STUCK alerts, and actions"
                " run only when a run finishes (SUCCEEDED, FAILED, CANCELED), so they never run"
            )
        kinds: list[str] | None = route.kinds
        fileless = kinds is not None and not any(kind_info(kind).files for kind in kinds)
        for nth, action in enumerate(actions):
            if action.download is not None and fileless:
                nouns = " and ".join(f"{kind_info(kind).noun}s" for kind in kinds or ())
                found.append(
                    f"routes[{index}].actions[{nth}].download: this route matches only {nouns},"
                    " which have no files, so it saves nothing"
                )
            program = action.exec[0] if action.exec else None
            if program is not None and shutil.which(program) is None:
                found.append(
                    f"routes[{index}].actions[{nth}].exec: {program!r} is not an executable"
                    " file here (nor on PATH), so the action will fail until it is"
                )
    return found

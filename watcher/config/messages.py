"""How pydantic's and pydantic-settings' errors read as one `ConfigError` line:
"dotted.field (from ENV_VAR): reason", never showing a secret value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_settings import SettingsError

from watcher.config.env import DELIMITER, PREFIX, SDK_NAMES
from watcher.config.fields import did_you_mean, model_at
from watcher.config.values import ItemError

__all__ = ["describe", "describe_settings_error"]

# Sections whose values are never secrets: a bad one may be quoted back.
_SAFE_INPUT_SECTIONS = {"poll", "state", "track", "routes", "delivery", "health", "log"}


def describe(exc: ValidationError, environ: Mapping[str, str], root: type[BaseModel]) -> str:
    """One line for all of ``exc``'s errors, each "dotted.path (from ENV): reason".

    ``root`` is the model validated (`watcher.config.Settings`), to suggest known keys.
    """
    parts: list[str] = []
    for error in exc.errors(include_url=False, include_context=True):
        loc = tuple(error["loc"])
        message = error["msg"]
        kind = error["type"]
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, ItemError):  # a list's validator, naming one of its items
            loc += (cause.index,)
        if kind == "extra_forbidden":
            message = "unknown key" + _suggestion(loc, root)
        elif kind == "missing":
            message = "is required"
        elif kind in ("model_type", "dict_type", "model_attributes_type"):
            message = "must be a mapping of keys to values"
            shown = _shown_input(loc, error.get("input"))
            message += f" (got {shown})" if shown is not None else ""
        elif kind in ("value_error", "assertion_error"):
            message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        else:
            message = message[:1].lower() + message[1:]
            shown = _shown_input(loc, error.get("input"))
            if shown is not None:
                message += f" (got {shown})"
        where = _dotted(loc) + _env_origin(loc, environ)
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(dict.fromkeys(parts))


def _dotted(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            continue
        elif re.fullmatch(r"[A-Za-z0-9_.-]+", part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def _suggestion(loc: tuple[int | str, ...], root: type[BaseModel]) -> str:
    model = model_at(root, loc[:-1])
    if model is None or not loc or not isinstance(loc[-1], str):
        return ""
    known = list(model.model_fields)
    meant = did_you_mean(loc[-1].lower(), known)
    if meant is not None:
        return f" (did you mean {meant!r}?)"
    return f" (known keys: {', '.join(known)})"


def _shown_input(loc: tuple[int | str, ...], value: Any) -> str | None:
    """``repr(value)`` when it is safe to print: a scalar of a section that holds no secret."""
    if not isinstance(value, str | int | float | bool) or not loc:
        return None
    text = repr(value)
    if loc[0] in _SAFE_INPUT_SECTIONS or loc[:2] in (
        ("dataframer", "timeout"),
        ("dataframer", "max_concurrency"),
    ):
        return text if len(text) <= 80 else text[:77] + "..."
    return None


def _env_origin(loc: tuple[int | str, ...], environ: Mapping[str, str]) -> str:
    """Which variable set the value at fault, as " (from WATCHER_POLL__INTERVAL)", or ""."""
    names = [str(part) for part in loc if part != "[key]"]
    first_index = next((i for i, part in enumerate(loc) if isinstance(part, int)), None)
    if first_index is not None:
        names = [str(part) for part in loc[:first_index]]
    if not names:
        return ""
    present = {name.upper() for name, value in environ.items() if value != ""}
    candidate = PREFIX + DELIMITER.join(names).upper()
    if candidate in present:
        return f" (from {candidate})"
    if len(names) == 2 and names[0] == "dataframer":
        sdk_name = f"DATAFRAMER_{names[1].upper()}"
        if sdk_name.lower() in SDK_NAMES and sdk_name in present:
            return f" (from {sdk_name})"
    return ""


def describe_settings_error(exc: SettingsError, environ: Mapping[str, str]) -> str:
    """pydantic-settings' own errors: a JSON value it could not decode, a bad secrets dir."""
    match = re.search(r'error parsing value for field "([^"]+)"', str(exc))
    if match is None:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    name = match.group(1)
    origin = _env_origin((name,), environ) or " (from the environment or a credential file)"
    return f"{name}{origin}: is not valid JSON"

"""The ``WATCHER_*`` environment variables: each must set a setting, so a typo is an error.

pydantic-settings reads the variables it can map to a field and ignores the others:
``WATCHER_POLL_INTERVAL`` (one underscore) or ``WATCHER_CHANNEL__TEAM`` would pass unnoticed
while the daemon runs on defaults. `unknown_variables` names each such variable (never its
value), with the variable it probably meant.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel

__all__ = ["NOT_SETTINGS", "PREFIX", "unknown_variables"]

PREFIX = "WATCHER_"
DELIMITER = "__"
# Variables with the prefix that are read by the program itself rather than mapped to a field.
NOT_SETTINGS = frozenset({"WATCHER_CONFIG"})


def unknown_variables(environ: Mapping[str, str], root: type[BaseModel]) -> list[str]:
    """One message per ``WATCHER_*`` variable (any case, not empty) that sets no field of
    ``root`` (`watcher.config.Settings`), sorted by name."""
    problems: list[str] = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper in NOT_SETTINGS or environ[name] == "":
            continue
        if not _maps_to_a_field(upper[len(PREFIX) :].lower().split(DELIMITER), root):
            problems.append(f"environment variable {name} sets nothing{_suggestion(upper, root)}")
    return problems


def _section(annotation: Any) -> type[BaseModel] | None:
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _is_mapping(annotation: Any) -> bool:
    return get_origin(annotation) is dict or any(_is_mapping(a) for a in get_args(annotation))


def _maps_to_a_field(parts: list[str], root: type[BaseModel]) -> bool:
    """``["poll", "interval"]`` is a field; ``["channels", "team"]`` a key of a mapping field;
    ``["poll"]`` a whole section (as JSON); anything deeper or unknown is not."""
    info = root.model_fields.get(parts[0])
    if info is None:
        return False
    if len(parts) == 1:
        return True
    if len(parts) > 2 or not parts[1]:
        return False
    section = _section(info.annotation)
    if section is not None:
        return parts[1] in section.model_fields
    return _is_mapping(info.annotation)


def _candidates(upper: str, root: type[BaseModel]) -> list[str]:
    """The variables ``upper`` may have meant: every field's, and its key of each mapping."""
    names = sorted(NOT_SETTINGS)
    body = upper[len(PREFIX) :]
    # The key part, for a mapping: after "__", else after the first run of underscores.
    key = body.partition(DELIMITER)[2] or re.sub(r"^[^_]*_+", "", body, count=1)
    for field, info in root.model_fields.items():
        name = f"{PREFIX}{field.upper()}"
        names.append(name)
        section = _section(info.annotation)
        if section is not None:
            names.extend(f"{name}{DELIMITER}{sub.upper()}" for sub in section.model_fields)
        elif _is_mapping(info.annotation) and key and key != body:
            names.append(f"{name}{DELIMITER}{key}")
    # Never suggest the variable itself (a mapping key holding "__", which env cannot set).
    return [name for name in names if name != upper]


def _suggestion(upper: str, root: type[BaseModel]) -> str:
    # Compared without the prefix, which every candidate shares and would make all look close.
    bodies = {name[len(PREFIX) :]: name for name in _candidates(upper, root)}
    close = difflib.get_close_matches(upper[len(PREFIX) :], bodies, n=1, cutoff=0.75)
    if close:
        return f" (did you mean {bodies[close[0]]}?)"
    return f" (settings are {PREFIX}<SECTION>{DELIMITER}<KEY>, such as WATCHER_POLL__INTERVAL)"

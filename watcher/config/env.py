"""The environment's names: ``WATCHER_*`` variables, each of which must set a setting, and
the official SDK's ``DATAFRAMER_*`` names.

pydantic-settings reads the variables it can map to a field and ignores the others:
``WATCHER_POLL_INTERVAL`` (one underscore) or ``WATCHER_CHANNEL__TEAM`` would pass unnoticed
while the daemon runs on defaults. `unknown_variables` names each such variable (never its
value), with the variable it probably meant.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel

from watcher.config.fields import did_you_mean, holds_mapping, model_at

__all__ = ["DELIMITER", "NOT_SETTINGS", "PREFIX", "SDK_NAMES", "unknown_variables"]

PREFIX = "WATCHER_"
DELIMITER = "__"
# Variables with the prefix that are read by the program itself rather than mapped to a field.
NOT_SETTINGS = frozenset({"WATCHER_CONFIG"})
# Names the official SDK reads (lower case: matched in any case), honoured below their
# WATCHER_ equivalents; each sets the key of the dataframer section it maps to.
SDK_NAMES = {"dataframer_api_key": "api_key", "dataframer_base_url": "base_url"}


def unknown_variables(environ: Mapping[str, str], root: type[BaseModel]) -> list[str]:
    """One message per ``WATCHER_*`` variable (any case, not empty) that sets no field of
    ``root`` (`watcher.config.Settings`), sorted by name."""
    problems: list[str] = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(PREFIX) or upper in NOT_SETTINGS or environ[name] == "":
            continue
        if not _sets_a_field(upper[len(PREFIX) :].lower().split(DELIMITER), root):
            problems.append(f"environment variable {name} sets nothing{_hint(upper, root)}")
    return problems


def _sets_a_field(parts: list[str], root: type[BaseModel]) -> bool:
    """``["poll", "interval"]`` is a field; ``["channels", "team"]`` a key of a mapping field;
    ``["poll"]`` a whole section (as JSON); anything deeper or unknown is not."""
    if parts[0] not in root.model_fields:
        return False
    if len(parts) == 1:
        return True
    if len(parts) > 2 or not parts[1]:
        return False
    section = model_at(root, parts[:1], into_lists=False)
    if section is not None:
        return parts[1] in section.model_fields
    return holds_mapping(root, parts[0])


def _candidates(upper: str, root: type[BaseModel]) -> list[str]:
    """The variables ``upper`` may have meant: every field's, and its key of each mapping."""
    names = sorted(NOT_SETTINGS)
    body = upper[len(PREFIX) :]
    # The key part, for a mapping: after "__", else after the first run of underscores.
    key = body.partition(DELIMITER)[2] or re.sub(r"^[^_]*_+", "", body, count=1)
    for field in root.model_fields:
        name = f"{PREFIX}{field.upper()}"
        names.append(name)
        section = model_at(root, (field,), into_lists=False)
        if section is not None:
            names.extend(f"{name}{DELIMITER}{sub.upper()}" for sub in section.model_fields)
        elif holds_mapping(root, field) and key and key != body:
            names.append(f"{name}{DELIMITER}{key}")
    # Never suggest the variable itself (a mapping key holding "__", which env cannot set).
    return [name for name in names if name != upper]


def _hint(upper: str, root: type[BaseModel]) -> str:
    # Compared without the prefix, which every candidate shares and would make all look
    # close; a high cutoff, as the candidates are alike (POLL__INTERVAL, POLL_INTERVAL).
    bodies = {name[len(PREFIX) :]: name for name in _candidates(upper, root)}
    meant = did_you_mean(upper[len(PREFIX) :], bodies, cutoff=0.75)
    if meant is not None:
        return f" (did you mean {bodies[meant]}?)"
    return f" (settings are {PREFIX}<SECTION>{DELIMITER}<KEY>, such as WATCHER_POLL__INTERVAL)"

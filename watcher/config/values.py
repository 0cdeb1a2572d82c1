"""Single configuration values: how each is read, normalised and checked.

The models of `watcher.config.sections`, `watcher.config.channels` and the sources apply these;
each raises `ValueError` with a message that shows the value only when it cannot be a secret.
Channel names are case-insensitive: `channel_key` is their one spelling, for the config and
the command line alike.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BeforeValidator

from watcher.kinds import LISTED_KINDS
from watcher.redact import MASK, redact_value
from watcher.run_refs import KINDS, kind_name, normalize_run_ids

__all__ = [
    "HOSTNAME",
    "TERMINAL_ORDER",
    "ItemError",
    "channel_key",
    "expand_path",
    "fold_channel_names",
    "kind_of",
    "lower",
    "name_list",
    "parse_listen",
    "quoted_url",
    "run_id_list",
    "state_path",
    "status_set",
]

TERMINAL_ORDER: tuple[str, ...] = ("SUCCEEDED", "FAILED", "CANCELED")
ROUTE_STATUS_ORDER: tuple[str, ...] = (*TERMINAL_ORDER, "STUCK", "SLOW")
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


class ItemError(ValueError):
    """A problem with one item of a list, raised by a validator of the whole list: the
    message then names the item as pydantic names it (``channels.team[1]: ...``), one form
    for every message (`watcher.config.messages`)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


def kind_of(value: object) -> str:
    """What a value is, for a message: "a string", "a number", "a list", "a mapping", "null"."""
    if value is None:
        return "null"
    name = {
        str: "string",
        int: "number",
        float: "number",
        bool: "boolean",
        list: "list",
        tuple: "list",
        dict: "mapping",
    }.get(type(value), type(value).__name__)
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def expand_path(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str | Path):
        return Path(value).expanduser()
    raise ValueError(f"must be a file path (got {kind_of(value)})")


def quoted_url(text: str) -> str:
    """A URL the user typed, quoted for an error: as typed, but for what may be a secret
    (`watcher.redact.redact_value`: a password, a ``token=`` value, a key pasted into the
    wrong variable), and with a word on a missing scheme (``127.0.0.1:18765``)."""
    shown = redact_value(text)
    if MASK in shown:
        return f"{shown!r}, masked where it may hold a secret"
    if "://" not in text:
        return f"{shown!r}, which has no scheme such as https://"
    return repr(shown)


def state_path(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("must not be empty: name the SQLite state file, such as state/watcher.db")
    if isinstance(value, str) and value.rstrip().endswith(("/", "\\")):
        raise ValueError(f"must name a file, not a directory (got {value.strip()!r})")
    path = expand_path(value)
    if isinstance(path, Path) and path.is_dir():
        raise ValueError(
            f"{path} is a directory: name the state file in it, such as {path / 'watcher.db'}"
        )
    return path


def run_id_list(value: Any) -> Any:
    """Run ids: a list, a JSON list or a comma-separated string; normalised, each run once
    (`watcher.run_refs.normalize_run_ids`)."""
    return normalize_run_ids(_run_id_text(item) for item in _listed(value, "run id"))


def _listed(value: Any, what: str) -> list[Any] | tuple[Any, ...]:
    """A list as given, or from a JSON list or a comma-separated string (the environment)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                raise ValueError(f"is not a valid JSON list of {what}s") from None
        else:
            value = [part for part in text.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise ValueError(f"must be a list of {what}s (got {kind_of(value)})")
    return value


def job_kinds(value: Any, *, allowed: tuple[str, ...] = KINDS, what: str = "kind") -> list[str]:
    """Kind names (`run`, `evaluation`, `red_team` or `red-team`, `anonymization`), any case,
    each once; one name alone, a JSON list or a comma-separated string too (the environment)."""
    chosen: list[str] = []
    for item in _listed(value, what):
        if not isinstance(item, str):
            raise ValueError(f"a {what} must be a string, one of {', '.join(allowed)}")
        name = kind_name(item)
        if name == "evaluation" and name not in allowed:
            raise ValueError(
                "evaluation cannot be discovered: evaluations have no list endpoint;"
                " track each by id (track.runs or `track evaluation:ID`)"
            )
        if name is None or name not in allowed:
            raise ValueError(f"unknown {what} {item!r}: one of {', '.join(allowed)}")
        chosen.append(name)
    if not chosen:
        raise ValueError(f"must name at least one {what}")
    return list(dict.fromkeys(chosen))


def discovered_kinds(value: Any) -> list[str]:
    """`track.kinds`: the kinds `track.all` discovers, the listed ones (`watcher.kinds`)."""
    return job_kinds(value, allowed=LISTED_KINDS)


def _run_id_text(item: Any) -> str:
    if isinstance(item, bool) or not isinstance(item, str | int):
        raise ValueError(f"a run id must be a string (got {kind_of(item)})")
    if not str(item).strip():
        raise ValueError("a run id must not be empty")
    return str(item)


def status_set(value: Any) -> Any:
    """A route's statuses: the terminal ones and STUCK (the stuck-run alert), any case."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"must be a list of statuses among {', '.join(ROUTE_STATUS_ORDER)}")
    statuses = set()
    for item in value:
        status = item.strip().upper() if isinstance(item, str) else item
        status = "CANCELED" if status == "CANCELLED" else status
        if status not in ROUTE_STATUS_ORDER:
            raise ValueError(
                f"unknown status {item!r}: alerts are for the terminal statuses "
                f"{', '.join(TERMINAL_ORDER)}, STUCK for a stuck run and SLOW for a slow one"
            )
        statuses.add(status)
    if not statuses:
        raise ValueError("must name at least one status (leave it out to mean all three)")
    return frozenset(statuses)


def channel_key(name: str) -> str:
    """The one spelling of a channel name: lower case. Names are case-insensitive, as the
    ``WATCHER_CHANNELS__NAME`` variables that set them are."""
    return name.lower()


def fold_channel_names(channels: dict[Any, Any]) -> dict[Any, Any]:
    """``channels`` keyed by `channel_key`; ValueError for two names that differ only by case.
    A name that is not a string is left for validation to refuse."""
    folded: dict[Any, Any] = {}
    spelled: dict[str, str] = {}
    for name, urls in channels.items():
        if not isinstance(name, str):
            folded[name] = urls
            continue
        key = channel_key(name)
        if key in spelled:
            raise ValueError(
                f"channels: {spelled[key]!r} and {name!r} differ only by case "
                "(channel names are case-insensitive)"
            )
        spelled[key] = name
        folded[key] = urls
    return folded


def name_list(
    what: str, *, spelling: Callable[[str], str] | None = None, empty_ok: bool = False
) -> BeforeValidator:
    """A validator of a list of names (or one name): each stripped (and then spelled by
    ``spelling``, such as `channel_key`), none empty, each once; an empty list only when
    ``empty_ok``."""

    def check(value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            names = [item.strip() if isinstance(item, str) else item for item in value]
            if spelling is not None:
                names = [spelling(name) if isinstance(name, str) else name for name in names]
            if not names and not empty_ok:
                raise ValueError(f"must name at least one {what}")
            for name in names:
                if not isinstance(name, str):
                    raise ValueError(f"a {what} must be a string (got {kind_of(name)})")
            if any(name == "" for name in names):
                raise ValueError(f"a {what} must not be empty")
            return list(dict.fromkeys(names))
        return value

    return BeforeValidator(check)


def parse_listen(value: str) -> tuple[str, int]:
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = text.rpartition(":")
    problem = f'must be "host:port", such as "127.0.0.1:9464" or "[::1]:9464" (got {value!r})'
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(problem)
    if ":" in host and not text.startswith("["):
        raise ValueError(problem)  # an IPv6 address needs its brackets
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if text.startswith("[") or not HOSTNAME.match(host):
            raise ValueError(problem) from None
    return host, int(port)


def lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value

"""Run references as people type them: the one rule for the config, the CLI and the state file.

A reference names a job of some kind. A bare id is a generation run; the other kinds carry a
prefix: ``evaluation:ID``, ``red-team:ID`` (``red_team:ID`` too) and ``anonymization:ID``
(``run:ID`` is a generation run, written out). The canonical form, which the state file keys
runs by and every alert shows, is the bare id for a generation run and ``PREFIX:ID`` with the
prefix in lower case (``red-team``) for the others. Dataframer ids are UUIDs, pasted with stray
spaces or in capitals; anything else that is a plain token is accepted too (the API is the
judge: an unknown id is a 404).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "KINDS",
    "KIND_SPELLINGS",
    "RunRef",
    "kind_name",
    "kind_of",
    "normalize_run_id",
    "normalize_run_ids",
    "parse_ref",
    "split_key",
]

# The job kinds, as config, templates, routes and metrics name them; generation runs first.
KINDS: tuple[str, ...] = ("run", "evaluation", "red_team", "anonymization")
# Each kind's prefix in a canonical reference (generation runs have none).
_PREFIX = {
    "run": "",
    "evaluation": "evaluation",
    "red_team": "red-team",
    "anonymization": "anonymization",
}
# How a kind may be spelled, in a reference or in the config (after lower-casing).
KIND_SPELLINGS = {
    "run": "run",
    "generation": "run",
    "evaluation": "evaluation",
    "red-team": "red_team",
    "red_team": "red_team",
    "redteam": "red_team",
    "anonymization": "anonymization",
}
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_EXAMPLE = "3c90c3cc-0d44-4b50-8888-8dd25736052a"


@dataclass(frozen=True, slots=True)
class RunRef:
    """A job named by its kind and its API id."""

    kind: str
    id: str

    @property
    def key(self) -> str:
        """The canonical reference: ``ID`` for a generation run, ``red-team:ID`` and so on."""
        prefix = _PREFIX[self.kind]
        return f"{prefix}:{self.id}" if prefix else self.id

    def __str__(self) -> str:
        return self.key


def kind_name(value: str) -> str | None:
    """The kind a spelling names (``red-team`` -> ``red_team``), or None if it names none."""
    return KIND_SPELLINGS.get(value.strip().lower())


def parse_ref(value: str) -> RunRef:
    """The job a reference names. Raises ValueError, a one-line message quoting the value."""
    text = value.strip()
    prefix, sep, rest = text.partition(":")
    kind = "run"
    if sep:
        named = kind_name(prefix)
        if named is None:
            kinds = ", ".join(f"{p}:ID" for p in _PREFIX.values() if p)
            raise ValueError(
                f"not a run reference: {value!r} (unknown kind {prefix!r}: a bare id is a"
                f" generation run, the other kinds are {kinds})"
            )
        kind, text = named, rest.strip()
        if not text:
            raise ValueError(f"not a run reference: {value!r} (no id after {prefix}:)")
    return RunRef(kind, _normalize_id(text, value))


def _normalize_id(text: str, value: str) -> str:
    if len(text) == 36:
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass  # 36 characters, not a UUID: perhaps still a plain token
    if not _TOKEN.match(text):
        raise ValueError(f"not a run id: {value!r} (expected an id like {_EXAMPLE})")
    return text


def normalize_run_id(value: str) -> str:
    """The canonical reference of ``value`` (`parse_ref`): stripped, UUIDs in lower case, the
    kind's prefix canonical. Raises ValueError (its message quotes the value)."""
    return parse_ref(value).key


def normalize_run_ids(values: Iterable[str]) -> list[str]:
    """Each of ``values`` normalised (`normalize_run_id`), in order, each run once."""
    return list(dict.fromkeys(normalize_run_id(value) for value in values))


def kind_of(key: str) -> str:
    """The kind of a stored reference (a canonical key); a key without a known prefix is a
    generation run (as every run was before job kinds)."""
    prefix, sep, _ = key.partition(":")
    if not sep:
        return "run"
    return kind_name(prefix) or "run"


def split_key(key: str) -> RunRef:
    """A stored canonical key as a RunRef, without validating the id again."""
    kind = kind_of(key)
    return RunRef(kind, key.partition(":")[2] if kind != "run" and ":" in key else key)

"""Run references as people type them: the one rule for the config, the CLI and the state file.

Today a reference is a run id. Dataframer run ids are UUIDs, pasted with stray spaces or in
capitals; anything else that is a plain token is accepted too (the API is the judge: an unknown
id is a 404). A bare id names a generation run; the kinds that come next (``evaluation:ID``,
``red-team:ID``, ``anonymization:ID``) are read here as well, so every place that takes a run
id learns them at once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable

__all__ = ["normalize_run_id", "normalize_run_ids"]

_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def normalize_run_id(value: str) -> str:
    """The canonical form of a run id: stripped, and lower-case when it is a UUID.

    Raises ValueError (its message quotes the value) for anything that cannot be a run id.
    """
    text = value.strip()
    if len(text) == 36:
        try:
            return str(uuid.UUID(text))
        except ValueError:
            pass  # 36 characters, not a UUID: perhaps still a plain token
    if not _TOKEN.match(text):
        raise ValueError(
            f"not a run id: {value!r} (expected an id like 3c90c3cc-0d44-4b50-8888-8dd25736052a)"
        )
    return text


def normalize_run_ids(values: Iterable[str]) -> list[str]:
    """Each of ``values`` normalised (`normalize_run_id`), in order, each run once."""
    return list(dict.fromkeys(normalize_run_id(value) for value in values))

"""Run ids as users type them: one rule for the config, the CLI and the state file.

Dataframer run ids are UUIDs; people paste them with stray spaces or in capitals. Anything
else that is a plain token is accepted too (the API is the judge: an unknown id is a 404).
"""

from __future__ import annotations

import re
import uuid

_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


def normalize_run_id(value: str) -> str:
    """The canonical form of a run id: stripped, and lower-case when it is a UUID.

    Raises ValueError (its message quotes the value) for anything that cannot be a run id.
    """
    text = value.strip()
    try:
        return str(uuid.UUID(text)) if len(text) == 36 else _token(text, value)
    except ValueError:
        return _token(text, value)


def _token(text: str, original: str) -> str:
    if not _TOKEN.match(text):
        raise ValueError(
            f"not a run id: {original!r} (expected an id like 3c90c3cc-0d44-4b50-8888-8dd25736052a)"
        )
    return text

"""How the state file writes times: ISO-8601 TEXT in one fixed UTC format with microseconds.

Every stored time goes through `ts` and comes back through `dt`, so comparing two stored times
as strings (in SQL too) orders them in time.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["dt", "dt_or_none", "ts", "ts_or_none"]


def ts(value: datetime) -> str:
    """One fixed UTC format with microseconds, so TEXT comparison in SQL orders by time."""
    if value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the state file stores aware UTC times")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def ts_or_none(value: datetime | None) -> str | None:
    """`ts`, passing None through."""
    return None if value is None else ts(value)


def dt(text: str) -> datetime:
    """A time `ts` wrote, read back (aware, UTC)."""
    return datetime.fromisoformat(text)


def dt_or_none(text: str | None) -> datetime | None:
    """`dt`, passing None through."""
    return None if text is None else datetime.fromisoformat(text)

"""Numbers as people read them: durations, sizes, money, percentages, times.

The built-in templates use these, and user templates get them as filters (`watcher.templates`
registers each under the name in `FILTERS`). Each takes None (a field the API left null) and
gives "" for it rather than failing: a blank in an alert is better than no alert.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "FILTERS",
    "human_duration",
    "human_size",
    "markdown_escape",
    "money",
    "percent",
    "shorten",
    "utc_time",
]


def human_duration(seconds: float) -> str:
    """A short, readable duration: 45s, 12m 5s, 3h 2m, 2d 4h."""
    total = max(0, round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{value}{unit}" for value, unit in parts if value]
    return " ".join(shown[:2]) if shown else "0s"


def human_size(size: int) -> str:
    """Bytes as B, KB, MB, GB (decimal units, one decimal)."""
    if size < 1000:
        return f"{size} B"
    value = size / 1000
    for unit in ("KB", "MB"):
        if round(value, 1) < 1000:
            return f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…" if limit > 0 else ""


def money(amount: float | None, currency: str = "$") -> str:
    """412 -> "$412.00", 1234.5 -> "$1,234.50" (the API's costs are US dollars)."""
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}{currency}{abs(amount):,.2f}"


def percent(ratio: float | None, digits: int = 0) -> str:
    """A share as a percentage: 0.333 -> "33%", with `digits` decimals (0.0512, 1 -> "5.1%")."""
    if ratio is None:
        return ""
    return f"{ratio * 100:.{max(0, min(digits, 6))}f}%"


def utc_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S UTC") -> str:
    """A timestamp in UTC: "2025-03-01 10:00:00 UTC" (a naive one is taken as UTC)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(fmt)


_MARKDOWN_SPECIAL = frozenset("\\`*_[]<>~|#")


def markdown_escape(text: object) -> str:
    """Text that Markdown shows as written: its markup characters backslash-escaped. A spec
    named `*big*` stays in asterisks, and `<!here>` in a value cannot ping a Slack channel
    (apprise turns an escaped `<` into Slack's `&lt;`)."""
    if text is None:
        return ""
    return "".join(f"\\{c}" if c in _MARKDOWN_SPECIAL else c for c in str(text))


def _duration_filter(seconds: float | None) -> str:
    return "" if seconds is None else human_duration(seconds)


def _size_filter(size: int | None) -> str:
    return "" if size is None else human_size(size)


# The helpers as template filters: `{{ run.total_cost | money }}`, `{{ 0.05 | percent(1) }}`.
FILTERS: dict[str, Callable[..., Any]] = {
    "duration": _duration_filter,
    "size": _size_filter,
    "money": money,
    "percent": percent,
    "utc": utc_time,
    "md": markdown_escape,
}

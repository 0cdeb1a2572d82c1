"""The status page's words and numbers, written once: the server's HTML and the page's
script (which only sets text) both show these strings, so the two never disagree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from watcher.templates.helpers import money

__all__ = ["shown"]


def _when(iso: str | None, now: datetime) -> str:
    """ "in 12 min (01:23 UTC)", "3 h ago"; "—" when unknown."""
    if iso is None:
        return "—"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    seconds = (moment - now).total_seconds()
    span = _span(abs(seconds))
    clock = moment.strftime("%H:%M UTC")
    if abs(seconds) < 30:
        return f"now ({clock})"
    return f"in {span} ({clock})" if seconds > 0 else f"{span} ago"


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _progress(entry: dict[str, Any]) -> str:
    done, total = entry["samples_completed"], entry["samples_requested"]
    if done is None:
        return "—"
    if total is None:
        # An anonymization run's count is of documents processed (`Documents` in its alert).
        unit = "documents" if entry["kind"] == "anonymization" else "samples"
        return f"{done:,} {unit}"
    return f"{done:,} / {total:,} ({min(done / total, 1.0) * 100:.0f}%)"


def _pace(entry: dict[str, Any]) -> str:
    rate, median = entry["rate_per_minute"], entry["spec_median_per_minute"]
    mine = "—" if rate is None else f"{rate:,.1f}/min"
    if median is None:
        return mine
    return f"{mine} (spec median {median:,.1f}/min, {entry['spec_runs']} runs)"


def shown(entry: dict[str, Any], now: datetime) -> dict[str, str]:
    """A run entry's cells as text."""
    cost = entry["cost"]
    return {
        "progress": _progress(entry),
        "cost": "—" if cost is None else money(cost),
        "eta": _when(entry["eta"], now) if entry["active"] else "—",
        "since": _when(entry["since"], now),
        "pace": _pace(entry),
        "last_polled": _when(entry["last_polled"], now),
    }

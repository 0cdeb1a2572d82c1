"""What the status page shows, as plain JSON-ready data: the runs, the health, the alerts.

`overview` and `run_detail` read through a connection of the page's own (the daemon's is
never shared with the listener thread) and return dicts that `/api/runs` serves as they are
and the Jinja2 pages render. Only channel names appear, never their URLs, and every error
text passes the log's secret scrubber first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.eta import (
    SLOW,
    Point,
    SpecPace,
    eta,
    measured,
    pace,
    requested,
    slow_reason,
    spec_key,
)
from watcher.events import EventKind
from watcher.models import Job, is_terminal
from watcher.redact import redact_text
from watcher.run_refs import kind_of
from watcher.state import queries
from watcher.state.progress import first_points, points, spec_paces
from watcher.state.record import load_run
from watcher.ui.shown import shown

__all__ = ["Health", "overview", "run_detail", "run_kind"]

RECENT_ALERTS = 20
MAX_RUNS = 500  # active runs first, then the newest finished: a page, not an archive


def run_kind(run_id: str, run: Job | None) -> str:
    """A job's kind as routes name it (`run`, `evaluation`, `red_team`, `anonymization`): the
    one place the page learns it; from the model when stored, else from its key's prefix."""
    return run.kind if run is not None else kind_of(run_id)


@dataclass(frozen=True, slots=True)
class Health:
    """The API's health as the daemon last saw it (from its vitals), and the channels."""

    api_ok: bool
    api_reason: str
    channels: Sequence[str]
    secrets: Iterable[str] = ()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _entry(
    row: queries.StatusRow,
    run: Job | None,
    first: Point | None,
    paces: Mapping[str, SpecPace],
    now: datetime,
    slow_below: float | None,
) -> dict[str, Any]:
    """One job as the page lists it, with its ETA and pace against its spec's history (only
    for a kind that reports progress: `watcher.eta.measured`)."""
    paced = run is not None and measured(run)
    key = spec_key(run) if run is not None else None
    history = paces.get(key) if key is not None else None
    total = requested(run) if run is not None else None
    done = row.samples_completed
    active = not row.gone and not is_terminal(row.status)
    rate = minutes = None
    if paced and first is not None and done is not None and active:
        rate = pace(first, Point(now, done))
        minutes = (now - first.at).total_seconds() / 60
    finish = eta(run, first, now, history) if run is not None and active else None
    slow = None
    if rate is not None and minutes is not None and slow_below is not None:
        slow = slow_reason(rate, minutes, history, slow_below)
    entry: dict[str, Any] = {
        # The full reference (`red-team:ID`; a bare id for a generation run): what `/runs/`
        # and every other command take.
        "id": row.run_id,
        "kind": run_kind(row.run_id, run),
        "spec": row.spec_name,
        "status": "GONE" if row.gone else (row.status or "UNSEEN"),
        "active": active,
        "since": _iso(row.since),
        "samples_completed": done,
        "samples_failed": row.samples_failed,
        "samples_requested": total,
        "progress": None if total is None or done is None else min(1.0, done / total),
        "cost": row.total_cost,
        "rate_per_minute": None if rate is None else round(rate, 3),
        "spec_median_per_minute": None if history is None else round(history.median, 3),
        "spec_runs": 0 if history is None else history.runs,
        "eta": _iso(finish),
        "flags": [SLOW] if slow else [],
        "slow_reason": slow,
        "last_polled": _iso(row.last_polled),
    }
    entry["shown"] = shown(entry, now)
    return entry


def overview(
    conn: sqlite3.Connection, health: Health, now: datetime, *, slow_below: float | None = None
) -> dict[str, Any]:
    """Everything `/` and `/api/runs` show: tracked runs, API and channel health, alerts."""
    rows = queries.status_rows(conn, limit=MAX_RUNS)
    active = [row.run_id for row in rows if not row.gone and not is_terminal(row.status)]
    firsts = first_points(conn, active)
    paces = spec_paces(conn)
    runs = [
        _entry(row, load_run(conn, row.run_id), firsts.get(row.run_id), paces, now, slow_below)
        for row in rows
    ]
    return {
        "now": _iso(now),
        "runs": runs,
        "api": {"ok": health.api_ok, "reason": redact_text(health.api_reason, health.secrets)},
        "channels": _channels(conn, health),
        "alerts": _alerts(conn, None, health),
    }


def run_detail(
    conn: sqlite3.Connection,
    run_id: str,
    health: Health,
    now: datetime,
    *,
    slow_below: float | None = None,
) -> dict[str, Any] | None:
    """One run for `/runs/{ID}` and `/api/runs/{ID}`: its entry, progress curve and alerts;
    None when the state file does not know it."""
    row = next(iter(queries.status_rows(conn, run_id=run_id)), None)
    if row is None:
        return None
    run = load_run(conn, run_id)
    curve = points(conn, run_id)
    entry = _entry(
        row, run, curve[0] if curve else None, spec_paces(conn, exclude=[run_id]), now, slow_below
    )
    entry["created_by"] = row.created_by
    entry["dataset"] = None if run is None else run.dataset_name
    entry["curve"] = [[point.at.timestamp(), point.samples] for point in curve]
    entry["alerts"] = _alerts(conn, run_id, health)
    entry["history"] = [
        {"at": _iso(e.at), "when": _when(e.at), "change": _change(e), "kind": e.event_kind}
        for e in queries.history(conn, run_id, limit=100)
        if e.kind == "event"
    ]
    return entry


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _change(entry: queries.HistoryEntry) -> str:
    """What an event says in words: a transition, a first sighting, a stall or slowness."""
    kind, to = entry.event_kind, entry.to_status or "?"
    if kind in (EventKind.STUCK, EventKind.SLOW):
        return f"{str(kind).upper()} while {to}"
    if kind == EventKind.GONE:
        return "gone (the API no longer knows it)"
    if entry.from_status is None:
        return f"first seen {to}"
    return f"{entry.from_status} → {to}"


def _alerts(conn: sqlite3.Connection, run_id: str | None, health: Health) -> list[dict[str, Any]]:
    """Recent messages, newest first, with each channel's delivery result."""
    found = []
    for entry in queries.history(conn, run_id, limit=RECENT_ALERTS):
        if entry.kind == "event":
            continue
        error = entry.last_error if entry.status != "sent" else None
        found.append(
            {
                "at": _iso(entry.at),
                "when": _when(entry.at),
                "channel": entry.channel,
                "runs": list(entry.run_ids),
                "title": entry.title,
                "result": entry.status,
                "attempts": entry.attempts,
                "error": None if error is None else redact_text(error, health.secrets),
                "why": entry.why,
            }
        )
    return found


def _channels(conn: sqlite3.Connection, health: Health) -> list[dict[str, Any]]:
    """Each configured channel by name: its outbox counts and its last try's result."""
    counts = queries.delivery_counts(conn)
    last: dict[str, tuple[str, bool, str | None]] = {}
    for channel, at, ok, reason in conn.execute(
        "SELECT d.channel, a.at, a.ok, a.reason FROM delivery_attempts a"
        " JOIN deliveries d ON d.id = a.delivery_id"
        " WHERE a.id IN (SELECT MAX(a2.id) FROM delivery_attempts a2"
        "   JOIN deliveries d2 ON d2.id = a2.delivery_id GROUP BY d2.channel)"
    ):
        last[channel] = (at, bool(ok), reason)
    shown = []
    for name in health.channels:
        at, ok, reason = last.get(name, (None, None, None))
        per = counts.get(name, {})
        shown.append(
            {
                "name": name,
                "ok": ok,
                "last_attempt": at,
                "error": None if reason is None else redact_text(reason, health.secrets),
                "pending": per.get("pending", 0) + per.get("retrying", 0),
                "sent": per.get("sent", 0),
                "dead": per.get("dead", 0),
            }
        )
    return shown

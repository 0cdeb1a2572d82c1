"""What the CLI's inspection and tracking commands show: plain data, then text for people.

These commands open the state file without the daemon lock, so they work while `run` runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from watcher.config import Settings
from watcher.deliver.sender import Sender
from watcher.errors import UsageError
from watcher.fetch import utcnow
from watcher.render import human_duration, test_alert
from watcher.run_ids import normalize_run_id
from watcher.state import HistoryEntry, StatusRow, Store


@contextmanager
def _store(settings: Settings, *, create: bool = False) -> Iterator[Store | None]:
    """The state file, or None when it does not exist yet (nothing tracked, nothing sent)."""
    path = settings.state.path
    if not create and not path.exists():
        yield None
        return
    store = Store.open(path, create=create)
    try:
        yield store
    finally:
        store.close()


def normalize_run_ids(run_ids: Sequence[str]) -> list[str]:
    """The ids in canonical form (`watcher.run_ids`), each once; junk is a UsageError."""
    try:
        return list(dict.fromkeys(normalize_run_id(run_id) for run_id in run_ids))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def track_runs(settings: Settings, run_ids: Sequence[str], *, track: bool) -> list[str]:
    """Track or untrack runs by id; one result line per id.

    Only `track` creates the state file: untracking from a file that does not exist yet
    finds nothing tracked, and leaves no empty state file (or directory) behind.
    """
    ids = normalize_run_ids(run_ids)
    with _store(settings, create=track) as store:
        if store is None:
            results = dict.fromkeys(ids, "not tracked")
        else:
            now = utcnow()
            results = store.track(ids, now) if track else store.untrack(ids, now)
    return [f"{run_id}: {result}" for run_id, result in results.items()]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _row(row: StatusRow) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "spec_name": row.spec_name,
        "status": row.status,
        "since": _iso(row.since),
        "samples_completed": row.samples_completed,
        "samples_failed": row.samples_failed,
        "total_cost": row.total_cost,
        "last_polled": _iso(row.last_polled),
        "source": row.source.value,
        "gone": row.gone,
        "created_by": row.created_by,
    }


def status_data(settings: Settings) -> dict[str, Any]:
    """The tracked runs and the outbox per channel, as JSON-ready data."""
    state = str(settings.state.path.absolute())  # the operator may run it from anywhere
    with _store(settings) as store:
        if store is None:
            return {"state": state, "runs": [], "deliveries": {}}
        return {
            "state": state,
            "runs": [_row(row) for row in store.status_rows()],
            "deliveries": store.delivery_counts(),
        }


def _ago(iso: str | None, now: datetime) -> str:
    if iso is None:
        return "-"
    return human_duration((now - datetime.fromisoformat(iso)).total_seconds()) + " ago"


def status_text(data: dict[str, Any]) -> str:
    """A table of runs, then one line per channel with its pending, retrying and dead alerts."""
    now = utcnow()
    runs = data["runs"]
    lines: list[str] = []
    if not runs:
        lines.append(f"no runs tracked yet (state: {data['state']})")
    else:
        header = ("RUN ID", "SPEC", "STATUS", "SINCE", "SAMPLES", "COST", "LAST POLLED")
        table = [header]
        for run in runs:
            status = run["status"] or "(awaiting first poll)"
            if run["gone"]:
                status = f"GONE (was {run['status']})" if run["status"] else "GONE (never seen)"
            samples = (
                f"{run['samples_completed'] or 0} ok, {run['samples_failed'] or 0} failed"
                if run["samples_completed"] is not None or run["samples_failed"] is not None
                else "-"
            )
            cost = f"${run['total_cost']:,.2f}" if run["total_cost"] is not None else "-"
            table.append(
                (
                    run["run_id"],
                    run["spec_name"] or "-",
                    status,
                    _ago(run["since"], now),
                    samples,
                    cost,
                    _ago(run["last_polled"], now),
                )
            )
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines.extend(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        )
    if data["deliveries"]:
        lines.append("")
        lines.append("deliveries:")
        for channel, counts in sorted(data["deliveries"].items()):
            parts = ", ".join(
                f"{counts.get(k, 0)} {k}" for k in ("sent", "pending", "retrying", "dead")
            )
            lines.append(f"  {channel}: {parts}")
    return "\n".join(lines)


def _entry(entry: HistoryEntry) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": entry.kind, "id": entry.id, "at": _iso(entry.at)}
    data["run_ids"] = list(entry.run_ids)
    if entry.kind == "event":
        data.update(
            event=entry.event_kind,
            from_status=entry.from_status,
            to_status=entry.to_status,
            alert=entry.alert,
        )
    else:
        data.update(
            channel=entry.channel,
            status=entry.status,
            title=entry.title,
            attempts=entry.attempts,
            last_error=entry.last_error,
            attempt_log=[
                {"at": _iso(a.at), "ok": a.ok, "reason": a.reason} for a in entry.attempt_log
            ],
        )
    return data


def history_data(settings: Settings, run_id: str | None, *, limit: int) -> list[dict[str, Any]]:
    """Transitions and deliveries, newest first, as JSON-ready data."""
    with _store(settings) as store:
        if store is None:
            return []
        return [_entry(entry) for entry in store.history(run_id, limit=limit)]


def history_text(entries: list[dict[str, Any]], run_id: str | None = None) -> str:
    """One line per transition or delivery, with a line per delivery attempt beneath it."""
    if not entries:
        return f"no history for run {run_id}" if run_id is not None else "no history yet"
    lines = []
    for entry in entries:
        at = entry["at"][:19].replace("T", " ")
        if entry["kind"] == "event":
            change = f"{entry['from_status'] or '(new)'} → {entry['to_status'] or 'GONE'}"
            flag = "  [alert]" if entry["alert"] else ""
            lines.append(f"{at}  run {entry['run_ids'][0]}  {change}{flag}")
            continue
        runs = ", ".join(entry["run_ids"])
        lines.append(
            f"{at}  delivery #{entry['id']} to {entry['channel']}: {entry['status']} "
            f"after {entry['attempts']} attempt(s)  runs: {runs}"
        )
        for attempt in entry["attempt_log"]:
            result = "ok" if attempt["ok"] else f"failed: {attempt['reason']}"
            lines.append(f"    {attempt['at'][:19].replace('T', ' ')}  {result}")
    return "\n".join(lines)


def redeliver_dead(settings: Settings, channel: str | None) -> int:
    """Requeue dead deliveries (all, or one channel's); returns how many."""
    channel = _channel(settings, channel)
    with _store(settings) as store:
        return 0 if store is None else store.redeliver(utcnow(), channel=channel)


def _channel(settings: Settings, name: str | None) -> str | None:
    """A --channel argument as configured (names are case-insensitive), or a usage error."""
    if name is None:
        return None
    if name.lower() not in settings.channels:
        known = ", ".join(sorted(settings.channels)) or "none"
        raise UsageError(f"no channel named {name!r} (known: {known})")
    return name.lower()


async def send_test_alerts(settings: Settings, channel: str | None) -> list[tuple[str, str | None]]:
    """Send the test alert to each channel (or one); (name, failure reason or None) per channel."""
    if not settings.channels:
        raise UsageError("no channels configured: add one under `channels:` in the config")
    channel = _channel(settings, channel)
    names = [channel] if channel is not None else sorted(settings.channels)
    # Every channel at once, so hung channels cost one delivery.timeout, not one each; with a
    # thread per URL (at least), since a URL queued behind busy threads would report a
    # timeout it never had.
    threads = max(settings.delivery.concurrency, sum(len(settings.channels[n]) for n in names))
    sender = Sender(concurrency=threads, timeout=settings.delivery.timeout)

    async def one(name: str) -> str | None:
        title, body = test_alert(name)
        outcome = await sender.send(settings.channels[name], title, body)
        return None if outcome.ok else outcome.reason or "failed"

    try:
        reasons = await asyncio.gather(*(one(name) for name in names))
    finally:
        sender.close()
    return list(zip(names, reasons, strict=True))

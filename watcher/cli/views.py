"""What `status` and `history` show: plain data read from the state file, then text for people.

They open the state file without the daemon lock (`state_file`), so they work while `run` runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watcher.clock import utcnow
from watcher.config import Settings
from watcher.eta import eta, spec_key
from watcher.render import human_duration, shorten
from watcher.run_refs import kind_of
from watcher.state import HistoryEntry, StatusRow, Store
from watcher.templates.context import KIND_WORDS

MAX_SPEC_WIDTH = 40  # the table stays readable; `status --json` has the full name


@contextmanager
def state_file(settings: Settings, *, create: bool = False) -> Iterator[Store | None]:
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


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _row(row: StatusRow) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "kind": row.kind,
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


@dataclass(frozen=True)
class StatusFilter:
    """Which runs `status` shows. The default, readable at any size: every active run and the
    `RECENT_FINISHED` newest finished ones, with a count of the rest (`everything` for --json)."""

    active: bool = False  # only runs still under way
    statuses: tuple[str, ...] = ()  # only runs in these statuses (GONE, UNSEEN included)
    limit: int | None = None  # at most this many rows
    everything: bool = False  # no default cut (machine-readable output)

    @property
    def default(self) -> bool:
        """No filter was asked for."""
        return not (self.active or self.statuses or self.limit is not None)


RECENT_FINISHED = 20


def status_data(settings: Settings, wanted: StatusFilter | None = None) -> dict[str, Any]:
    """The tracked runs (as `wanted` filters them) and the outbox per channel, as JSON-ready
    data; `not_shown` counts, per status, the watched runs the filter left out."""
    wanted = wanted or StatusFilter()
    state = str(settings.state.path.absolute())  # the operator may run it from anywhere
    with state_file(settings) as store:
        if store is None:
            empty: dict[str, Any] = {"state": state, "runs": [], "deliveries": {}, "actions": {}}
            return {**empty, "removed_channels": [], "not_shown": {}}
        if wanted.default and not wanted.everything:
            rows = store.status_rows(finished=False)
            rows += store.status_rows(finished=True, limit=RECENT_FINISHED)
        else:
            rows = store.status_rows(
                labels=wanted.statuses or None,
                finished=False if wanted.active else None,
                limit=wanted.limit,
            )
        not_shown: Counter[str] = Counter()
        for (_, label), n in store.status_counts().items():
            not_shown[label] += n
        for row in rows:
            label = _label(row)
            not_shown[label] -= 1
        deliveries = store.delivery_counts()
        etas = _etas(store, rows)
        return {
            "state": state,
            "runs": [{**_row(row), "eta": etas.get(row.run_id)} for row in rows],
            "actions": store.action_counts(),
            "not_shown": {label: n for label, n in sorted(not_shown.items()) if n > 0},
            "deliveries": deliveries,
            # Channels the outbox knows that the config no longer has: nothing reaches them.
            "removed_channels": sorted(set(deliveries) - set(settings.channels)),
        }


def _etas(store: Store, rows: list[StatusRow]) -> dict[str, str]:
    """When each active run should finish (`watcher.eta`): one read for all of them."""
    active = [r.run_id for r in rows if not r.gone and r.status in ("PENDING", "PROCESSING")]
    if not active:
        return {}
    firsts, paces, _ = store.slow_inputs(active)
    now, found = utcnow(), {}
    for run_id in active:
        run = store.stored_run(run_id)
        key = None if run is None else spec_key(run)
        moment = None if run is None else eta(run, firsts.get(run_id), now, paces.get(key or ""))
        if moment is not None:
            found[run_id] = moment.isoformat()
    return found


def _label(row: StatusRow) -> str:
    """A run's status as status_counts names it: GONE, UNSEEN, or its status."""
    return "GONE" if row.gone else row.status or "UNSEEN"


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
        # The kind has a column once a job other than a generation run is watched.
        kinds = any(run["kind"] != "run" for run in runs)
        header: tuple[str, ...] = (
            "RUN ID",
            "SPEC",
            "STATUS",
            "SINCE",
            "SAMPLES",
            "COST",
            "LAST POLLED",
        )
        if kinds:
            header = ("RUN ID", "KIND", *header[1:])
        table: list[tuple[str, ...]] = [header]
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
            cells: tuple[str, ...] = (
                run["run_id"],
                shorten(run["spec_name"] or "-", MAX_SPEC_WIDTH),
                status,
                _ago(run["since"], now),
                samples,
                cost,
                _ago(run["last_polled"], now),
            )
            table.append((cells[0], KIND_WORDS[run["kind"]], *cells[1:]) if kinds else cells)
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        lines.extend(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in table
        )
    hidden = data.get("not_shown", {})
    if hidden:
        counts = ", ".join(f"{n:,} {label}" for label, n in hidden.items())
        lines.append(
            f"… and {sum(hidden.values()):,} more not shown ({counts}):"
            " `status --status STATUS`, `--active` or `--limit N` choose what to see"
        )
    if data["deliveries"]:
        lines.append("")
        lines.append("deliveries:")
        removed = set(data.get("removed_channels", ()))
        for channel, counts in sorted(data["deliveries"].items()):
            parts = ", ".join(
                f"{counts.get(k, 0)} {k}" for k in ("sent", "pending", "retrying", "dead")
            )
            if counts.get("held"):
                parts += f", {counts['held']} held (quiet hours or a digest)"
            note = " (no longer configured: its dead deliveries cannot be redelivered)"
            lines.append(f"  {channel}: {parts}{note if channel in removed else ''}")
    actions = data.get("actions") or {}
    if any(actions.values()):
        parts = ", ".join(
            f"{actions.get(k, 0)} {k}" for k in ("done", "pending", "retrying", "dead")
        )
        if actions.get("suppressed"):
            parts += f", {actions['suppressed']} suppressed (muted)"
        lines.extend(["", f"actions: {parts}"])
    return "\n".join(lines)


def _entry(entry: HistoryEntry) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": entry.kind, "id": entry.id, "at": _iso(entry.at)}
    data["run_ids"] = list(entry.run_ids)
    data["run_kinds"] = [kind_of(run_id) for run_id in entry.run_ids]
    if entry.kind == "event":
        data.update(
            event=entry.event_kind,
            from_status=entry.from_status,
            to_status=entry.to_status,
            alert=entry.alert,
        )
    elif entry.kind == "action":
        data.update(
            action=entry.action,
            status=entry.status,
            attempts=entry.attempts,
            last_error=entry.last_error,
            why=entry.why,
            finished_at=_iso(entry.finished_at),
            attempt_log=[
                {"at": _iso(a.at), "ok": a.ok, "reason": a.reason} for a in entry.attempt_log
            ],
        )
    elif entry.kind == "alert":
        data.update(
            channel=entry.channel,
            status=entry.status,
            why=entry.why,
            held_until=_iso(entry.held_until),
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
    with state_file(settings) as store:
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
            if entry["event"] == "stuck":  # its status did not change: it did not move
                change = f"STUCK in {entry['to_status']}"
            flag = "  [alert]" if entry["alert"] else ""
            noun = KIND_WORDS[kind_of(entry["run_ids"][0])]
            lines.append(f"{at}  {noun} {entry['run_ids'][0]}  {change}{flag}")
            continue
        runs = ", ".join(entry["run_ids"])
        if entry["kind"] == "alert":
            lines.append(f"{at}  alert to {entry['channel']}: {_alert_state(entry)}  runs: {runs}")
            continue
        if entry["kind"] == "action":
            lines.extend(_action_lines(at, entry))
            continue
        lines.append(
            f"{at}  delivery #{entry['id']} to {entry['channel']}: {entry['status']} "
            f"after {entry['attempts']} attempt(s)  runs: {runs}"
        )
        for attempt in entry["attempt_log"]:
            result = "ok" if attempt["ok"] else f"failed: {attempt['reason']}"
            lines.append(f"    {attempt['at'][:19].replace('T', ' ')}  {result}")
        if entry["status"] == "dead" and entry["last_error"]:
            lines.append(f"    given up: {entry['last_error']}")
    return "\n".join(lines)


def _action_lines(at: str, entry: dict[str, Any]) -> list[str]:
    """An action, its outcome in words, and a line per attempt beneath it."""
    run = entry["run_ids"][0]
    if entry["status"] == "suppressed":
        outcome = f"suppressed by mute {entry['why']}, never run"
    else:
        outcome = f"{entry['status']} after {entry['attempts']} attempt(s)"
    lines = [f"{at}  action #{entry['id']} {entry['action']}: {outcome}  run: {run}"]
    for attempt in entry["attempt_log"]:
        result = "ok" if attempt["ok"] else f"failed: {attempt['reason']}"
        lines.append(f"    {attempt['at'][:19].replace('T', ' ')}  {result}")
    if entry["status"] == "dead" and entry["last_error"]:
        lines.append(f"    given up: {entry['last_error']}")
    return lines


def _alert_state(entry: dict[str, Any]) -> str:
    """Why an alert did not go out as its own message, in words."""
    if entry["status"] == "suppressed":
        return f"suppressed by mute {entry['why']} (`dataframer-watcher mutes --all`)"
    until = (entry["held_until"] or "")[:19].replace("T", " ")
    why = {"quiet_hours": "quiet hours", "digest": "a burst: it goes in the digest"}.get(
        entry["why"] or "", entry["why"] or "held"
    )
    return f"held until {until} UTC ({why})"

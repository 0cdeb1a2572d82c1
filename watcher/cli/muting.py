"""`mute`, `unmute` and `mutes`: silences stored in the state file, read by the daemon each poll.

A muted alert is never sent and never dropped silently: it is recorded as suppressed, with the
mute's id, and `history` shows it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.cli.usage import channel_argument
from watcher.cli.views import state_file
from watcher.clock import utcnow
from watcher.config import Settings
from watcher.config.durations import format_duration, parse_duration
from watcher.errors import UsageError
from watcher.hold import Mute, MuteScope
from watcher.run_refs import normalize_run_id
from watcher.state.alerts import new_mute_id

__all__ = ["add_mute", "end_mute", "mute_rows", "mutes_text"]

MAX_MUTE = 365 * 86_400.0  # a mute longer than a year is a typo (and a silence nobody recalls)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe(mute: Mute) -> str:
    """A mute in words: "spec 'invoice-*'", "run 3c90...", "channel 'team'"."""
    if mute.scope is MuteScope.RUN:
        return f"run {mute.pattern}"
    return f"{mute.scope} {mute.pattern!r}"


def add_mute(
    settings: Settings,
    *,
    spec: str | None,
    run: str | None,
    channel: str | None,
    duration: str,
    reason: str | None,
) -> tuple[Mute, str]:
    """Store a mute; the mute and a line saying what it silences until when."""
    given = [(MuteScope.SPEC, spec), (MuteScope.RUN, run), (MuteScope.CHANNEL, channel)]
    chosen = [(scope, value) for scope, value in given if value is not None]
    if len(chosen) != 1:
        raise UsageError("mute needs exactly one of --spec GLOB, --run RUN_ID, --channel NAME")
    scope, value = chosen[0]
    if not value.strip():
        raise UsageError(f"--{scope} must not be empty")
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise UsageError(f"--for: {exc}") from None
    if not 0 < seconds <= MAX_MUTE:
        raise UsageError(f"--for must be more than 0s and at most 365d (got {duration!r})")
    if scope is MuteScope.RUN:
        try:
            pattern = normalize_run_id(value)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif scope is MuteScope.CHANNEL:
        pattern = channel_argument(settings, value) or value
    else:
        pattern = value.strip()
    now = utcnow()
    mute = Mute(
        id=new_mute_id(),
        scope=scope,
        pattern=pattern,
        until=now + timedelta(seconds=seconds),
        reason=reason.strip() if reason and reason.strip() else None,
        created_at=now,
    )
    with state_file(settings, create=True) as store:
        assert store is not None  # created
        store.add_mute(mute)
    return mute, f"muted {describe(mute)} until {_when(mute.until)} ({format_duration(seconds)})"


def end_mute(settings: Settings, mute_id: str) -> str:
    """End a mute now; the line to print. An unknown id is bad usage."""
    key = mute_id.strip()
    with state_file(settings) as store:
        mute = None if store is None else store.end_mute(key, utcnow())
    if mute is None:
        raise UsageError(f"no mute {key!r} (see `dataframer-watcher mutes --all`)")
    if mute.ended_at is not None or mute.until <= utcnow():
        return f"{mute.id}: already over ({describe(mute)})"
    return f"{mute.id}: unmuted ({describe(mute)})"


def mute_rows(settings: Settings, *, every: bool) -> list[dict[str, Any]]:
    """The mutes in force (or every mute), newest first, as JSON-ready data."""
    now = utcnow()
    with state_file(settings) as store:
        found = [] if store is None else store.mutes(now, active_only=not every)
    return [
        {
            "id": m.id,
            "scope": str(m.scope),
            "pattern": m.pattern,
            "until": m.until.isoformat(),
            "reason": m.reason,
            "created_at": None if m.created_at is None else m.created_at.isoformat(),
            "ended_at": None if m.ended_at is None else m.ended_at.isoformat(),
            "active": m.active(now),
        }
        for m in found
    ]


def mutes_text(rows: list[dict[str, Any]]) -> str:
    """A table of mutes, or a line saying there is none."""
    if not rows:
        return "no mutes in force"
    header = ("ID", "MUTES", "UNTIL", "REASON")
    table = [header]
    for row in rows:
        what = (
            f"run {row['pattern']}"
            if row["scope"] == "run"
            else f"{row['scope']} {row['pattern']!r}"
        )
        until = _when(datetime.fromisoformat(row["until"]))
        if row["ended_at"] is not None:
            until = f"ended {_when(datetime.fromisoformat(row['ended_at']))}"
        elif not row["active"]:
            until += " (over)"
        table.append((row["id"], what, until, row["reason"] or "-"))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table
    )

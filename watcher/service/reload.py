"""Config reload (SIGHUP): apply what can change while running, name what needs a restart.

The daemon calls `apply_reload` between ticks; the poll interval is its own business (it owns
the scheduler). What needs a restart keeps its old value in the settings in force, so
`Daemon.settings` always describes what the daemon really does.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from watcher.config import Settings, secrets_of
from watcher.errors import StateError
from watcher.logs import SCRUBBER, configure
from watcher.service.runtime import Runtime, retry_policy

log = structlog.get_logger("watcher.service.reload")


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: the settings now in force, runs it started tracking, what it skipped."""

    settings: Settings
    runs_added: tuple[str, ...]
    not_applied: tuple[str, ...]


def restart_only_changes(old: Settings, new: Settings) -> list[str]:
    """Dotted names of changed settings that only a restart applies."""
    changed = [
        f"dataframer.{name}"
        for name in type(old.dataframer).model_fields
        if getattr(old.dataframer, name) != getattr(new.dataframer, name)
    ]
    if old.state.path != new.state.path:
        changed.append("state.path")
    changed += [
        f"health.{name}"
        for name in ("enabled", "listen")
        if getattr(old.health, name) != getattr(new.health, name)
    ]
    # The sender's thread pool and per-send timeout are built once.
    changed += [
        f"delivery.{name}"
        for name in ("timeout", "concurrency")
        if getattr(old.delivery, name) != getattr(new.delivery, name)
    ]
    return changed


def in_force(old: Settings, new: Settings) -> Settings:
    """`new`, except that what needs a restart keeps its value from `old`."""
    return new.model_copy(
        update={
            "dataframer": old.dataframer,
            "state": new.state.model_copy(update={"path": old.state.path}),
            "health": old.health,
            "delivery": new.delivery.model_copy(
                update={"timeout": old.delivery.timeout, "concurrency": old.delivery.concurrency}
            ),
        }
    )


def apply_reload(rt: Runtime, new: Settings) -> ReloadResult:
    """Make `new` the settings in force, as far as a running daemon can."""
    # First, so that no line logged from here on can print a secret the new config brought.
    SCRUBBER.add(secrets_of(new))
    old = rt.settings
    settings = in_force(old, new)
    rt.settings = settings
    rt.pipeline.settings = settings  # routes, track.all, grouping: read afresh each tick
    rt.deliverer.update_channels(settings.channels)
    rt.deliverer.policy = retry_policy(settings)
    if (old.log.level, old.log.format) != (settings.log.level, settings.log.format):
        configure(level=settings.log.level, fmt=settings.log.format)
    # Only runs new to the config: one untracked by hand stays untracked. Runs dropped from
    # the config stay tracked, as after a restart (`untrack` removes them).
    added = tuple(run for run in settings.track.runs if run not in old.track.runs)
    if added:
        try:
            rt.store.track(added, rt.clock())
        except StateError as exc:
            log.error("reload_track_failed", run_ids=list(added), error=str(exc))
            added = ()
    return ReloadResult(settings, added, tuple(restart_only_changes(old, new)))

"""Config reload (SIGHUP): apply what can change while running, name what needs a restart.

`RESTART_ONLY` is the one table of what a running daemon cannot change (the parts built from it
stay open): `restart_only_changes` reads it to name what a reload did not apply, and `in_force`
to keep those values in the settings in force, so `Runtime.settings` always describes what the
daemon really does. The daemon calls `apply_reload` between ticks and reschedules the poll from
the interval in force.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import structlog
from pydantic import BaseModel

from watcher.config import Settings, secrets_of
from watcher.errors import StateError
from watcher.logs import SCRUBBER, configure
from watcher.service.runtime import Runtime

log = structlog.get_logger("watcher.service.reload")

# Section -> its fields that only a restart applies (None: the whole section). The API client,
# the state file, the health listener (and its status page, with its password) and the
# sender's threads and timeout are built once.
RESTART_ONLY: Mapping[str, tuple[str, ...] | None] = {
    "dataframer": None,
    "state": ("path",),
    "health": None,
    "ui": None,
    "delivery": ("timeout", "concurrency"),
}


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: the settings now in force, runs it started tracking, what it skipped."""

    settings: Settings
    runs_added: tuple[str, ...]
    not_applied: tuple[str, ...]


def _restart_only_fields(settings: Settings) -> Iterator[tuple[str, str]]:
    """(section, field) for each value in `RESTART_ONLY`, in the table's order."""
    for section, names in RESTART_ONLY.items():
        model: BaseModel = getattr(settings, section)
        yield from ((section, name) for name in names or type(model).model_fields)


def restart_only_changes(old: Settings, new: Settings) -> list[str]:
    """Dotted names of changed settings that only a restart applies."""
    return [
        f"{section}.{name}"
        for section, name in _restart_only_fields(old)
        if getattr(getattr(old, section), name) != getattr(getattr(new, section), name)
    ]


def in_force(old: Settings, new: Settings) -> Settings:
    """`new`, except that what needs a restart keeps its value from `old`."""
    kept: dict[str, dict[str, object]] = {}
    for section, name in _restart_only_fields(old):
        kept.setdefault(section, {})[name] = getattr(getattr(old, section), name)
    return new.model_copy(
        update={
            section: getattr(new, section).model_copy(update=values)
            for section, values in kept.items()
        }
    )


def apply_reload(rt: Runtime, new: Settings) -> ReloadResult:
    """Make `new` the settings in force, as far as a running daemon can."""
    # First, so that no line logged from here on can print a secret the new config brought.
    SCRUBBER.add(secrets_of(new))
    old = rt.settings
    settings = in_force(old, new)
    rt.apply(settings)
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

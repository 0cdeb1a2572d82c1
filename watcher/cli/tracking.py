"""What `track`, `untrack` and `redeliver` change in the state file, while `run` runs or not."""

from __future__ import annotations

from collections.abc import Sequence

from watcher.cli.usage import channel_argument
from watcher.cli.views import state_file
from watcher.clock import utcnow
from watcher.config import Settings


def track_runs(settings: Settings, run_ids: Sequence[str], *, track: bool) -> list[str]:
    """Track or untrack runs by id (normalised, each once, by the command line); a line per id.

    Only `track` creates the state file: untracking from a file that does not exist yet
    finds nothing tracked, and leaves no empty state file (or directory) behind.
    """
    with state_file(settings, create=track) as store:
        if store is None:
            results = dict.fromkeys(run_ids, "not tracked")
        else:
            now = utcnow()
            results = store.track(run_ids, now) if track else store.untrack(run_ids, now)
    return [f"{run_id}: {result}" for run_id, result in results.items()]


def redeliver_dead(settings: Settings, channel: str | None) -> int:
    """Requeue dead deliveries (all, or one channel's); returns how many."""
    channel = channel_argument(settings, channel)
    with state_file(settings) as store:
        return 0 if store is None else store.redeliver(utcnow(), channel=channel)

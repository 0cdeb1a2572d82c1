"""What `track`, `untrack` and `redeliver` change in the state file, while `run` runs or not."""

from __future__ import annotations

from collections.abc import Sequence

from watcher.cli.usage import channel_argument
from watcher.cli.views import state_file
from watcher.clock import utcnow
from watcher.config import Settings, channel_key
from watcher.errors import UsageError


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


def redeliver_dead(settings: Settings, channel: str | None) -> list[str]:
    """Requeue dead deliveries (all, or one channel's) and, without a channel, dead
    actions; the lines to print.

    A channel no longer in the config cannot take them (they would die again at once): its
    dead deliveries stay, and the lines say so.
    """
    with state_file(settings) as store:
        dead = {} if store is None else _dead_per_channel(store.delivery_counts())
        removed = {name: n for name, n in dead.items() if name not in settings.channels}
        if channel is not None and channel_key(channel) in removed:
            name = channel_key(channel)
            raise UsageError(
                f"channel {name!r} is no longer configured, so its {_deliveries(removed[name])}"
                " cannot be requeued: add it back under `channels:` first"
            )
        wanted = channel_argument(settings, channel)
        targets = [wanted] if wanted is not None else sorted(settings.channels)
        count = 0 if store is None else store.redeliver(utcnow(), channels=targets)
        # Dead actions belong to no channel: requeued by a redeliver that names none.
        acts = 0 if store is None or channel is not None else store.requeue_dead_actions(utcnow())
    lines = [f"requeued {_deliveries(count)}"]
    if acts:
        lines.append(f"requeued {acts} dead action{'' if acts == 1 else 's'}")
    if channel is None:
        lines += [
            f"{_deliveries(n)} for channel {name!r} {'stays' if n == 1 else 'stay'} dead:"
            " it is no longer configured"
            for name, n in sorted(removed.items())
        ]
    return lines


def _dead_per_channel(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    return {name: per["dead"] for name, per in counts.items() if per.get("dead")}


def _deliveries(count: int) -> str:
    return f"{count} dead deliver{'y' if count == 1 else 'ies'}"

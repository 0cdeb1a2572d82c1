"""The state file: runs, events and the delivery outbox in one SQLite file (record and ack).

`Store` (`watcher.state.store`) owns the connection, the daemon lock, the transactions and the
snapshot cache; the SQL of each stage sits beside it: `record` (one transaction per tick,
pruning), `outbox` (deliver and ack), `actions` (the actions' outbox), `queries` (what `status`
and `history` read). The file's format is in `schema`, its migrations' SQL in `migrations`, its
time format in `timestamps`.
"""

from watcher.state.queries import AttemptEntry, HistoryEntry, StatusRow
from watcher.state.store import Store, TrackResult

__all__ = ["AttemptEntry", "HistoryEntry", "StatusRow", "Store", "TrackResult"]

"""The state file's schema as an ordered list of migrations, and the tables each version holds.

`MIGRATIONS[n]` takes a file from schema version n to n + 1 (`watcher.state.schema.migrate`
applies them); the version lives in `PRAGMA user_version`. Never edit a released migration:
append a new one (a constant named for its feature), and name its tables in `TABLES`.
"""

from __future__ import annotations

__all__ = ["CURRENT_VERSION", "MIGRATIONS", "TABLES"]

# Version 1, the first release. Timestamps are ISO-8601 TEXT in one fixed UTC format
# (see watcher.state.timestamps), so comparing them as strings orders them in time.
_V1 = (
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        source TEXT NOT NULL CHECK (source IN ('explicit', 'discovered')),
        status TEXT,
        status_since TEXT,
        first_seen TEXT,
        last_polled TEXT,
        gone INTEGER NOT NULL DEFAULT 0,
        -- When an alert was decided for this run: survives pruning, so `track` knows
        -- a finished run was already announced without its events.
        alerted_at TEXT,
        -- Bumped by track/untrack: the daemon's upsert only overwrites a row it read at
        -- this revision, so a hand edit made mid-tick is never lost.
        user_rev INTEGER NOT NULL DEFAULT 0,
        user_changed_at TEXT,
        run_json TEXT
    )
    """,
    """
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (run_id),
        kind TEXT NOT NULL,
        from_status TEXT,
        to_status TEXT,
        at TEXT NOT NULL,
        alert INTEGER NOT NULL,
        previous_since TEXT
    )
    """,
    "CREATE INDEX events_by_run ON events (run_id, at)",
    "CREATE INDEX events_by_time ON events (at)",
    """
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        title TEXT NOT NULL,
        body TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'retrying', 'sent', 'dead')),
        created_at TEXT NOT NULL,
        next_attempt_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        first_attempt_at TEXT,
        last_attempt_at TEXT,
        last_error TEXT
    )
    """,
    # The outbox query reads only unfinished rows; sent and dead ones pile up.
    """
    CREATE INDEX deliveries_due ON deliveries (next_attempt_at)
        WHERE status IN ('pending', 'retrying')
    """,
    "CREATE INDEX deliveries_by_time ON deliveries (created_at)",
    """
    CREATE TABLE delivery_events (
        delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        event_id INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        PRIMARY KEY (delivery_id, event_id)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX delivery_events_by_event ON delivery_events (event_id)",
)

# Version 2: a row per delivery attempt, the URLs of a channel that already accepted a
# message (a retry skips them), when a delivery was sent or given up, runs muted by `untrack`
# instead of deleted (so discovery does not announce them again), and pruned runs marked as
# tombstones.
_V2 = (
    """
    CREATE TABLE delivery_attempts (
        id INTEGER PRIMARY KEY,
        delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        ok INTEGER NOT NULL,
        reason TEXT
    )
    """,
    "CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, at)",
    "ALTER TABLE deliveries ADD COLUMN done_urls TEXT NOT NULL DEFAULT '[]'",
    "ALTER TABLE deliveries ADD COLUMN finished_at TEXT",
    # v1 kept no finishing time; its last try is the best estimate.
    "UPDATE deliveries SET finished_at = last_attempt_at WHERE status IN ('sent', 'dead')",
    "ALTER TABLE runs ADD COLUMN muted INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE runs ADD COLUMN pruned_at TEXT",
)

# Version 3: channel names became case-insensitive (the config folds them to lower case), so
# deliveries queued under a name with capitals are renamed to keep matching their channel.
_V3 = ("UPDATE deliveries SET channel = lower(channel) WHERE channel <> lower(channel)",)

# Version 4: each delivery keeps apprise's notify type (success, failure, warning, info), so
# services that colour or rank by type show a failure as one. Older rows were sent as info.
_V4 = ("ALTER TABLE deliveries ADD COLUMN notify_type TEXT NOT NULL DEFAULT 'info'",)

# Version 5: alerts people act on (issue 9). `alerts` holds the alerts that do not go out at
# once: held (quiet hours, the rest of a digest burst) with what the message will say, or
# suppressed by a mute, kept so `history` shows them. `mutes` are the silences `mute` sets;
# `digest_windows` each channel's current burst window. A delivery keeps its body in every
# format its channel's services take (text, markdown, html). A run keeps when its samples last
# moved and when it was reported stuck (and reminded), so stuck state survives a restart.
_V5 = (
    """
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        event_id INTEGER REFERENCES events (id) ON DELETE CASCADE,
        run_id TEXT,
        channel TEXT NOT NULL,
        template TEXT,
        payload TEXT NOT NULL,
        notify_type TEXT NOT NULL DEFAULT 'info',
        status TEXT NOT NULL CHECK (status IN ('held', 'released', 'suppressed')),
        held_until TEXT,
        why TEXT,
        created_at TEXT NOT NULL,
        delivery_id INTEGER REFERENCES deliveries (id) ON DELETE SET NULL
    )
    """,
    "CREATE INDEX alerts_held ON alerts (held_until) WHERE status = 'held'",
    "CREATE INDEX alerts_by_run ON alerts (run_id, created_at)",
    """
    CREATE TABLE mutes (
        id TEXT PRIMARY KEY,
        scope TEXT NOT NULL CHECK (scope IN ('spec', 'run', 'channel')),
        pattern TEXT NOT NULL,
        reason TEXT,
        created_at TEXT NOT NULL,
        until TEXT NOT NULL,
        ended_at TEXT
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE digest_windows (
        channel TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        ends_at TEXT NOT NULL,
        sent INTEGER NOT NULL
    ) WITHOUT ROWID
    """,
    "ALTER TABLE deliveries ADD COLUMN bodies TEXT",
    "ALTER TABLE runs ADD COLUMN progress_at TEXT",
    "ALTER TABLE runs ADD COLUMN stuck_since TEXT",
    "ALTER TABLE runs ADD COLUMN stuck_notified_at TEXT",
    # When a reported stall ended (the run moved again): the final alert says how long it was.
    "ALTER TABLE runs ADD COLUMN stuck_ended_at TEXT",
)

# Progress history (issue 11): samples completed over time per run (the status page's curve,
# bounded and pruned with the run), and the pace of finished runs per spec (ETAs, `slow`).
_PROGRESS = (
    """
    CREATE TABLE progress_points (
        run_id TEXT NOT NULL,
        at TEXT NOT NULL,
        samples INTEGER NOT NULL,
        PRIMARY KEY (run_id, at)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE run_paces (
        run_id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        rate REAL NOT NULL,
        finished_at TEXT NOT NULL
    ) WITHOUT ROWID
    """,
    "CREATE INDEX run_paces_by_spec ON run_paces (spec, finished_at)",
)

# Actions on finish (issue 11): `routes[].actions`, queued in the tick's transaction beside
# the deliveries: what it runs (`spec`) and the run's detail (`run_json`); `started_at` while
# an attempt runs (so one a crash cut short is found); `done_files` a download's saved files.
_ACTIONS = (
    """
    CREATE TABLE actions (
        id INTEGER PRIMARY KEY,
        event_id INTEGER REFERENCES events (id) ON DELETE CASCADE,
        run_id TEXT NOT NULL, run_kind TEXT NOT NULL DEFAULT 'run', to_status TEXT,
        kind TEXT NOT NULL CHECK (kind IN ('exec', 'download')),
        spec TEXT NOT NULL, label TEXT NOT NULL, run_json TEXT,
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'retrying', 'done', 'dead', 'suppressed')),
        why TEXT, created_at TEXT NOT NULL, next_attempt_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0, first_attempt_at TEXT, last_attempt_at TEXT,
        started_at TEXT, finished_at TEXT, last_error TEXT,
        done_files TEXT NOT NULL DEFAULT '[]'
    )
    """,
    "CREATE INDEX actions_due ON actions (next_attempt_at) WHERE status IN ('pending', 'retrying')",
    "CREATE INDEX actions_by_run ON actions (run_id, created_at)",
    """
    CREATE TABLE action_attempts (
        id INTEGER PRIMARY KEY,
        action_id INTEGER NOT NULL REFERENCES actions (id) ON DELETE CASCADE,
        at TEXT NOT NULL, ok INTEGER NOT NULL, reason TEXT
    )
    """,
    "CREATE INDEX action_attempts_by_action ON action_attempts (action_id, at)",
)
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3, _V4, _V5, _PROGRESS, _ACTIONS)
CURRENT_VERSION = len(MIGRATIONS)

# The tables a file at each version must hold to be taken for a watcher state file.
TABLES: dict[int, frozenset[str]] = {
    1: frozenset({"meta", "runs", "events", "deliveries", "delivery_events"}),
    2: frozenset({"meta", "runs", "events", "deliveries", "delivery_events", "delivery_attempts"}),
    3: frozenset({"meta", "runs", "events", "deliveries", "delivery_events", "delivery_attempts"}),
    4: frozenset({"meta", "runs", "events", "deliveries", "delivery_events", "delivery_attempts"}),
    5: frozenset(
        {
            "meta",
            "runs",
            "events",
            "deliveries",
            "delivery_events",
            "delivery_attempts",
            "alerts",
            "mutes",
            "digest_windows",
        }
    ),
}
# Each later version: the tables before it, plus its own (whatever its place at a merge).
_AT_PROGRESS = MIGRATIONS.index(_PROGRESS) + 1
TABLES[_AT_PROGRESS] = TABLES[_AT_PROGRESS - 1] | {"progress_points", "run_paces"}
_AFTER_ACTIONS = MIGRATIONS.index(_ACTIONS) + 1
TABLES[_AFTER_ACTIONS] = TABLES[_AFTER_ACTIONS - 1] | {"actions", "action_attempts"}

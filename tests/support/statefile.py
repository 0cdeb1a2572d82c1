"""Reading a state file from a test: its deliveries, straight from SQLite or through a Store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def state_deliveries(db: Path) -> list[dict[str, Any]]:
    """Every delivery in a state file (read straight from SQLite, beside a running daemon):
    id, channel, status, attempts, last_error and the run ids it covers."""
    conn = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        rows = [dict(row) for row in conn.execute("SELECT * FROM deliveries ORDER BY id")]
        runs: dict[int, list[str]] = {}
        for delivery_id, run_id in conn.execute(
            "SELECT de.delivery_id, e.run_id FROM delivery_events de"
            " JOIN events e ON e.id = de.event_id ORDER BY de.delivery_id, e.id"
        ):
            runs.setdefault(delivery_id, []).append(run_id)
    finally:
        conn.close()
    for row in rows:
        row["run_ids"] = runs.get(row["id"], [])
    return rows


def pending_deliveries(store: Any) -> int:
    """Deliveries a `watcher.state.Store` holds that are not yet sent nor dead."""
    counts = store.delivery_counts().values()
    return sum(c.get("pending", 0) + c.get("retrying", 0) for c in counts)

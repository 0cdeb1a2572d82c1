"""Write tests/data/state-v1.db: a state file as the first release (schema v1) left it.

Run from the repository root: `.venv/bin/python tests/data/make_state_v1.py`. The file is
committed; re-run this only to rebuild it byte for byte the same way (v1 is released and frozen).
It holds three runs: run-a SUCCEEDED with its alert sent to "team"; run-b FAILED with its
alert pending for "oncall" and retrying (one failed try) for "team", both due from 10:07;
run-c PROCESSING, discovered, not alerted.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from watcher.state.schema import migrate

HERE = Path(__file__).parent
TARGET = HERE / "state-v1.db"


def run(run_id: str, status: str, **extra: object) -> str:
    """A run as the v1 watcher stored it (its JSON dump, plus a field the API added later)."""
    return json.dumps(
        {
            "id": run_id,
            "status": status,
            "spec_id": "spec-1",
            "spec_name": "invoices",
            "spec_version": 3,
            "dataset_id": "ds-1",
            "dataset_name": "invoices-seed",
            "dataset_type": "CSV",
            "samples_completed": 100,
            "samples_failed": 2,
            "total_cost": 1.25,
            "created_at": "2026-11-01T09:00:00Z",
            "created_by_email": "ana@example.com",
            "completed_at": None,
            "runtime_params": None,
            "generated_files": None,
            **extra,
        }
    )


def main(target: Path = TARGET) -> None:
    """Build the file from scratch with the v1 migration and v1-era rows."""
    target.unlink(missing_ok=True)
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn, target=1)
        t = "2026-11-01T10:{:02d}:00.000000+00:00".format
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO runs (run_id, source, status, status_since, first_seen, last_polled,"
            " gone, alerted_at, user_rev, run_json) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
            [
                ("run-a", "explicit", "SUCCEEDED", t(5), t(0), t(5), t(5), 1,
                 run("run-a", "SUCCEEDED", queue="gpu")),
                ("run-b", "explicit", "FAILED", t(6), t(0), t(6), t(6), 1,
                 run("run-b", "FAILED")),
                ("run-c", "discovered", "PROCESSING", t(1), t(1), t(6), None, 0,
                 run("run-c", "PROCESSING")),
            ],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO events (id, run_id, kind, from_status, to_status, at, alert,"
            " previous_since) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (1, "run-a", "first_seen", None, "PROCESSING", t(0), 0, None),
                (2, "run-b", "first_seen", None, "PROCESSING", t(0), 0, None),
                (3, "run-c", "first_seen", None, "PROCESSING", t(1), 0, None),
                (4, "run-a", "transition", "PROCESSING", "SUCCEEDED", t(5), 1, t(0)),
                (5, "run-b", "transition", "PROCESSING", "FAILED", t(6), 1, t(0)),
            ],
        )
        conn.executemany(
            "INSERT INTO deliveries (id, channel, title, body, status, created_at,"
            " next_attempt_at, attempts, first_attempt_at, last_attempt_at, last_error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (1, "team", "SUCCEEDED: invoices", "Run run-a succeeded.", "sent", t(5), None,
                 1, t(5), t(5), None),
                (2, "team", "FAILED: invoices", "Run run-b failed.", "retrying", t(6), t(7),
                 1, t(6), t(6), "HTTP 503 from hooks.slack.com"),
                (3, "oncall", "FAILED: invoices", "Run run-b failed.", "pending", t(6), t(6),
                 0, None, None, None),
            ],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO delivery_events (delivery_id, event_id) VALUES (?, ?)",
            [(1, 4), (2, 5), (3, 5)],
        )
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("discovery_baseline", t(1)), ("last_tick_at", t(6))],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()


if __name__ == "__main__":
    main()

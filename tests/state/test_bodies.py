"""deliveries.bodies (schema v5): a message's body per format survives the outbox, and a row
without it (written before v5, or unreadable) sends its plain-text body."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watcher.events import Event, EventKind, Notification, Snapshot, Source, TickRecord
from watcher.models import Run
from watcher.ops import API, OpsAlert
from watcher.render import compose_ops
from watcher.state import Store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BODIES = {"text": "Run: r-1", "markdown": "**Run:** `r-1`", "html": "<p>Run: r-1 → ✅</p>"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "w.db") as opened:
        yield opened


def _tick(note: Notification) -> TickRecord:
    run = Run(id="r-1", status="SUCCEEDED")
    snap = Snapshot("r-1", Source.EXPLICIT, "SUCCEEDED", NOW, NOW, NOW, run=run)
    event = Event("r-1", EventKind.TRANSITION, "PROCESSING", "SUCCEEDED", NOW, alert=True)
    return TickRecord(NOW, (snap,), (event,), (note,))


def test_bodies_per_format_come_back_as_written(store: Store) -> None:
    """What compose wrote per format is what the deliverer reads, non-ASCII included."""
    store.record(_tick(Notification("team", (0,), "t", BODIES["text"], bodies=BODIES)))
    [delivery] = store.due_deliveries(NOW)
    assert delivery.bodies == BODIES
    assert delivery.body == BODIES["text"]


def test_ops_messages_keep_their_bodies_too(store: Store) -> None:
    """Ops messages go into the outbox by their own path, with their formats."""
    note = compose_ops(OpsAlert(API, True, NOW, NOW, "HTTP 503"), "ops")
    store.queue_ops(NOW, [note], {API: NOW})
    [delivery] = store.due_deliveries(NOW)
    assert set(delivery.bodies) == {"text", "markdown", "html"}


@pytest.mark.parametrize("column", [None, "", "not json", "[1, 2]", '{"html": 5, "text": "x"}'])
def test_a_row_without_readable_bodies_sends_its_text(
    store: Store, tmp_path: Path, column: str | None
) -> None:
    """An old row (NULL) or a damaged one: no bodies (or only the well-formed ones), so the
    sender falls back to the plain-text body every service takes."""
    store.record(_tick(Notification("team", (0,), "t", "Run: r-1")))
    with sqlite3.connect(tmp_path / "w.db") as conn:
        conn.execute("UPDATE deliveries SET bodies = ?", (column,))
    [delivery] = store.due_deliveries(NOW)
    assert delivery.bodies == ({"text": "x"} if column and "text" in column else {})
    assert delivery.body == "Run: r-1"

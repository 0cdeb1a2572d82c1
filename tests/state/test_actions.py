"""The actions' outbox in the state file: queued with the tick's transaction, done is final,
and a run with an unfinished action is never pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watcher.errors import StateError
from watcher.events import (
    Event,
    EventKind,
    Notification,
    PlannedAction,
    Snapshot,
    Source,
    TickRecord,
)
from watcher.models import Run
from watcher.state import Store
from watcher.state.actions import ActionAttempt

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EXEC = PlannedAction(0, "exec", {"exec": ["/bin/true"], "timeout": 300.0}, "exec /bin/true")


def _tick(*actions: PlannedAction, notes: tuple[Notification, ...] = ()) -> TickRecord:
    run = Run.model_validate({"id": "r-1", "status": "SUCCEEDED", "spec_name": "s"})
    event = Event("r-1", EventKind.TRANSITION, "PROCESSING", "SUCCEEDED", NOW, True, run=run)
    snap = Snapshot("r-1", Source.EXPLICIT, "SUCCEEDED", NOW, NOW, NOW, run=run)
    return TickRecord(NOW, (snap,), (event,), notes, actions=actions)


def test_actions_are_written_in_the_ticks_one_transaction(tmp_path: Path) -> None:
    """A tick that cannot be recorded (a message naming an event it lacks) leaves neither its
    run, nor its deliveries, nor its actions behind."""
    bad = Notification("team", (5,), "t", "b")
    with Store.open(tmp_path / "w.db") as store:
        with pytest.raises(StateError):
            store.record(_tick(EXEC, notes=(bad,)))
        assert sum(store.action_counts().values()) == 0
        assert store.snapshots() == {}
        store.record(_tick(EXEC))
        (queued,) = store.due_actions(NOW)
        assert (queued.run_id, queued.kind, queued.to_status) == ("r-1", "exec", "SUCCEEDED")
        assert queued.spec == {"exec": ["/bin/true"], "timeout": 300.0}
        assert queued.run_json is not None
        assert not queued.interrupted


def test_done_is_final_and_a_started_attempt_is_known_after_a_restart(tmp_path: Path) -> None:
    """An attempt marked started and never recorded reads as interrupted on the next open;
    once done, a late report changes nothing and the action is never due again."""
    path = tmp_path / "w.db"
    with Store.open(path) as store:
        store.record(_tick(EXEC))
        (queued,) = store.due_actions(NOW)
        store.start_action(queued.id, NOW)
    with Store.open(path) as store:  # the process that started it is gone
        (again,) = store.due_actions(NOW)
        assert again.interrupted
        assert store.record_action(ActionAttempt(again.id, NOW, True, None, None))
        late = ActionAttempt(again.id, NOW, False, "late", NOW + timedelta(seconds=1))
        assert not store.record_action(late)
        assert store.due_actions(NOW + timedelta(days=1)) == []
        assert store.action_counts()["done"] == 1
        assert store.requeue_dead_actions(NOW) == 0


def test_a_run_is_pruned_only_once_its_actions_are_finished(tmp_path: Path) -> None:
    """Retention keeps a run whose action still waits; once it is done, the run goes, and
    its actions with it."""
    with Store.open(tmp_path / "w.db") as store:
        store.record(_tick(EXEC))
        later = NOW + timedelta(days=40)
        assert store.prune(later, retention_seconds=86_400) == 0
        (queued,) = store.due_actions(later)
        store.record_action(ActionAttempt(queued.id, later, True, None, None))
        assert store.prune(later, retention_seconds=86_400) == 1
        assert sum(store.action_counts().values()) == 0

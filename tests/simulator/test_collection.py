"""The cached list body: always what a fresh rendering would say, rebuilt only when it must be.

Blocks of 4 jobs here (256 in the simulator), so a few dozen jobs exercise many blocks,
splits, emptied blocks and insertions in the middle.
"""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.simulator import ManualClock, PlanDefaults
from watcher.simulator.builders import Draw, Timing, new_run
from watcher.simulator.collection import Collection
from watcher.simulator.model import SimRun


class World:
    """A collection of runs on a hand-moved clock, made as the simulator makes them."""

    def __init__(self, seed: int = 0) -> None:
        self.clock = ManualClock()
        self.rng = random.Random(seed)
        self.runs: Collection[SimRun] = Collection(block=4)
        self.seq = 0

    def add(self, ago: float = 0.0, **timing: Any) -> SimRun:
        self.seq += 1
        draw = Draw(self.rng, PlanDefaults(), self.clock(), self.seq)
        run = new_run(
            draw,
            Timing(
                pending_seconds=timing.get("pending", (0, 20)),
                processing_seconds=timing.get("processing", (5, 60)),
                created_ago_seconds=ago,
            ),
            number_of_samples=timing.get("samples") or self.rng.randint(1, 200),
        )
        self.runs.add(run)
        return run

    def listed(self) -> list[dict[str, Any]]:
        parsed: list[dict[str, Any]] = json.loads(b"".join(self.runs.body(self.clock())))
        return parsed

    def expected(self) -> list[dict[str, Any]]:
        now = self.clock()
        ordered = sorted(self.runs.ordered(), key=lambda run: run.key)
        return [run.list_item(now) for run in ordered]


operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(1, 12), st.floats(0, 120)),
        # More than 64 at once: placed by one sort instead of one insertion each.
        st.tuples(st.just("add"), st.integers(65, 80), st.floats(0, 120)),
        st.tuples(st.just("pin"), st.integers(0, 10_000), st.sampled_from(["FAILED", "PAUSED"])),
        st.tuples(st.just("remove"), st.integers(0, 10_000), st.just("")),
        # The newest or the oldest: emptying the first or last block moves the array's edges.
        st.tuples(st.just("remove"), st.sampled_from([0, -1]), st.just("")),
        st.tuples(st.just("advance"), st.floats(0, 30), st.just("")),
    ),
    max_size=40,
)


@settings(max_examples=120, deadline=None, database=None)
@given(operations)
def test_the_cached_body_always_equals_a_fresh_rendering(ops: list[tuple[str, Any, Any]]) -> None:
    """Whatever is added, pinned, removed or left to the clock, the body is the list as it
    stands: every item current, newest first, valid JSON across block boundaries."""
    world = World()
    for op, a, b in ops:
        jobs = world.runs.ordered()
        if op == "add":
            for _ in range(a):
                world.add(ago=world.rng.uniform(0, b))
        elif op == "pin" and jobs:
            run = jobs[a % len(jobs)]
            run.pin(b, world.clock())
            world.runs.changed(run)
        elif op == "remove" and jobs:
            assert world.runs.remove(jobs[a % len(jobs)].id) is not None
        elif op == "advance":
            world.clock.advance(a)
        assert world.listed() == world.expected()


def test_an_unchanged_body_is_served_as_is() -> None:
    """Finished and pinned runs only: the very same parts, however far the clock moves."""
    world = World()
    for _ in range(30):
        world.add(ago=1000)
    world.runs.ordered()[3].pin("PAUSED", world.clock())
    first = world.runs.body(world.clock())
    world.clock.advance(10_000)
    assert world.runs.body(world.clock()) is first


def test_the_body_is_rebuilt_at_the_instant_a_job_moves_on() -> None:
    """A PENDING run due to start in 10 s: the same body until then, a new one from then."""
    world = World()
    for _ in range(10):
        world.add(ago=1000)
    world.add(pending=10.0, processing=100.0)
    first = world.runs.body(world.clock())
    world.clock.advance(9.9)
    assert world.runs.body(world.clock()) is first
    world.clock.advance(0.1)
    rebuilt = world.runs.body(world.clock())
    assert rebuilt is not first
    assert json.loads(b"".join(rebuilt))[0]["status"] == "PROCESSING"


def test_emptying_the_first_and_last_blocks_keeps_the_array_whole() -> None:
    """The next block becomes the one that opens (or closes) the array."""
    world = World()
    for _ in range(20):
        world.add(ago=world.rng.uniform(0, 1000))
    world.listed()
    for _ in range(6):
        world.runs.remove(world.runs.ordered()[0].id)
        world.runs.remove(world.runs.ordered()[-1].id)
        assert world.listed() == world.expected()


def test_only_the_changed_block_is_rendered_again() -> None:
    """Pinning one run re-renders its block; the other blocks' bytes are the same objects."""
    world = World()
    for _ in range(40):
        world.add(ago=1000)
    before = world.runs.body(world.clock())
    world.runs.ordered()[17].pin("FAILED", world.clock())
    world.runs.changed(world.runs.ordered()[17])
    after = world.runs.body(world.clock())
    changed = [index for index, (a, b) in enumerate(zip(before, after, strict=True)) if a is not b]
    assert len(changed) == 1


def test_a_progressing_run_shows_each_sample_as_it_comes() -> None:
    """While PROCESSING, the cached item holds exactly until its next sample is done."""
    world = World()
    world.add(pending=0.0, processing=100.0, samples=10)  # a sample attempted every 10 s
    seen = []
    for _ in range(12):
        seen.append(world.listed()[0]["samples_completed"] + world.listed()[0]["samples_failed"])
        world.clock.advance(5)
    assert seen == sorted(seen)
    assert seen == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]

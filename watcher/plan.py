"""plan: how a tick reads the API, chosen by what reading cost on earlier ticks.

Two choices, both pure (the costs are measured by fetch and passed in):
- `choose`: for explicit runs (`track.runs` without `track.all`), one list read or one
  detail read per run, whichever the measured costs (an EWMA of wall time) say is cheaper;
- `cut`: where a list read may stop. The list is newest first, so a read must pass the
  watermark (the newest run already known: anything newer is new) and the runs it wants to
  see; an active run far down the list costs less as a detail read than as every item
  before it, so the cut may leave the oldest few to detail reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["LIST_THRESHOLD", "Costs", "Cut", "Ewma", "Plan", "choose", "cut"]

# Before the list has been measured: above this many active explicit runs, read the list.
LIST_THRESHOLD = 10
# Priors until measured, of one detail read's wall time and of one list item's.
_GET_PRIOR = 0.005
_ITEM_PRIOR = 0.000_005


class Plan(StrEnum):
    """How a tick read the runs it follows (the `fetch_plan` metric's label)."""

    LIST = "list"  # the list endpoint (then detail reads only for runs it did not show)
    EACH = "each"  # one detail read per run


@dataclass(slots=True)
class Ewma:
    """An exponentially weighted moving average; None until the first sample."""

    alpha: float = 0.3
    value: float | None = None

    def add(self, sample: float) -> None:
        """Fold in one measurement."""
        self.value = (
            sample if self.value is None else self.value + self.alpha * (sample - self.value)
        )


@dataclass(slots=True)
class Costs:
    """What reading has cost so far: wall seconds per detail read and per list item read,
    and how many items the list had when last read to its end."""

    get: Ewma
    item: Ewma
    list_items: int | None = None

    @classmethod
    def fresh(cls) -> Costs:
        """Nothing measured yet."""
        return cls(get=Ewma(), item=Ewma())

    @property
    def per_get(self) -> float:
        """One detail read's cost (the prior before any was measured)."""
        return _GET_PRIOR if self.get.value is None else self.get.value

    @property
    def per_item(self) -> float:
        """One list item's cost (the prior before any was measured)."""
        return _ITEM_PRIOR if self.item.value is None else self.item.value


def choose(runs: int, reach: int | None, costs: Costs, *, concurrency: int) -> Plan:
    """List or detail reads for `runs` active explicit runs; `reach` is how far down the list
    the oldest of them sat last time (None: unknown, the whole list).

    Detail reads run `concurrency` at a time, so their wall time is per_get per batch.
    Until the list was ever read its cost is unknown: the fixed threshold decides.
    """
    if runs == 0:
        return Plan.EACH
    items = reach if reach is not None else costs.list_items
    if items is None or costs.item.value is None:
        return Plan.LIST if runs > LIST_THRESHOLD else Plan.EACH
    batches = -(-runs // max(1, concurrency))
    each = batches * costs.per_get
    listed = costs.per_get + items * costs.per_item  # one request, plus its items
    return Plan.LIST if listed < each else Plan.EACH


@dataclass(frozen=True, slots=True)
class Cut:
    """Where a list read stops: at the first item created before `before` (None: read it all);
    `by_id` are the wanted runs past that point, for detail reads."""

    before: datetime | None
    by_id: tuple[str, ...] = ()


def cut(
    wanted: Sequence[tuple[str, datetime | None]],
    watermark: datetime | None,
    positions: Mapping[str, int],
    costs: Costs,
) -> Cut:
    """Where to stop reading the list, given the runs it should show (id, created_at).

    Without a watermark (the first read since start) the whole list is read. A wanted run
    without a creation time cannot be placed: the list is read to its end for it. Else each
    candidate stop (right after the watermark, or right after one of the wanted runs) costs
    the items before it plus a detail read per wanted run past it; the cheapest wins, and
    on a tie the one with fewer requests.
    """
    if watermark is None or any(created is None for _, created in wanted):
        return Cut(before=None)
    placed: list[tuple[str, datetime]] = sorted(
        ((run_id, created) for run_id, created in wanted if created is not None),
        key=lambda pair: pair[1],
        reverse=True,
    )
    fallback = costs.list_items if costs.list_items is not None else len(positions)
    best: tuple[float, int, int] | None = None  # (cost, requests, how many are read in the list)
    for listed in range(len(placed) + 1):
        reach = 0 if listed == 0 else positions.get(placed[listed - 1][0], fallback)
        by_id = len(placed) - listed
        cost = reach * costs.per_item + by_id * costs.per_get
        if best is None or (cost, by_id) < best[:2]:
            best = (cost, by_id, listed)
    assert best is not None
    listed = best[2]
    before = watermark if listed == 0 else min(watermark, placed[listed - 1][1])
    return Cut(before=before, by_id=tuple(run_id for run_id, _ in placed[listed:]))

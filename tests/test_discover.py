"""discover: `track.filter` on discovered jobs, and each kind's own silent baseline in detect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from hypothesis import given
from hypothesis import strategies as st

from watcher.detect import detect
from watcher.discover import DiscoveryFilter
from watcher.events import Observation, Snapshot, Source
from watcher.models import AnonymizationRun, Job, RedTeamRun, Run
from watcher.stuck import StuckRules, is_due

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_no_filter_admits_everything_and_is_inactive() -> None:
    flt = DiscoveryFilter()
    assert not flt.active
    assert flt.admits(Run(id="r"))


def test_each_given_glob_must_match() -> None:
    """Specs and datasets are case-sensitive; creators ignore case; a job without the field
    a glob reads fails it."""
    flt = DiscoveryFilter(specs=["invoice-*"], creators=["*@example.com"], datasets=["prod-*"])
    good = Run(
        id="a", spec_name="invoice-v2", created_by_email="Ada@EXAMPLE.com", dataset_name="prod-1"
    )
    assert flt.active
    assert flt.admits(good)
    assert not flt.admits(good.model_copy(update={"spec_name": "Invoice-v2"}))
    assert not flt.admits(good.model_copy(update={"dataset_name": "PROD-1"}))
    assert not flt.admits(good.model_copy(update={"created_by_email": "eve@elsewhere.org"}))
    assert not flt.admits(good.model_copy(update={"spec_name": None}))
    # A red-team run has a spec; an anonymization a dataset: the same globs read them.
    assert DiscoveryFilter(specs=["jail*"]).admits(RedTeamRun(id="t", spec_name="jailbreak"))
    assert DiscoveryFilter(datasets=["cust*"]).admits(
        AnonymizationRun(id="n", dataset_name="customers")
    )
    assert not DiscoveryFilter(specs=["*"]).admits(AnonymizationRun(id="n"))


NAMES = st.sampled_from(["invoice-a", "Invoice-b", "prod", "x", "ada@example.com", "EVE@x.org"])
GLOBS = st.none() | st.lists(
    st.sampled_from(["invoice-*", "*", "prod", "*@example.com"]), min_size=1, max_size=3
)


@given(NAMES | st.none(), NAMES | st.none(), NAMES | st.none(), GLOBS, GLOBS, GLOBS)
def test_the_filter_is_the_readmes_rule(
    spec: str | None,
    creator: str | None,
    dataset: str | None,
    specs: list[str] | None,
    creators: list[str] | None,
    datasets: list[str] | None,
) -> None:
    """Written apart from the code, from the README: each filter given must match."""

    def ok(value: str | None, globs: list[str] | None, fold: bool = False) -> bool:
        if globs is None:
            return True
        if value is None:
            return False
        if fold:
            return any(fnmatchcase(value.lower(), g.lower()) for g in globs)
        return any(fnmatchcase(value, g) for g in globs)

    job = Run(id="r", spec_name=spec, created_by_email=creator, dataset_name=dataset)
    expected = ok(spec, specs) and ok(creator, creators, True) and ok(dataset, datasets)
    assert DiscoveryFilter(specs, creators, datasets).admits(job) is expected


def _alerted(*jobs: Job, kinds: frozenset[str]) -> set[str]:
    """The jobs whose first sight raises an alert; every one of them is recorded."""
    observation = Observation(runs=jobs, baseline=bool(kinds), baseline_kinds=kinds)
    detection = detect({}, observation, NOW)
    assert {s.run_id for s in detection.snapshots} == {job.ref for job in jobs}
    return {e.run_id for e in detection.events if e.alert}


def test_only_the_kinds_in_their_baseline_are_silent() -> None:
    """A kind added to `track.kinds` later takes its own silent pass while the others,
    already past theirs, announce a job first seen finished."""
    run = Run(id="r1", status="SUCCEEDED")
    anon = AnonymizationRun(id="a1", status="SUCCEEDED")
    assert _alerted(run, anon, kinds=frozenset({"anonymization"})) == {"r1"}
    assert _alerted(run, anon, kinds=frozenset()) == {"r1", "anonymization:a1"}


def test_a_baseline_without_kinds_is_every_kind() -> None:
    """`Observation(baseline=True)` alone (as before job kinds): every first sight is silent."""
    observation = Observation(runs=(Run(id="r", status="FAILED"),), baseline=True)
    assert not any(e.alert for e in detect({}, observation, NOW).events)


def test_detect_keys_every_kind_by_its_reference() -> None:
    """Snapshots and events are keyed by the canonical reference: a red-team run and a
    generation run with the same API id are two jobs."""
    observation = Observation(runs=(Run(id="x"), RedTeamRun(id="x")))
    detection = detect({}, observation, NOW)
    assert sorted(s.run_id for s in detection.snapshots) == ["red-team:x", "x"]


def test_only_a_kind_that_reports_progress_can_stall_while_processing() -> None:
    """`no_progress_after` needs a sample count: a PROCESSING red-team run or evaluation is
    never stuck for want of one; PENDING too long is stuck whatever the kind."""
    rules = StuckRules(pending_after=60, no_progress_after=60)
    later = NOW + timedelta(hours=1)

    def snap(ref: str, status: str) -> Snapshot:
        return Snapshot(ref, Source.EXPLICIT, status, progress_at=NOW)

    assert is_due(snap("r1", "PROCESSING"), later, rules)
    assert not is_due(snap("red-team:t1", "PROCESSING"), later, rules)
    assert not is_due(snap("evaluation:e1", "PROCESSING"), later, rules)
    assert is_due(snap("evaluation:e1", "PENDING"), later, rules)

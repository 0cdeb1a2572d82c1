"""`python -m bench --quick` as a subprocess: every benchmark runs and reports its numbers.

Nothing here asserts a duration: timing belongs to `make bench`, not to the test suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support import ROOT, clean_env

TIMINGS = (
    "parse.lean",
    "parse.sdk",
    "parse.json_loads",
    "http.list.ours",
    "http.list.sdk",
    "tick.baseline",
    "tick.steady",
    "detect.baseline",
    "detect.steady",
    "detect.all_active",
    "store.record_baseline",
    "store.record_tick",
    "store.snapshots_reload",
    "deliver.webhook",
    "startup.status",
    "scale.1k",
    "scale.status",
    "scale.latency",
    "naive.sdk_retrieve_loop",
    "naive.ours",
)
GAUGES = ("memory.tick", "memory.idle_daemon")


# The quick run starts a few processes of its own (the scale ticks, a daemon, `status`).
pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One quick benchmark run, shared by the tests below; its JSON report."""
    out = tmp_path_factory.mktemp("bench") / "r.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "tick.steady" in done.stdout  # the table went to stdout
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_every_timing_has_positive_numbers(report: dict[str, Any]) -> None:
    """Each benchmark ran at least once and reports a positive median, p95 and min."""
    assert report["errors"] == {}
    assert report["quick"] is True
    for name in TIMINGS:
        row = report["benchmarks"][name]
        assert row["n"] > 0, name
        assert row["reps"] >= 1, name
        assert len(row["samples_ms"]) == row["reps"], name
        assert 0 < row["min_ms"] <= row["median_ms"] <= row["p95_ms"], name


def test_steady_tick_reads_the_list_once_and_only_finished_runs_in_detail(
    report: dict[str, Any],
) -> None:
    """Discovery costs one list request per tick; detail reads are for runs that just finished."""
    steady = report["benchmarks"]["tick.steady"]
    assert steady["list_requests"] == steady["list_requests_min"] == 1
    assert steady["finished"] > 0
    assert steady["detail_requests"] == steady["finished"]
    assert steady["events"] == steady["changed"]
    baseline = report["benchmarks"]["tick.baseline"]
    assert (baseline["list_requests"], baseline["detail_requests"]) == (1, 0)
    assert baseline["snapshots_written"] == report["sizes"]["runs"]


def test_speedups_and_throughput_are_reported(report: dict[str, Any]) -> None:
    """The SDK comparison carries a speed-up factor; delivery a rate, with every post received."""
    benchmarks = report["benchmarks"]
    assert benchmarks["parse.sdk"]["speedup"] > 0
    assert benchmarks["http.list.sdk"]["speedup"] > 0
    delivery = benchmarks["deliver.webhook"]
    assert delivery["deliveries_per_second"] > 0
    assert delivery["concurrency"] == 4
    # One warm-up round plus the timed ones, every message posted.
    assert delivery["received"] == delivery["n"] * (delivery["reps"] + 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="RSS is read from /proc")
def test_memory_gauges_are_positive(report: dict[str, Any]) -> None:
    """Peak RSS and tracemalloc peaks of the tick, and the idle daemon's resident set."""
    tick = report["memory"]["memory.tick"]
    assert tick["peak_rss_mib"] > 0
    assert tick["tracemalloc_baseline_peak_mib"] > 0
    assert tick["tracemalloc_steady_peak_mib"] > 0
    daemon = report["memory"]["memory.idle_daemon"]
    assert 0 < daemon["idle_rss_mib"] <= daemon["peak_rss_mib"]
    assert set(report["memory"]) == set(GAUGES)


def test_startup_is_measured_beside_the_bare_interpreter(report: dict[str, Any]) -> None:
    """`status` as a fresh process, with the interpreter's own start-up to compare it with."""
    startup = report["benchmarks"]["startup.status"]
    assert startup["interpreter_ms"] > 0
    assert startup["tracked_runs"] == 3


def test_machine_info_is_recorded(report: dict[str, Any]) -> None:
    """Numbers mean little without the machine they were taken on."""
    machine = report["machine"]
    assert machine["python"] == ".".join(map(str, sys.version_info[:3]))
    assert machine["cpu_count"] >= 1
    assert machine["platform"]


def test_scale_rows_count_requests_items_and_rows_beside_the_naive_loop(
    report: dict[str, Any],
) -> None:
    """The scale world: its steady ticks read the top of the list (stopped early) and write a
    row per event; the naive loop made one request per tracked run; latency was measured."""
    world = report["benchmarks"]["scale.1k"]
    assert 0 < world["listed_median"] < world["runs"]
    assert world["requests_median"] >= 1
    assert world["peak_rss_mib"] > 0
    assert sum(world["rows_written"]) <= sum(world["events"]) + world["active"]
    naive = report["benchmarks"]["naive.sdk_retrieve_loop"]
    assert naive["requests"] == naive["n"]
    assert report["benchmarks"]["naive.ours"]["speedup"] > 0
    assert report["benchmarks"]["scale.latency"]["p99_s"] > 0

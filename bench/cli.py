"""The benchmark command: set up one simulator, run every benchmark, report a table and JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from bench.delivery import delivery_benchmark
from bench.memory import Gauge, idle_daemon, tick_memory
from bench.parse import http_benchmarks, parse_benchmarks
from bench.scale import scale_benchmarks
from bench.stages import Observations, detect_benchmarks, store_benchmarks
from bench.startup import startup_benchmarks
from bench.tick import tick_benchmarks
from bench.timing import Result
from bench.world import API_KEY, Sizes, change, populate, quiet_logs, restore
from watcher import __version__
from watcher.models import RUN_LIST
from watcher.simulator import SimulatorServer

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"
_SEED = 1
T = TypeVar("T")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks; 0 on success, 1 if one of them failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and few repetitions: a smoke run"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"JSON results file (default: {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes.full()
    started = time.perf_counter()
    report = run_all(sizes, quick=args.quick)
    elapsed = time.perf_counter() - started
    rows, gauges = report.rows, report.gauges
    print(render_table(rows, gauges))
    document = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "elapsed_s": round(elapsed, 1),
        "sizes": asdict(sizes),
        "machine": machine_info(),
        "benchmarks": {row.name: {**row.as_json(), "note": row.note} for row in rows},
        "memory": {gauge.name: {**gauge.as_json(), "note": gauge.note} for gauge in gauges},
        "errors": report.errors,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\n{len(rows) + len(gauges)} benchmarks in {elapsed:.1f}s; JSON: {args.out}")
    for what, error in report.errors.items():
        print(f"bench: {what} failed: {error}", file=sys.stderr)
    return 1 if report.errors else 0


@dataclass
class Report:
    """What the sections produced, and the error of each section that failed."""

    rows: list[Result] = field(default_factory=list)
    gauges: list[Gauge] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def step(self, what: str, fn: Callable[[], T]) -> T | None:
        """Run one section, telling stderr how long it took; a failure is kept, not raised."""
        print(f"bench: {what}...", end="", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            value = fn()
        except Exception as exc:  # one broken section must not cost the others' numbers
            self.errors[what] = f"{type(exc).__name__}: {exc}"
            print(f" failed: {self.errors[what]}", file=sys.stderr, flush=True)
            return None
        print(f" {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
        return value


def run_all(sizes: Sizes, *, quick: bool = False) -> Report:
    """Every benchmark against one simulator; a failed section is reported and skipped."""
    quiet_logs()
    report = Report()
    step = report.step
    # Worlds of their own (up to 100,000 runs), each on a fresh simulator, first: after the
    # other sections (their threads, their children) the measured ticks cost half as much again.
    report.rows += step("scale", lambda: scale_benchmarks(quick)) or []
    with (
        tempfile.TemporaryDirectory(prefix="watcher-bench-") as tmp,
        SimulatorServer(api_key=API_KEY, seed=_SEED) as server,
    ):
        work = Path(tmp)
        for section in ("tick", "store", "deliver", "memory", "daemon", "startup"):
            (work / section).mkdir()
        active = populate(server, sizes)
        before = server.sim.list_json()
        moved = change(server, active, sizes.changes)
        after = server.sim.list_json()
        restore(server, moved)
        runs = RUN_LIST.validate_json(before)

        report.rows += step("parse", lambda: parse_benchmarks(before, sizes.runs, sizes)) or []
        report.rows += step("http", lambda: http_benchmarks(server, sizes.runs, sizes)) or []
        report.rows += (
            step("tick", lambda: asyncio.run(tick_benchmarks(server, active, sizes, work / "tick")))
            or []
        )
        detected = step("detect", lambda: detect_benchmarks(Observations(before, after), sizes))
        if detected is not None:
            rows, base, steady = detected
            report.rows += rows
            report.rows += (
                step("store", lambda: store_benchmarks(base, steady, sizes, work / "store")) or []
            )
        delivered = step(
            "deliver", lambda: asyncio.run(delivery_benchmark(runs, sizes, work / "deliver"))
        )
        report.rows += [delivered] if delivered is not None else []
        memory = step("memory", lambda: tick_memory(server.url, sizes.runs, work / "memory"))
        daemon = step("daemon", lambda: idle_daemon(server.url, sizes.runs, work / "daemon"))
        report.gauges += [gauge for gauge in (memory, daemon) if gauge is not None]
        report.rows += step("startup", lambda: startup_benchmarks(sizes, work / "startup")) or []
    return report


def render_table(rows: Sequence[Result], gauges: Sequence[Gauge]) -> str:
    """An aligned plain-text table: timings first, then memory."""
    header = ("benchmark", "n", "median ms", "p95 ms", "min ms", "notes")
    lines: list[tuple[str, ...]] = [header]
    lines += [
        (r.name, str(r.n), f"{r.median_ms:.1f}", f"{r.p95_ms:.1f}", f"{r.min_ms:.1f}", r.note)
        for r in rows
    ]
    lines += [(g.name, str(g.n), "-", "-", "-", g.note) for g in gauges]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = []
    for index, line in enumerate(lines):
        cells = [
            cell.ljust(width) if column == 0 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(line, widths, strict=False))
        ]
        out.append("  ".join([*cells, line[-1]]).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def machine_info() -> dict[str, Any]:
    """What the numbers depend on: interpreter, CPU, OS and the libraries on the hot path."""
    versions: dict[str, str | None] = {}
    for package in ("pydantic", "pydantic-core", "httpx", "apprise", "pydataframer"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "sqlite": sqlite3.sqlite_version,
        "watcher": __version__,
        "packages": versions,
    }

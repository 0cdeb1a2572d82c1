"""The watcher's ticks at scale, in a process of its own: `python -m bench.scaletick ARGS`.

The parent holds the simulator (and injects transitions while this runs), so this process's
CPU time and peak RSS are the watcher's alone. It runs a baseline tick, then `--ticks` steady
ticks `--gap` seconds apart, and prints one JSON object: per tick the CPU and wall seconds,
requests, list items read and parsed, rows written and events.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import time
from pathlib import Path
from typing import Any

from bench.memory import peak_rss_mib
from bench.world import API_KEY, quiet_logs, settings_for, write_config
from watcher.api import DataframerClient
from watcher.clock import utcnow
from watcher.pipeline import Pipeline
from watcher.service.runtime import tick_policy
from watcher.state import Store


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Baseline, then steady ticks; what each cost."""
    quiet_logs()
    workdir = Path(args.dir)
    extra: dict[str, Any] = {}
    if args.explicit:
        extra["track"] = {"all": False, "runs": args.explicit.split(",")}
    settings = settings_for(write_config(workdir, args.url, **extra))
    profile = cProfile.Profile() if args.profile else None
    ticks: list[dict[str, Any]] = []
    async with DataframerClient(args.url, API_KEY) as client:
        with Store.open(settings.state.path) as store:
            pipeline = Pipeline(tick_policy(settings), store, client, clock=utcnow)
            if args.explicit:
                store.track(args.explicit.split(","), utcnow())  # as `run` does with track.runs
            for index in range(args.ticks + 1):
                if index == 1 and profile is not None:
                    profile.enable()
                before_requests, before_bytes = client.requests, client.bytes_read
                cpu, wall = time.process_time(), time.perf_counter()
                summary = await pipeline.tick()
                ticks.append(
                    {
                        "cpu_s": time.process_time() - cpu,
                        "wall_s": time.perf_counter() - wall,
                        "requests": client.requests - before_requests,
                        "bytes_read": client.bytes_read - before_bytes,
                        "listed": summary.listed,
                        "parsed": summary.parsed,
                        "written": summary.written,
                        "events": summary.events,
                        "plan": summary.plan,
                        "baseline": summary.baseline,
                        "first": index == 0,
                    }
                )
                if index == 0:
                    print("baseline", file=sys.stderr, flush=True)  # the parent starts moving runs
                await asyncio.sleep(args.gap)
    if profile is not None:
        profile.disable()
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    return {
        "ticks": ticks,
        "peak_rss_mib": peak_rss_mib(),
        "state_path": str(settings.state.path),
    }


def main() -> int:
    """Run the measurement and print its JSON on stdout."""
    parser = argparse.ArgumentParser(prog="python -m bench.scaletick")
    parser.add_argument("url")
    parser.add_argument("dir")
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--gap", type=float, default=0.2)
    parser.add_argument("--explicit", default="", help="comma-separated run ids: track.runs")
    parser.add_argument("--profile", action="store_true", help="cProfile of the steady ticks")
    args = parser.parse_args()
    result = asyncio.run(measure(args))
    result["state_bytes"] = os.path.getsize(result.pop("state_path"))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

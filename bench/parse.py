"""Parsing the list response: our lean models against the official SDK's, and json.loads alone."""

from __future__ import annotations

import asyncio
import json
from statistics import median
from typing import cast

from dataframer import Dataframer
from dataframer._models import construct_type
from dataframer.types.dataframer import RunListResponse

from bench.timing import Result, measure, measure_async
from bench.world import API_KEY, Sizes
from watcher.api import DataframerClient
from watcher.models import RUN_LIST
from watcher.simulator import SimulatorServer


def sdk_parse(body: bytes) -> RunListResponse:
    """What the SDK does with a list body: `response.json()`, then `construct_type` (non-strict)."""
    return cast(RunListResponse, construct_type(type_=RunListResponse, value=json.loads(body)))


def parse_benchmarks(body: bytes, count: int, sizes: Sizes) -> list[Result]:
    """The same bytes three ways; the SDK row carries the speed-up of ours over it."""
    if len(RUN_LIST.validate_json(body)) != count or len(sdk_parse(body)) != count:
        raise RuntimeError("the parsers disagree on the number of runs")
    lean = measure(lambda: RUN_LIST.validate_json(body), warmup=1, reps=sizes.reps)
    loads = measure(lambda: json.loads(body), warmup=1, reps=sizes.reps)
    # The SDK is the slow one: fewer repetitions keep the whole run inside its budget.
    sdk = measure(lambda: sdk_parse(body), warmup=1, reps=max(3, sizes.reps // 2))
    mb = round(len(body) / 1e6, 2)
    speedup = round(median(sdk) / median(lean), 1)
    over_loads = round(median(lean) / median(loads), 1)
    return [
        Result(
            "parse.lean",
            count,
            lean,
            {"body_mb": mb, "x_json_loads": over_loads},
            f"{over_loads}x json.loads alone",
        ),
        Result(
            "parse.sdk",
            count,
            sdk,
            {"body_mb": mb, "speedup": speedup},
            f"lean is {speedup}x faster",
        ),
        Result("parse.json_loads", count, loads, {"body_mb": mb}, f"{mb} MB body"),
    ]


def http_benchmarks(server: SimulatorServer, count: int, sizes: Sizes) -> list[Result]:
    """The whole list read over loopback HTTP: our client against an SDK client."""
    reps = max(3, sizes.reps // 2)

    async def ours() -> tuple[float, ...]:
        async with DataframerClient(server.url, API_KEY) as client:

            async def read() -> None:
                if len(await client.list_runs()) != count:
                    raise RuntimeError("our client read a short list")

            return await measure_async(read, warmup=1, reps=reps)

    mine = asyncio.run(ours())
    with Dataframer(api_key=API_KEY, base_url=server.url, max_retries=0) as sdk:

        def read() -> None:
            if len(sdk.dataframer.runs.list()) != count:
                raise RuntimeError("the SDK read a short list")

        theirs = measure(read, warmup=1, reps=reps)
    speedup = round(median(theirs) / median(mine), 1)
    return [
        Result("http.list.ours", count, mine, {}, "GET + lean parse"),
        Result("http.list.sdk", count, theirs, {"speedup": speedup}, f"ours is {speedup}x faster"),
    ]

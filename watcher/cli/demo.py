"""`dataframer-watcher demo`: simulator + watcher + a local alert sink, end to end.

Everything listens on 127.0.0.1 with free ports and lives in a temporary directory, so the
demo needs no config, no network and leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from watcher.config import load_settings
from watcher.logs import configure
from watcher.models import is_terminal
from watcher.service.daemon import Daemon
from watcher.simulator import DEMO_SETTLES_AFTER, SimulatorServer, WebhookSink, demo_scenario

DEMO_KEY = "demo-key"


def _print_alert(payload: dict[str, Any]) -> None:
    click.echo(click.style(f"\n🔔 {payload.get('title', '')}", bold=True))
    for line in str(payload.get("message", "")).splitlines():
        click.echo(f"   {line}")


async def run_demo(*, deadline: float = 60.0) -> int:
    """Run the whole demo; 0 when every demo run was alerted exactly once, within `deadline`
    seconds."""
    configure(level="warning", fmt="console")
    sink = WebhookSink(on_alert=_print_alert)
    sink.start()
    try:
        with SimulatorServer(api_key=DEMO_KEY) as server, tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "watcher.yaml"
            config.write_text(
                "dataframer:\n"
                f"  base_url: {server.url}\n"
                "poll:\n  interval: 1s\n"
                f"state:\n  path: {Path(tmp) / 'watcher.db'}\n"
                "track:\n  all: true\n"
                f"channels:\n  sink: {sink.url('alerts')}\n"
                "delivery:\n  retry_initial: 1s\n"
                "health:\n  enabled: false\n"
            )
            settings = load_settings(config, environ={"DATAFRAMER_API_KEY": DEMO_KEY})
            click.echo(f"simulator: {server.url}   alert sink: {sink.url('alerts')}   state: {tmp}")
            async with Daemon.open(settings, config_path=config) as daemon:
                return await _watch(daemon, server, sink, deadline=deadline)
    finally:
        sink.stop()


async def _watch(
    daemon: Daemon, server: SimulatorServer, sink: WebhookSink, *, deadline: float
) -> int:
    sim = server.sim
    runs = demo_scenario(sim)
    finished_before = {run.id for run in runs if is_terminal(sim.status(run.id))}
    click.echo(
        f"{len(runs)} runs in the simulator, {len(finished_before)} already finished "
        "(recorded silently as the baseline); alerts appear below as runs finish…"
    )
    daemon_task = asyncio.create_task(daemon.run())
    started = time.monotonic()
    while time.monotonic() - started < deadline and not daemon_task.done():
        finished = {run.id for run in runs if is_terminal(sim.status(run.id))} - finished_before
        settled = time.monotonic() - started > DEMO_SETTLES_AFTER
        if settled and finished and set(sink.run_ids()) >= finished:
            break
        await asyncio.sleep(0.1)
    daemon.stop()
    await daemon_task
    finished = {run.id for run in runs if is_terminal(sim.status(run.id))} - finished_before
    mentions = sink.run_ids()  # one entry per run an alert named (alerts may group runs)
    statuses = Counter(sim.status(run_id) for run_id in finished)
    click.echo(
        f"\ndemo finished in {time.monotonic() - started:.1f}s: {len(finished)} runs finished "
        f"({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}), "
        f"{len(mentions)} run alerts in {len(sink.posts)} messages, "
        f"{len(runs) - len(finished) - len(finished_before)} run(s) still under way"
    )
    if Counter(mentions) != Counter(finished):
        click.echo(
            "demo failed: expected one alert per finished run, "
            f"missing {len(finished - set(mentions))}, "
            f"extra {len(mentions) - len(set(mentions) & finished)}",
            err=True,
        )
        return 1
    return 0

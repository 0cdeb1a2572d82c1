"""The simulated world's commands: `simulate` (the API simulator) and `demo` (end to end)."""

from __future__ import annotations

import sys

import click

from watcher.cli.base import fail, run_async


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--api-key", default="sim-key", show_default=True, help="The Bearer key it accepts.")
@click.option(
    "--runs",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1_000_000),
    help="Random runs to start with, some finished, some under way.",
)
@click.option(
    "--evaluations",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1_000_000),
    help="Evaluations to start with, of the runs that have succeeded (of new runs if none).",
)
@click.option(
    "--red-team-runs",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1_000_000),
    help="Red-team runs to start with, some finished, some under way.",
)
@click.option(
    "--anonymization-runs",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1_000_000),
    help="Anonymization runs to start with, some finished, some under way.",
)
@click.option("--seed", default=None, type=int, help="Seed for reproducible runs.")
@click.option(
    "--pending-seconds",
    default=3.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Mean time a job of any kind stays PENDING.",
)
@click.option(
    "--processing-seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Mean time a job of any kind stays PROCESSING.",
)
@click.option("--failure-ratio", default=0.1, show_default=True, type=click.FloatRange(0, 1))
@click.option("--cancel-ratio", default=0.05, show_default=True, type=click.FloatRange(0, 1))
@click.option("--demo", "demo_runs", is_flag=True, help="Add the demo's handful of runs.")
def simulate(
    host: str,
    port: int,
    api_key: str,
    runs: int,
    evaluations: int,
    red_team_runs: int,
    anonymization_runs: int,
    seed: int | None,
    pending_seconds: float,
    processing_seconds: float,
    failure_ratio: float,
    cancel_ratio: float,
    demo_runs: bool,
) -> None:
    """Serve the Dataframer API (runs, evaluations, red-team and anonymization runs, file
    downloads; a /_sim/ control surface) until SIGTERM/SIGINT."""
    import signal

    from watcher.simulator import SimulatorServer, serve

    seeded = ", ".join(
        f"{count} {name}"
        for count, name in (
            (runs, "runs"),
            (evaluations, "evaluations"),
            (red_team_runs, "red-team runs"),
            (anonymization_runs, "anonymization runs"),
        )
        if count or name == "runs"
    )

    def ready(server: SimulatorServer) -> None:
        signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
        click.echo(f"simulator listening on {server.url} ({seeded}; Ctrl-C stops it)")

    try:
        serve(
            host=host,
            port=port,
            api_key=api_key,
            runs=runs,
            evaluations=evaluations,
            red_team_runs=red_team_runs,
            anonymization_runs=anonymization_runs,
            seed=seed,
            pending_seconds=pending_seconds,
            processing_seconds=processing_seconds,
            failure_ratio=failure_ratio,
            cancel_ratio=cancel_ratio,
            demo=demo_runs,
            ready_callback=ready,
        )
    except (OSError, ValueError) as exc:
        fail(f"cannot start the simulator on {host}:{port}: {exc}", code=1)


# The demo's runs all finish within 20 s (watcher.simulator.scenario.DEMO_SETTLES_AFTER); the
# rest is time for the last alert to go out. A test holds the two together.
DEMO_MIN_SECONDS = 30.0


@click.command()
@click.option(
    "--timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(DEMO_MIN_SECONDS),
    help=f"Seconds (at least {DEMO_MIN_SECONDS:g}: the demo's runs take 20 s to finish).",
)
def demo(timeout: float) -> None:
    """Simulator + watcher + a local alert sink, end to end; prints each alert as it arrives."""
    from watcher.cli.demo import run_demo

    sys.exit(run_async(run_demo(deadline=timeout)))

"""The command line: parse, configure, hand off. Every expected error is one line on stderr.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import click
import structlog

from watcher import __version__
from watcher.cli.usage import WatcherGroup, config_path_callback, one_line, run_ids_callback
from watcher.config import (
    ConfigError,
    Settings,
    config_warnings,
    load_settings,
    render_config_yaml,
    resolve_api_key,
)
from watcher.errors import UsageError, WatcherError
from watcher.logs import SCRUBBER, configure


@dataclass
class CliState:
    """What the global options give every command."""

    config_path: Path | None
    settings: Settings | None = None

    def load(self, *, send: bool = True) -> Settings:
        """The effective settings; a bad config exits 2 with one line.

        Commands that never send (`send=False`) leave `${VAR}` in channel URLs unexpanded:
        the tokens may live only in the daemon's environment (a systemd EnvironmentFile).
        """
        if self.settings is None:
            try:
                self.settings = load_settings(self.config_path, expand_channels=send)
            except ConfigError as exc:
                fail(str(exc), code=2)
        return self.settings


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print one clean line to stderr and exit."""
    click.echo(one_line(message), err=True)
    sys.exit(code)


@contextmanager
def expected_errors() -> Iterator[None]:
    """Turn the watcher's own errors into one line and an exit code, never a traceback."""
    try:
        yield
    except (ConfigError, UsageError) as exc:
        fail(str(exc), code=2)
    except WatcherError as exc:
        fail(str(exc), code=1)


@click.group(
    cls=WatcherGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--config",
    "config_path",
    metavar="FILE",
    callback=config_path_callback,
    envvar="WATCHER_CONFIG",
    help="YAML config file (also WATCHER_CONFIG). Default: ./watcher.yaml if present.",
)
@click.version_option(__version__, prog_name="dataframer-watcher")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """Watch Dataframer runs and alert (Slack, email, any apprise URL) when they finish."""
    ctx.obj = CliState(config_path)


def _setup_logging(settings: Settings) -> None:
    configure(level=settings.log.level, fmt=settings.log.format)


@main.command()
@click.pass_obj
def run(state: CliState) -> None:
    """Run the daemon in the foreground until SIGTERM/SIGINT; SIGHUP reloads the config."""
    from watcher.service.daemon import Daemon
    from watcher.service.runtime import Runtime

    settings = state.load()
    _setup_logging(settings)
    with expected_errors():
        runtime = Runtime.open(settings)
        code = asyncio.run(Daemon(runtime, config_path=state.config_path).run())
    sys.exit(code)


@main.command()
@click.pass_obj
def once(state: CliState) -> None:
    """Run one full cycle (fetch, detect, record, deliver what is due) and exit."""
    from watcher.service.runtime import Runtime

    settings = state.load()
    _setup_logging(settings)

    async def cycle() -> None:
        async with Runtime.open(settings) as runtime:
            with structlog.contextvars.bound_contextvars(tick=1):  # as `run` tags its ticks
                await runtime.cycle()

    with expected_errors():
        asyncio.run(cycle())


@main.command()
@click.option("--live", is_flag=True, help="Ask /healthz (the loop is alive), not /readyz.")
@click.option(
    "--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1), help="Seconds."
)
@click.pass_obj
def health(state: CliState, live: bool, timeout: float) -> None:
    """Ask the running daemon (at health.listen): exit 0 if ready (--live: alive), else 1."""
    from watcher.service.health import probe_url, query

    config = state.load(send=False).health
    if not config.enabled:
        fail("health.enabled is false: the daemon has no health listener to ask", code=2)
    if config.port == 0:
        fail(f"health.listen ({config.listen}) names no fixed port to ask", code=2)
    url = probe_url(config.host, config.port, "/healthz" if live else "/readyz")
    ok, reason = query(url, timeout=timeout)
    if not ok:
        fail(f"{'not live' if live else 'not ready'}: {reason}")
    click.echo(f"{'live' if live else 'ready'}: {reason}")


@main.command()
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...", callback=run_ids_callback)
@click.pass_obj
def track(state: CliState, run_ids: tuple[str, ...]) -> None:
    """Watch these runs (works while `run` is running).

    Prints per id: "added"; "already tracked"; "tracked again" (it had been untracked); or,
    for a run that finished without an alert (while untracked, or before discovery's silent
    first pass), that it will be announced once.
    """
    from watcher.cli.tracking import track_runs

    with expected_errors():
        for line in track_runs(state.load(send=False), run_ids, track=True):
            click.echo(line)


@main.command()
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...", callback=run_ids_callback)
@click.pass_obj
def untrack(state: CliState, run_ids: tuple[str, ...]) -> None:
    """Stop watching these runs; alerts already decided still go out."""
    from watcher.cli.tracking import track_runs

    with expected_errors():
        for line in track_runs(state.load(send=False), run_ids, track=False):
            click.echo(line)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(state: CliState, as_json: bool) -> None:
    """The tracked runs: id, spec, status, since, samples, cost, last polled; and deliveries."""
    from watcher.cli.views import status_data, status_text

    with expected_errors():
        data = status_data(state.load(send=False))
    click.echo(json.dumps(data, indent=2) if as_json else status_text(data))


@main.command()
@click.argument("run_id", required=False, callback=run_ids_callback)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_obj
def history(state: CliState, run_id: str | None, as_json: bool, limit: int) -> None:
    """Transitions and deliveries (with every attempt), newest first."""
    from watcher.cli.views import history_data, history_text

    with expected_errors():
        data = history_data(state.load(send=False), run_id, limit=limit)
    click.echo(json.dumps(data, indent=2) if as_json else history_text(data, run_id))


@main.command()
@click.option("--channel", default=None, help="Only requeue this channel's deliveries.")
@click.pass_obj
def redeliver(state: CliState, channel: str | None) -> None:
    """Requeue dead-lettered deliveries (they go out on the daemon's next delivery pass)."""
    from watcher.cli.tracking import redeliver_dead

    with expected_errors():
        for line in redeliver_dead(state.load(send=False), channel):
            click.echo(line)


@main.command("check-config")
@click.pass_obj
def check_config(state: CliState) -> None:
    """Validate the config and print it, effective and with every secret redacted."""
    settings = state.load()
    with expected_errors():
        SCRUBBER.update([resolve_api_key(settings)])
    click.echo(render_config_yaml(settings), nl=False)
    for warning in config_warnings(settings):
        click.echo(f"warning: {warning}", err=True)
    source = settings.source_path or "defaults and environment"
    click.echo(f"config ok ({source})", err=True)


@main.command("test-notify")
@click.option("--channel", default=None, help="Only this channel.")
@click.pass_obj
def test_notify(state: CliState, channel: str | None) -> None:
    """Send a test alert to every channel at once (or to one) and report each result."""
    from watcher.cli.sending import send_sample_alerts

    settings = state.load()
    with expected_errors():
        results = asyncio.run(send_sample_alerts(settings, channel))
    failed = 0
    for name, reason in results:
        click.echo(f"{name}: {'ok' if reason is None else 'FAILED: ' + reason}")
        failed += reason is not None
    sys.exit(1 if failed else 0)


@main.command()
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


@main.command()
@click.option(
    "--timeout", default=60.0, show_default=True, type=click.FloatRange(5), help="Seconds."
)
def demo(timeout: float) -> None:
    """Simulator + watcher + a local alert sink, end to end; prints each alert as it arrives."""
    from watcher.cli.demo import run_demo

    sys.exit(run_demo(timeout=timeout))


if __name__ == "__main__":  # pragma: no cover
    main()

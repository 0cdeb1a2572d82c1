"""The command line: parse, configure, hand off. Every expected error is one line on stderr.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad config.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click
import structlog

from watcher import __version__
from watcher.cli.base import CliState, expected_errors, fail, run_async
from watcher.cli.usage import (
    WatcherGroup,
    config_path_callback,
    run_ids_callback,
    statuses_callback,
)
from watcher.cli.waiting import wait
from watcher.cli.world import demo, simulate
from watcher.config import (
    Settings,
    config_warnings,
    render_config_yaml,
    resolve_api_key,
)
from watcher.logs import SCRUBBER, configure

if TYPE_CHECKING:
    from watcher.deliver import Tally


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


def failed_deliveries(drained: Tally, counts: dict[str, dict[str, int]]) -> str | None:
    """One line saying what did not go out in a `once` (None when nothing failed)."""
    failed = drained.failed + drained.dead
    if not failed:
        return None

    def per_channel(state: str) -> str:
        return ", ".join(
            f"{name}: {per[state]}" for name, per in sorted(counts.items()) if per[state]
        )

    queued, dead = per_channel("retrying"), per_channel("dead")
    parts = [f"queued for retry per channel: {queued}"] if queued else []
    parts += [f"dead-lettered per channel: {dead}"] if dead else []
    noun = "delivery" if failed == 1 else "deliveries"
    return f"{failed} {noun} failed this run ({'; '.join(parts)}); see `history` for why"


def failed_actions(tally: Mapping[str, int]) -> str | None:
    """One line saying which actions failed in a `once` (None when none did)."""
    failed, dead = tally.get("failed", 0), tally.get("dead", 0)
    if not failed + dead:
        return None
    parts = [f"{failed} queued for retry"] if failed else []
    parts += [f"{dead} dead-lettered"] if dead else []
    noun = "action" if failed + dead == 1 else "actions"
    return f"{failed + dead} {noun} failed this run ({', '.join(parts)}); see `history` for why"


def _setup_logging(settings: Settings) -> None:
    configure(level=settings.log.level, fmt=settings.log.format)


@main.command()
@click.pass_obj
def run(state: CliState) -> None:
    """Run the daemon in the foreground until SIGTERM/SIGINT; SIGHUP reloads the config."""
    from watcher.service.daemon import Daemon

    settings = state.load()
    _setup_logging(settings)

    async def serve() -> int:
        async with Daemon.open(settings, config_path=state.config_path) as daemon:
            return await daemon.run()

    with expected_errors():
        code = run_async(serve())
    sys.exit(code)


@main.command()
@click.pass_obj
def once(state: CliState) -> None:
    """Run one full cycle (fetch, detect, record, deliver what is due, run the due
    actions) and exit.

    Exits 1 when a due delivery or action failed this run (it stays queued for a retry).
    """
    from watcher.service.runtime import Runtime

    settings = state.load()
    _setup_logging(settings)

    async def cycle() -> str | None:
        async with Runtime.open(settings) as runtime:
            with structlog.contextvars.bound_contextvars(tick=1):  # as `run` tags its ticks
                _, drained = await runtime.cycle()
            problems = [
                failed_deliveries(drained, runtime.store.delivery_counts()),
                failed_actions(runtime.actions.tally if runtime.actions else {}),
            ]
            return "; ".join(p for p in problems if p) or None

    with expected_errors():
        problem = run_async(cycle())
    if problem is not None:
        fail(problem)  # exit 1: a cron job must see that an alert did not go out


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

    A bare id is a generation run; evaluation:ID, red-team:ID and anonymization:ID name the
    other kinds of job. Prints per id: "added"; "already tracked"; "tracked again" (it had
    been untracked); or, for a run that finished without an alert (while untracked, or before
    discovery's silent first pass), that it will be announced once.
    """
    from watcher.cli.tracking import track_runs

    with expected_errors():
        for line in track_runs(state.load(send=False), run_ids, track=True):
            click.echo(line)


@main.command()
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...", callback=run_ids_callback)
@click.pass_obj
def untrack(state: CliState, run_ids: tuple[str, ...]) -> None:
    """Stop watching these runs (RUN_ID as for `track`); alerts already decided still go out."""
    from watcher.cli.tracking import track_runs

    with expected_errors():
        for line in track_runs(state.load(send=False), run_ids, track=False):
            click.echo(line)


@main.command()
@click.option("--active", is_flag=True, help="Only runs still under way.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="STATUS",
    callback=statuses_callback,
    help="Only runs in this status (PENDING, PROCESSING, SUCCEEDED, FAILED, CANCELED, GONE,"
    " UNSEEN); repeat for several.",
)
@click.option("--limit", type=click.IntRange(1), default=None, help="At most this many runs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (every run).")
@click.pass_obj
def status(
    state: CliState, active: bool, statuses: tuple[str, ...], limit: int | None, as_json: bool
) -> None:
    """The tracked runs of every kind, newest first: id, spec, status, since, samples, cost,
    last polled (and the kind, once one other than a generation run is watched); deliveries
    per channel, and actions (done, pending, retrying, dead).

    Without a filter: every active run and the 20 newest finished ones, with a count of the
    rest (--json lists every run).
    """
    from watcher.cli.views import StatusFilter, status_data, status_text

    wanted = StatusFilter(active=active, statuses=statuses, limit=limit, everything=as_json)
    with expected_errors():
        data = status_data(state.load(send=False), wanted)
    click.echo(json.dumps(data, indent=2) if as_json else status_text(data))


@main.command()
@click.argument("run_id", required=False, callback=run_ids_callback)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_obj
def history(state: CliState, run_id: str | None, as_json: bool, limit: int) -> None:
    """Transitions, deliveries and actions (with every attempt), newest first; RUN_ID (a bare
    id, or evaluation:ID, red-team:ID, anonymization:ID) keeps those of one run."""
    from watcher.cli.views import history_data, history_text

    with expected_errors():
        data = history_data(state.load(send=False), run_id, limit=limit)
    click.echo(json.dumps(data, indent=2) if as_json else history_text(data, run_id))


@main.command()
@click.option(
    "--channel",
    default=None,
    help="Only requeue this channel's deliveries (without it, dead actions are requeued too).",
)
@click.pass_obj
def redeliver(state: CliState, channel: str | None) -> None:
    """Requeue dead-lettered deliveries and actions (the daemon's next pass retries them)."""
    from watcher.cli.tracking import redeliver_dead

    with expected_errors():
        for line in redeliver_dead(state.load(send=False), channel):
            click.echo(line)


@main.command()
@click.option("--spec", default=None, metavar="GLOB", help="Runs whose spec name matches.")
@click.option("--run", "run_id", default=None, metavar="RUN_ID", help="One run.")
@click.option("--channel", default=None, metavar="NAME", help="Everything to one channel.")
@click.option(
    "--for", "duration", required=True, metavar="DURATION", help='How long: "30m", "8h", "2d".'
)
@click.option("--reason", default=None, help="Why, for `mutes` and `history`.")
@click.pass_obj
def mute(
    state: CliState,
    spec: str | None,
    run_id: str | None,
    channel: str | None,
    duration: str,
    reason: str | None,
) -> None:
    """Silence alerts for a while; prints the mute's id (for `unmute`).

    Give exactly one of --spec, --run, --channel. A muted alert is recorded as suppressed
    (`history` shows it), never sent; the running daemon applies the mute from its next poll.
    """
    from watcher.cli.muting import add_mute

    with expected_errors():
        made, line = add_mute(
            state.load(send=False),
            spec=spec,
            run=run_id,
            channel=channel,
            duration=duration,
            reason=reason,
        )
    click.echo(made.id)
    click.echo(line, err=True)


@main.command()
@click.argument("mute_id", metavar="MUTE_ID")
@click.pass_obj
def unmute(state: CliState, mute_id: str) -> None:
    """End a mute now (its id is what `mute` printed, or see `mutes`)."""
    from watcher.cli.muting import end_mute

    with expected_errors():
        line = end_mute(state.load(send=False), mute_id)
    click.echo(line)


@main.command()
@click.option("--all", "every", is_flag=True, help="Also the mutes that are over.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def mutes(state: CliState, every: bool, as_json: bool) -> None:
    """The mutes in force: id, what they silence, until when, why."""
    from watcher.cli.muting import mute_rows, mutes_text

    with expected_errors():
        rows = mute_rows(state.load(send=False), every=every)
    click.echo(json.dumps(rows, indent=2) if as_json else mutes_text(rows))


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


@main.command("render")
@click.option(
    "--run",
    "run_id",
    default=None,
    metavar="RUN_ID",
    callback=run_ids_callback,
    help="A run (or evaluation:ID, red-team:ID, anonymization:ID): from the state file if"
    " it is there, else from the API.",
)
@click.option("--sample", is_flag=True, help="A realistic sample run instead.")
@click.option(
    "--status",
    default=None,
    type=click.Choice(["SUCCEEDED", "FAILED", "CANCELED", "STUCK", "SLOW"], case_sensitive=False),
    help="With --sample: the alert to show (default SUCCEEDED; SLOW only of --kind run).",
)
@click.option(
    "--kind",
    default=None,
    type=click.Choice(["run", "evaluation", "red_team", "red-team", "anonymization"]),
    help="With --sample: the kind of job (default run).",
)
@click.option("--channel", default=None, metavar="NAME", help="Only this channel.")
@click.pass_obj
def render(
    state: CliState,
    run_id: str | None,
    sample: bool,
    status: str | None,
    kind: str | None,
    channel: str | None,
) -> None:
    """Print the title and body each channel (or one) would get for a run, and send nothing.

    The same path as a real send: routes, the channel's template, limits and body formats
    (the one each URL's service takes: html for email, markdown for Slack, text otherwise).
    """
    from watcher.cli.rendering import render_command

    with expected_errors():
        text, problems = render_command(
            state.load(), run_id=run_id, sample=sample, status=status, channel=channel, kind=kind
        )
    click.echo(text)
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)


@main.command("test-notify")
@click.option("--channel", default=None, help="Only this channel.")
@click.pass_obj
def test_notify(state: CliState, channel: str | None) -> None:
    """Send a test alert to every channel at once (or to one) and report each result."""
    from watcher.cli.sending import send_sample_alerts

    settings = state.load()
    with expected_errors():
        results = run_async(send_sample_alerts(settings, channel))
    failed = 0
    for name, reason in results:
        click.echo(f"{name}: {'ok' if reason is None else 'FAILED: ' + reason}")
        failed += reason is not None
    sys.exit(1 if failed else 0)


main.add_command(simulate)
main.add_command(demo)
main.add_command(wait)

"""`wait`: block until the named runs finish, and say how they ended in the exit code.

No state file and no daemon: the runs are read from the API directly, with the config's key
and base URL. The decisions (exit code, what changed, rate, ETA, the lines) are pure, in
`watcher.wait`; this module polls, backs off and hands the display what it saw.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from watcher.cli.base import CliState, expected_errors, fail, run_async
from watcher.cli.usage import run_ids_callback
from watcher.config import Settings, resolve_api_key, secrets_of
from watcher.config.durations import format_duration, parse_duration
from watcher.deliver.policy import poll_delay
from watcher.errors import ApiError, NotFound, RateLimited, Unauthorized
from watcher.logs import SCRUBBER, configure
from watcher.wait import (
    Exit,
    Job,
    Watch,
    at_deadline,
    exit_line,
    gone_line,
    job_of,
    json_of,
    outcome,
    retry_line,
    watch,
)

if TYPE_CHECKING:
    from watcher.api import DataframerClient
    from watcher.cli.display import Display

__all__ = ["WaitResult", "read_job", "wait", "wait_for_jobs"]

DEFAULT_INTERVAL = 5.0
MIN_INTERVAL = 0.1

Reader = Callable[["DataframerClient", str], Awaitable[Job]]


async def read_job(client: DataframerClient, ref: str) -> Job:
    """Every read `wait` makes of a job, by its canonical ref (`watcher.run_refs`): a bare id
    is a generation run read in detail (for its requested count), the other kinds from their
    own paths."""
    return job_of(ref, await client.get_job(ref))


@dataclass(frozen=True, slots=True)
class WaitResult:
    """How a wait ended: its exit code, every job as last seen, and the problem (a 404, a
    refused key) that ended it early, if one did."""

    code: Exit
    states: list[Watch]
    problem: str | None = None


async def wait_for_jobs(
    client: DataframerClient,
    refs: Sequence[str],
    display: Display,
    *,
    interval: float,
    give_up_after: float | None,
    read: Reader = read_job,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> WaitResult:
    """Poll the unfinished jobs every `interval` until all have finished or `give_up_after`
    seconds passed (not `asyncio.timeout`: the wait ends with a last poll and a verdict, 4 or
    5, rather than a cancellation).

    A failed poll (5xx, 429, a refused connection, a malformed answer) is retried with the
    daemon's backoff (`poll_delay`, honouring Retry-After), each retry said on the display;
    without a timeout it is retried forever. A refused key or a 404 ends the wait at once.
    """
    states = {ref: Watch(ref) for ref in refs}
    deadline = None if give_up_after is None else clock() + give_up_after
    failures = 0
    while True:
        pending = [ref for ref, state in states.items() if not state.finished]
        results = await asyncio.gather(
            *(read(client, ref) for ref in pending), return_exceptions=True
        )
        at = clock()
        errors: list[ApiError] = []
        gone: list[str] = []
        for ref, result in zip(pending, results, strict=True):
            if isinstance(result, Job):
                states[ref], changed = watch(states[ref], result, at)
                display.update(states[ref], changed=changed)
            elif isinstance(result, Unauthorized):
                return WaitResult(Exit.CANNOT_WATCH, list(states.values()), str(result))
            elif isinstance(result, NotFound):
                gone.append(gone_line(ref, seen=states[ref].job is not None))
            elif isinstance(result, ApiError):
                errors.append(result)
            else:
                raise result  # not the API's doing (a bug, a cancellation): never swallowed
        if gone:
            return WaitResult(Exit.CANNOT_WATCH, list(states.values()), "; ".join(gone))
        done = outcome(state.job for state in states.values())
        if done is not None:
            return WaitResult(done, list(states.values()))
        if deadline is not None and clock() >= deadline:
            return WaitResult(at_deadline(unreachable=bool(errors)), list(states.values()))
        failures = failures + 1 if errors else 0
        delay = poll_delay(interval, failures, _retry_after(errors))
        if deadline is not None:
            delay = min(delay, max(0.0, deadline - clock()))  # one last poll at the deadline
        if errors:
            display.note(retry_line(_reason(errors[0]), delay))
        await sleep(delay)


def _retry_after(errors: Sequence[ApiError]) -> float | None:
    waits = [e.retry_after for e in errors if isinstance(e, RateLimited) and e.retry_after]
    return max(waits, default=None)


def _reason(error: ApiError) -> str:
    """A failed read in a few words: "HTTP 503", "rate limited", "connection refused"."""
    if isinstance(error, RateLimited):
        return "rate limited"
    if error.status_code is not None:
        return f"HTTP {error.status_code}"
    text = str(error)
    if text.startswith("GET "):  # "GET <url> failed: connection refused": the URL is noise
        text = text.split(" ", 2)[-1].removeprefix("failed: ")
    return text


def _duration(name: str, minimum: float) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback reading a duration by the config's rule, at least `minimum`."""

    def parse(ctx: click.Context, param: click.Parameter, value: Any) -> float | None:
        if value is None:
            return None
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
        if seconds < minimum:
            raise click.BadParameter(
                f"{name} must be at least {format_duration(minimum)} (got {value!r})",
                ctx=ctx,
                param=param,
            )
        return seconds

    return parse


@click.command("wait")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...", callback=run_ids_callback)
@click.option(
    "--timeout",
    default=None,
    metavar="DURATION",
    callback=_duration("--timeout", 0.0),
    help='Give up after this long ("30m", "2h"): exit 4, or 5 if the API was failing then.'
    " Default: no timeout (an unreachable API is retried forever).",
)
@click.option(
    "--interval",
    default=None,
    metavar="DURATION",
    callback=_duration("--interval", MIN_INTERVAL),
    help=f"Time between polls. Default: {format_duration(DEFAULT_INTERVAL)},"
    " or poll.interval when that is shorter.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the final runs as one JSON array on stdout."
)
@click.pass_obj
def wait(
    state: CliState,
    run_ids: tuple[str, ...],
    timeout: float | None,
    interval: float | None,
    as_json: bool,
) -> None:
    """Block until every run named has finished; the exit code says how they ended.

    On a terminal, a live progress bar per run (samples, rate, ETA, cost, status); otherwise
    one line per change. Needs no daemon and no state file: the API key and base URL come
    from the config or the environment. A failing API (5xx, 429, connection refused) is
    retried with backoff, a line saying so; the last poll may end up to dataframer.timeout
    after --timeout.

    \b
    Exit codes:
      0  every run SUCCEEDED
      1  at least one run FAILED
      3  at least one run CANCELED, none FAILED
      4  --timeout passed before every run finished
      5  could not watch: key refused, unknown or vanished run, API unreachable at --timeout
      2  bad usage (no ids, a bad id or duration) or a bad config
      130 interrupted (Ctrl-C); 143 terminated (SIGTERM)
    """
    from watcher.cli.display import display_for  # rich, loaded only by the command that draws

    settings = state.load(send=False)
    # Warnings only, on stderr: stdout carries the lines (or the JSON) a script reads.
    configure(level="warning", fmt=settings.log.format)
    with expected_errors():
        api_key = resolve_api_key(settings)
    SCRUBBER.update([api_key, *secrets_of(settings)])
    every = interval if interval is not None else min(DEFAULT_INTERVAL, settings.poll.interval)
    stream = sys.stderr if as_json else sys.stdout
    display = display_for(stream, run_ids)
    try:
        result = run_async(_wait(settings, api_key, run_ids, display, every, timeout))
    except KeyboardInterrupt:
        click.echo("dataframer-watcher: interrupted", err=True)
        sys.exit(Exit.INTERRUPTED)
    except asyncio.CancelledError:  # SIGTERM (a CI job cancelled): see `_wait`
        click.echo("dataframer-watcher: terminated", err=True)
        sys.exit(Exit.TERMINATED)
    display.note(exit_line(result.code, result.states, timeout=timeout))
    if as_json:
        click.echo(json.dumps(json_of(result.states), indent=2))
    if result.problem is not None:
        fail(result.problem, code=result.code)
    sys.exit(result.code)


async def _wait(
    settings: Settings,
    api_key: str,
    refs: Sequence[str],
    display: Display,
    interval: float,
    give_up_after: float | None,
) -> WaitResult:
    # SIGTERM cancels the wait like Ctrl-C does, so the live display is closed (the cursor
    # shown again) and the client too, instead of the process dying mid-draw.
    from watcher.api import DataframerClient  # httpx: loaded by `wait`, not every command

    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    config = settings.dataframer
    async with DataframerClient(
        config.base_url,
        api_key,
        timeout=config.timeout,
        max_concurrency=config.max_concurrency,
    ) as client:
        with display:
            return await wait_for_jobs(
                client, refs, display, interval=interval, give_up_after=give_up_after
            )

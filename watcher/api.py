"""The Dataframer API client: httpx, lean pydantic models, and one error hierarchy.

httpx and pydantic errors never leave this module: they become watcher.errors.ApiError
subclasses, with readable reasons ("connection refused", "HTTP 503", "rate limited").
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import errno
import json
import math
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC
from types import TracebackType
from typing import Self, TypeVar

import httpx
import pydantic
import structlog

from watcher import __version__
from watcher.errors import (
    ApiError,
    BadResponse,
    NotFound,
    RateLimited,
    TransientApiError,
    Unauthorized,
    socket_phrase,
)
from watcher.kinds import Kind, kind_info
from watcher.listread import items
from watcher.models import Job, Run
from watcher.run_refs import split_key

log = structlog.get_logger("watcher.api")

RUNS_PATH = "/api/dataframer/runs/"
T = TypeVar("T")
_RETRYABLE = {408, 409, 425, 500, 502, 503, 504}


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


class DataframerClient:
    """The runs API over httpx, with bounded concurrency and typed errors."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 10.0,
        max_concurrency: int = 8,
        transport: httpx.AsyncBaseTransport | None = None,
        on_request: Callable[[float], None] | None = None,
    ) -> None:
        """`on_request` hears each request's duration in seconds, failed ones included."""
        self.base_url = base_url.rstrip("/")
        self.max_concurrency = max_concurrency
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/json",
                "User-Agent": f"dataframer-watcher/{__version__}",
            },
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_concurrency),
            transport=transport,
            follow_redirects=False,
        )
        self.requests = 0
        self.bytes_read = 0  # list bodies read as a stream (`stream_items`), for the bench
        self._skipped_ids: set[str] = set()
        self._on_request = on_request

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def list_runs(self, *, strict: bool = False) -> list[Run]:
        """Every generation run of the company, newest first (one request).

        A malformed item is skipped (logged) so one bad run cannot stall the others; with
        `strict` (the discovery baseline, which must see every run) it fails the whole read.
        """
        return [run for run in await self._list(kind_info("run"), strict) if isinstance(run, Run)]

    async def list_jobs(self, kind: str, *, strict: bool = False) -> list[Job]:
        """Every job of a listed kind (`watcher.kinds.LISTED_KINDS`), newest first, parsed
        whole: for one-off reads (the bench, the SDK checks); a tick streams the list instead
        (`stream_items`, `watcher.triage`)."""
        if kind == "run":
            return list(await self.list_runs(strict=strict))
        return await self._list(kind_info(kind), strict)

    async def _list(self, kind: Kind, strict: bool) -> list[Job]:
        content = await self._get(kind.list_path)
        try:
            return kind.many.validate_json(content)
        except pydantic.ValidationError as exc:
            return self._salvage(kind, content, exc, strict=strict)

    def _salvage(
        self, kind: Kind, content: bytes, error: pydantic.ValidationError, *, strict: bool
    ) -> list[Job]:
        """The well-formed jobs of a list with bad items; a body that is no JSON list fails.

        An item without a usable id is skipped even in strict mode: no run can ever be known
        by it, so it must not hold the discovery baseline back forever.
        """
        what = kind.noun
        try:
            items = json.loads(content)
        except ValueError:
            items = None
        if not isinstance(items, list):
            raise BadResponse(
                f"the {what} list from {self.base_url} is malformed: {_first(error)}"
            ) from error
        runs: list[Job] = []
        for item in items:
            try:
                runs.append(kind.one.validate_python(item))
            except pydantic.ValidationError as exc:
                self._bad_item(item, exc, strict=strict, what=what)
        if items and not runs:
            # Not one usable item: a broken answer (wrong types throughout), not an empty
            # company. Reading it as "no runs" would only cost a detail read per active run.
            raise BadResponse(
                f"every item of the {what} list from {self.base_url} is malformed: {_first(error)}"
            ) from error
        return runs

    def parse_item(
        self, raw: bytes, model: pydantic.TypeAdapter[T], *, strict: bool, what: str = "run"
    ) -> T | None:
        """One list item parsed fully as `model` (`RUN` for the run list; `what` names its
        kind); a malformed one is skipped (None, logged once per id), or with `strict` (the
        baseline) fails the read, unless it has no usable id."""
        try:
            return model.validate_json(raw)
        except pydantic.ValidationError as exc:
            try:
                item = json.loads(raw)
            except ValueError:
                item = None
            self._bad_item(item, exc, strict=strict, what=what)
            return None

    def _bad_item(
        self, item: object, exc: pydantic.ValidationError, *, strict: bool, what: str
    ) -> None:
        """A malformed list item (decoded, or None): skipped, or with `strict` a failed read,
        unless it has no usable id. The one rule of both list readers (whole and streamed)."""
        run_id = item.get("id") if isinstance(item, dict) else None
        if strict and isinstance(run_id, str) and run_id:
            raise BadResponse(
                f"{what} {run_id} in the {what} list from {self.base_url} is malformed:"
                f" {_first(exc)}"
            ) from exc
        self._skipped(run_id, exc)

    def _skipped(self, run_id: object, exc: pydantic.ValidationError) -> None:
        """Log a skipped item once per id, not on every tick it stays broken."""
        key = str(run_id)
        if key in self._skipped_ids:
            log.debug("malformed_run_skipped", run_id=key, error=_first(exc))
            return
        self._skipped_ids.add(key)
        log.warning("malformed_run_skipped", run_id=key, error=_first(exc))

    @contextlib.asynccontextmanager
    async def stream_items(self, path: str, what: str) -> AsyncIterator[AsyncIterator[bytes]]:
        """A list endpoint's items, each one's JSON bytes, as the body arrives (`listread`).

        Leaving the block early closes the connection: the rest of the body is never read.
        `what` names the answer in errors ("the run list").
        """
        where = f"{self.base_url}{path}"
        async with self._request(where), self._http.stream("GET", path) as response:
            if not 200 <= response.status_code < 300:
                _check(response, await response.aread(), where, self.base_url)
            reader = items(self._chunks(response), f"{what} from {self.base_url}")
            async with contextlib.aclosing(reader) as stream:
                yield stream

    async def _chunks(self, response: httpx.Response) -> AsyncIterator[bytes]:
        async for chunk in response.aiter_bytes():
            self.bytes_read += len(chunk)
            yield chunk

    async def get_run(self, run_id: str) -> Run:
        """One generation run in detail (with generated files)."""
        run = await self.get_job(run_id)
        if not isinstance(run, Run):  # a prefixed reference: the caller meant get_job
            raise BadResponse(f"{run_id} is not a generation run")
        return run

    async def get_job(self, key: str) -> Job:
        """One job in detail, by its canonical reference (`watcher.run_refs`): a generation
        run by its id, the other kinds from their own paths (red-team: its status path)."""
        ref = split_key(key)
        kind = kind_info(ref.kind)
        content = await self._get(kind.detail_path(ref.id))
        try:
            job = kind.one.validate_json(content)
        except pydantic.ValidationError as exc:
            raise BadResponse(
                f"{kind.noun} {key} from {self.base_url} is malformed: {_first(exc)}"
            ) from exc
        if job.id != ref.id:
            raise BadResponse(f"asked {self.base_url} for {kind.noun} {key} and got {job.ref}")
        return job

    async def get_path(self, path: str) -> bytes:
        """An authenticated GET of an API path (such as a file's download endpoint): its
        body, with the errors of every other read."""
        return await self._get(path)

    async def check_key(self) -> None:
        """Raise Unauthorized if the API refuses the key; any other answer is not our concern.

        Reads a run id that cannot exist: a cheap request the API must authenticate.
        """
        try:
            await self._get(f"{RUNS_PATH}00000000-0000-0000-0000-000000000000/")
        except Unauthorized:
            raise
        except ApiError as exc:
            log.debug("key_check_inconclusive", error=str(exc))

    async def _get(self, path: str) -> bytes:
        where = f"{self.base_url}{path}"
        async with self._request(where):
            response = await self._http.get(path)
            content = await response.aread()
        return _check(response, content, where, self.base_url)

    @contextlib.asynccontextmanager
    async def _request(self, where: str) -> AsyncIterator[None]:
        """One request of either reader (whole or streamed): a concurrency slot, its count and
        duration (`on_request`), and httpx's errors translated."""
        async with self._semaphore:
            started = time.perf_counter()
            try:
                yield
            except httpx.TimeoutException as exc:
                raise TransientApiError(f"GET {where} timed out") from exc
            except httpx.HTTPError as exc:
                raise TransientApiError(f"GET {where} failed: {transport_reason(exc)}") from exc
            finally:
                self.requests += 1
                if self._on_request is not None:
                    self._on_request(time.perf_counter() - started)


def _check(response: httpx.Response, content: bytes, where: str, base_url: str) -> bytes:
    code = response.status_code
    if 200 <= code < 300:
        return content
    if code in (401, 403):
        raise Unauthorized(
            f"the Dataframer API at {base_url} rejected the API key (HTTP {code})",
            status_code=code,
        )
    if code == 404:
        raise NotFound(f"GET {where}: not found (HTTP 404)", status_code=code)
    if code == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise RateLimited(f"GET {where}: rate limited (HTTP 429)", retry_after=retry_after)
    if code in _RETRYABLE or code >= 500:
        raise TransientApiError(f"GET {where}: HTTP {code}", status_code=code)
    raise BadResponse(f"GET {where}: unexpected HTTP {code}", status_code=code)


_ERRNO_REASONS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed",
    errno.ETIMEDOUT: "timed out",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EADDRNOTAVAIL: "address not available",
}
_FALLBACKS: tuple[tuple[type[httpx.HTTPError], str], ...] = (
    (httpx.ConnectError, "cannot connect"),
    (httpx.ReadError, "connection broken while reading the answer"),
    (httpx.WriteError, "connection broken while sending the request"),
    (httpx.RemoteProtocolError, "the server broke the HTTP protocol"),
    (httpx.ProxyError, "proxy error"),
    (httpx.UnsupportedProtocol, "unsupported URL scheme"),
)
_MAX_DETAIL = 120


def transport_reason(exc: httpx.HTTPError) -> str:
    """Why a request got no answer, in a few words a person reads ("connection refused").

    httpx wraps httpcore's and the socket's errors: the first one along the chain that carries
    an errno (or a resolver or TLS failure) says it best. The text is the library's, never the
    request's URL or headers, so it carries no secret.
    """
    chain = _causes(exc)
    for cause in chain:
        if isinstance(cause, socket.gaierror):
            return (cause.strerror or "name or service not known").lower()
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "TLS certificate verification failed"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause.reason or cause.strerror or 'handshake failed'}"
        if isinstance(cause, OSError) and cause.errno in _ERRNO_REASONS:
            return _ERRNO_REASONS[cause.errno]
    texts = [str(cause).strip() for cause in chain if str(cause).strip()]
    for text in reversed(texts):  # the innermost first: it is the most specific
        reason = socket_phrase(text)
        if reason is not None:
            return reason
    fallback = next((words for kind, words in _FALLBACKS if isinstance(exc, kind)), None)
    detail = texts[-1] if texts else ""
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 1] + "…"
    if fallback is None:
        return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    return f"{fallback} ({detail})" if detail else fallback


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps, outermost first (each once)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _first(exc: pydantic.ValidationError) -> str:
    """The first validation problem, without the offending input (it may be huge)."""
    errors = exc.errors(include_input=False, include_url=False)
    if not errors:
        return "invalid data"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"

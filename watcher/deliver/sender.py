"""Sending through apprise: the I/O boundary of the deliver stage.

`Sender.send` delivers one message to the URLs of one channel and returns a `SendOutcome`;
no apprise exception or object gets past it, and its failure reason never holds a secret.

Each URL gets a fresh `apprise.Apprise` per send: a new plugin object has no throttle history
(`URLBase.throttle()` returns at once while `_last_io_datetime` is None), so apprise's 5.5 s
email / 1.2 s Slack spacing never slows a burst. Sends run in our own bounded thread pool,
each bounded by `asyncio.wait_for`. A thread cannot be cancelled: a send that times out keeps
running in its thread, and if it then succeeds, the retry sends the message a second time.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import apprise

from watcher.errors import socket_phrase
from watcher.events import (
    DEFAULT_BODY_LIMIT,
    MAX_TITLE_LENGTH,
    MessageLimits,
    NotifyType,
)
from watcher.plugins import apprise_plugin, load_apprise
from watcher.redact import redact_text, redact_url, url_secrets

__all__ = ["SendOutcome", "Sender", "body_format", "choose_body", "message_limits", "text_part"]

_MAX_REASON = 300
_HTTP_ERROR = re.compile(r"\berror=(\d{3})\b")
_SMTP_REPLY = re.compile(r"\((\d{3}), b?['\"](.*?)['\"]\)")
_RESPONSE_BODY = re.compile(r"Response Details:\s*b?['\"](.*)['\"]\s*$", re.DOTALL)
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{1,40}")
_JSON_ERROR = re.compile(r'"error"\s*:\s*"([a-z][a-z0-9_]{1,40})"')
_ANY_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What one send of one message to one channel achieved.

    `accepted` holds the positions in the channel's list of the URLs that have the message
    (the ones skipped plus the ones that took it now; the deliverer records them by URL key,
    since a reload may reorder the list); `reason` is one redacted line, None when ok.
    """

    ok: bool
    accepted: frozenset[int]
    reason: str | None


@dataclass(frozen=True, slots=True)
class _UrlResult:
    ok: bool
    reason: str | None = None  # not yet redacted


_TEXT = "text"


def body_format(plugin: Any) -> str:
    """The body format an apprise service takes best: its URL's `format=` when it names one of
    the service's formats, else the service's own first (html for email, markdown for Slack,
    text for json:// and most others). apprise's `resolve_format` decides it, as it will when
    the message is sent."""
    try:
        return str(plugin.resolve_format(None).value)
    except Exception:  # a plugin without formats, or a bug in one: text goes everywhere
        return _TEXT


def choose_body(plugin: Any, body: str, bodies: Mapping[str, str]) -> tuple[str, str]:
    """(format, body) to send one URL: the message's body in the format its service takes
    best, when the message has one; else the plain text (apprise converts it)."""
    wanted = body_format(plugin) if plugin is not None else _TEXT
    if wanted in bodies:
        return wanted, bodies[wanted]
    return _TEXT, bodies.get(_TEXT, body)


def text_part(html: str) -> str:
    """The plain-text part apprise's email puts beside an HTML body: its own conversion."""
    from apprise.conversion import convert_between

    # apprise's conversion module has no annotations
    text = convert_between(apprise.NotifyFormat.HTML, apprise.NotifyFormat.TEXT, html)  # type: ignore[no-untyped-call]
    return str(text)


def message_limits(urls: Sequence[str]) -> MessageLimits:
    """The longest title and body every URL of a channel accepts, as apprise knows them, and
    the body formats its services take (text always).

    A service without titles (apprise's title_maxlen 0: Telegram, SMS) gets the title put in
    front of the body, so its body has that much less room.
    """
    title, body = MAX_TITLE_LENGTH, DEFAULT_BODY_LIMIT
    formats = {_TEXT}
    for url in urls:
        plugin = apprise_plugin(url)
        if plugin is None:
            continue
        formats.add(body_format(plugin))
        title_max = int(getattr(plugin, "title_maxlen", 0) or 0)
        body_max = int(getattr(plugin, "body_maxlen", 0) or 0) or DEFAULT_BODY_LIMIT
        if title_max > 0:
            title = min(title, title_max)
        else:
            body_max -= MAX_TITLE_LENGTH + 2  # apprise joins them with a blank line
        body = min(body, body_max)
    return MessageLimits(title=title, body=max(body, 1), formats=frozenset(formats))


class Sender:
    """Sends messages through apprise in a bounded thread pool, each send under a timeout."""

    def __init__(self, *, concurrency: int, timeout: float, secrets: Sequence[str] = ()) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self._concurrency = concurrency
        self._timeout = timeout
        self._secrets = tuple(secrets)
        self._executor = _DaemonThreads(concurrency, name="watcher-send")
        # url -> a send that outlived its timeout and still holds a thread (event loop only).
        self._hung: dict[str, Future[_UrlResult]] = {}
        load_apprise()

    async def send(
        self,
        urls: Sequence[str],
        title: str,
        body: str,
        *,
        notify_type: NotifyType = NotifyType.INFO,
        skip: frozenset[int] = frozenset(),
        bodies: Mapping[str, str] | None = None,
    ) -> SendOutcome:
        """Send to every URL whose index is not in `skip`, concurrently; never raises.

        `bodies` holds the body per format (`choose_body` picks one per URL); without them,
        `body` goes everywhere as plain text."""
        pending = [i for i in range(len(urls)) if i not in skip]
        results = await asyncio.gather(
            *(self._send_one(urls[i], title, body, bodies or {}, notify_type) for i in pending)
        )
        done = set(skip) | {i for i, result in zip(pending, results, strict=True) if result.ok}
        failed = [(i, r) for i, r in zip(pending, results, strict=True) if not r.ok]
        reason = None
        if failed:
            parts = [f"url {i}: {r.reason}" if len(urls) > 1 else str(r.reason) for i, r in failed]
            reason = self._redact("; ".join(parts), urls)
        return SendOutcome(
            ok=all(i in done for i in range(len(urls))),
            accepted=frozenset(done),
            reason=reason,
        )

    def close(self) -> None:
        """Stop the threads: queued sends are cancelled, a running one finishes on its own."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _send_one(
        self, url: str, title: str, body: str, bodies: Mapping[str, str], notify_type: NotifyType
    ) -> _UrlResult:
        hung = self._hung.pop(url, None)
        if hung is not None and not hung.done():
            # A server that hangs would otherwise take one more thread per retry, until no
            # other channel found one free: one hung send per URL at a time. This send's
            # time goes to waiting for the earlier one to end.
            ended, _ = await asyncio.wait({asyncio.wrap_future(hung)}, timeout=self._timeout)
            if not ended:
                self._hung[url] = hung
                return _UrlResult(False, "an earlier send to it is still hanging")
        started = threading.Event()
        try:
            job: Future[_UrlResult] = self._executor.submit(
                _notify, url, title, body, bodies, notify_type, started
            )
        except RuntimeError:  # the executor is shut down
            return _UrlResult(False, "sender is closed")
        try:
            return await asyncio.wait_for(asyncio.wrap_future(job), self._timeout)
        except TimeoutError:
            if started.is_set():
                self._hung[url] = job
                return _UrlResult(False, f"timed out after {self._timeout:g}s")
            # wait_for cancelled the queued call: it will not run later.
            return _UrlResult(
                False,
                f"not started within {self._timeout:g}s:"
                f" all {self._concurrency} sender threads were busy",
            )

    def _redact(self, text: str, urls: Iterable[str]) -> str:
        secrets = list(self._secrets)
        for url in urls:
            secrets.extend(url_secrets(url))
        text = _ANY_URL.sub(lambda m: redact_url(m.group()), text)
        text = redact_text(text, secrets)
        return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"


_Job = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]


class _DaemonThreads(Executor):
    """A fixed pool of daemon threads: ThreadPoolExecutor, except for the exit.

    ThreadPoolExecutor's workers are joined when the interpreter exits, so one send still
    hanging past its timeout (an SMTP server that never answers, a URL with a long `rto=`)
    would hold a stopped daemon for as long as apprise waits. These threads are abandoned
    instead: the process exits when the daemon is done, and the unacked send goes out again
    on the next start (the duplicate the README documents).
    """

    def __init__(self, workers: int, *, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Queue fn(*args); RuntimeError once shut down."""
        if kwargs:
            raise TypeError("keyword arguments are not supported")
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new sends after shutdown")
            self._jobs.put((future, fn, args))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Take no more work; cancel what is queued; a running send finishes on its own."""
        with self._lock:
            self._closed = True
        while cancel_futures:
            try:
                future, _, _ = self._jobs.get_nowait()
            except queue.Empty:
                break
            future.cancel()
        stop: _Job = (Future(), _stop_worker, ())
        for _ in self._threads:
            self._jobs.put(stop)
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        while True:
            future, fn, args = self._jobs.get()
            if fn is _stop_worker:
                return
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while queued (its wait_for timed out)
            try:
                result = fn(*args)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)


def _stop_worker() -> None:
    """The marker that tells a worker thread to end."""


def _notify(
    url: str,
    title: str,
    body: str,
    bodies: Mapping[str, str],
    notify_type: NotifyType,
    started: threading.Event,
) -> _UrlResult:
    """One URL, one fresh apprise object, in a worker thread; every failure becomes a result."""
    started.set()
    try:
        # No apprise deadline: with none, apprise sends in this thread instead of handing the
        # call to its own shared pool; our wait_for is the one timeout.
        client = apprise.Apprise(asset=apprise.AppriseAsset(service_timeout=0))
        if not client.add(url):
            return _UrlResult(False, "not a URL apprise can use")
        # The body's format said as it is (text, markdown, html): apprise sends it as it
        # stands to a service of that format, and converts it for any other.
        fmt, text = choose_body(client[0], body, bodies)
        with client.notify(
            body=text,
            title=title,
            notify_type=apprise.NotifyType(str(notify_type)),
            body_format=apprise.NotifyFormat(fmt),
            log_level=logging.DEBUG,
        ) as result:
            return _judge(result)
    except Exception as exc:  # a plugin bug is one failed URL, not a crashed drain
        return _UrlResult(False, f"apprise raised {type(exc).__name__}: {exc}")


def _judge(result: Any) -> _UrlResult:
    services = result.results
    if not services:
        return _UrlResult(False, "apprise had no service to notify")
    failed = [service for service in services if not service]
    if not failed:
        return _UrlResult(True)
    return _UrlResult(False, "; ".join(_describe(service) for service in failed))


def _describe(service: Any) -> str:
    """A short reason for one failed apprise service, from the log lines its result holds."""
    if service.status == apprise.AppriseResultStatus.TIMEOUT:
        return f"{service.name}: timed out"
    complaints: list[str] = []
    socket_error: str | None = None
    answer: str | None = None
    for entry in service.logs():
        message = str(entry.message)
        if entry.level in ("WARNING", "ERROR", "CRITICAL"):
            complaints.append(message)
        elif socket_error is None and message.startswith("Socket Exception:"):
            socket_error = message.removeprefix("Socket Exception:").strip()
        elif answer is None and message.startswith("Response Details:"):
            answer = _error_code_in(message)
    detail = _http_reason(complaints, answer) or (socket_error and _socket_reason(socket_error))
    if not detail:
        detail = complaints[0].rstrip(".") if complaints else "failed (apprise gave no reason)"
    return f"{service.name}: {detail}"


def _error_code_in(details: str) -> str | None:
    """The error code a service answered with ("no_service", "channel_not_found"), if any.

    Only a bare identifier is taken from the body: the rest of it is the service's to word,
    and could echo anything back.
    """
    body = _RESPONSE_BODY.search(details)
    if body is None:
        return None
    text = body.group(1).strip()
    if _IDENTIFIER.fullmatch(text):
        return text
    code = _JSON_ERROR.search(text)
    return code.group(1) if code else None


def _http_reason(complaints: Sequence[str], answer: str | None) -> str | None:
    for message in complaints:
        match = _HTTP_ERROR.search(message)
        if match:
            code = int(match.group(1))
            try:
                reason = f"HTTP {code} {HTTPStatus(code).phrase}"
            except ValueError:
                reason = f"HTTP {code}"
            if 200 <= code < 300:  # Slack's bot API, say, answers 200 with ok: false
                reason += ", refused"
            return f"{reason} ({answer})" if answer else reason
    return None


def _socket_reason(text: str) -> str:
    reply = _SMTP_REPLY.search(text)
    if reply:
        return f"SMTP {reply.group(1)} {reply.group(2)}".strip()
    return socket_phrase(text) or text

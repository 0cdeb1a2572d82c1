"""api: the Dataframer client's parsing, error translation and Retry-After.

Every request goes to an `httpx.MockTransport` with a hand-written handler: no network.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import json
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import structlog
import structlog.testing
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import free_port
from tests.support.fakeapi import (
    API_KEY,
    BASE,
    RUN_ID,
    FakeApi,
    answer,
    api_run,
    client_for,
)
from watcher.api import RUNS_PATH, DataframerClient, parse_retry_after
from watcher.errors import (
    BadResponse,
    NotFound,
    RateLimited,
    TransientApiError,
    Unauthorized,
)
from watcher.models import Run, is_terminal

# --- parsing ----------------------------------------------------------------------------------


async def test_list_runs_parses_known_unknown_and_null_fields() -> None:
    """The list is parsed: nulls stay None, unknown statuses stay strings, extra fields are kept."""
    body = [
        api_run("r1", "SUCCEEDED", total_cost=12.5, completed_at="2025-03-01T11:00:00Z"),
        api_run("r2", "PAUSED", priority="high", queue={"position": 3}),
        {"id": "r3"},
    ]
    async with client_for(answer(200, body)) as client:
        runs = await client.list_runs()
    assert [r.id for r in runs] == ["r1", "r2", "r3"]
    assert runs[0].status == "SUCCEEDED"
    assert is_terminal(runs[0].status)
    assert runs[0].total_cost == 12.5
    assert runs[0].completed_at == datetime(2025, 3, 1, 11, tzinfo=UTC)
    assert runs[0].dataset_id is None
    assert runs[0].generated_files is None
    assert runs[1].status == "PAUSED"
    assert not is_terminal(runs[1].status)
    assert runs[1].model_extra == {"priority": "high", "queue": {"position": 3}}
    assert runs[1].model_dump(mode="json")["priority"] == "high"
    assert runs[2] == Run(id="r3")


async def test_list_runs_empty() -> None:
    """An empty list is a valid answer: no runs."""
    async with client_for(answer(200, [])) as client:
        assert await client.list_runs() == []


async def test_get_run_parses_detail_with_files_and_params() -> None:
    """A detail read carries runtime_params and generated_files, extra fields included."""
    detail = api_run(
        status="SUCCEEDED",
        runtime_params={"number_of_samples": 100, "tools": ["web"]},
        generated_files=[
            {"id": "f1", "path": "out/a.jsonl", "file_type": "jsonl", "size_bytes": 2048, "x": 1}
        ],
    )
    api = FakeApi(details={RUN_ID: detail})
    async with client_for(api) as client:
        run = await client.get_run(RUN_ID)
    assert api.requests == [f"{RUNS_PATH}{RUN_ID}/"]
    assert run.runtime_params == {"number_of_samples": 100, "tools": ["web"]}
    assert run.generated_files is not None
    (file,) = run.generated_files
    assert (file.path, file.file_type, file.size_bytes) == ("out/a.jsonl", "jsonl", 2048)
    assert file.model_extra == {"x": 1}


async def test_get_run_escapes_the_id_in_the_path() -> None:
    """A run id with reserved characters is percent-encoded into one path segment."""
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(200, json=api_run("a/b?c"))

    async with client_for(handler) as client:
        assert (await client.get_run("a/b?c")).id == "a/b?c"
    assert seen == [b"/api/dataframer/runs/a%2Fb%3Fc/"]


async def test_requests_carry_the_key_and_identify_the_watcher() -> None:
    """Every request sends 'Authorization: Bearer <key>', asks for JSON and names the client."""
    headers: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers)
        if request.url.path == RUNS_PATH:
            return httpx.Response(200, json=[])
        return httpx.Response(200, json=api_run())

    async with client_for(handler) as client:
        await client.list_runs()
        await client.get_run(RUN_ID)
    assert len(headers) == 2
    for sent in headers:
        assert sent["Authorization"] == f"Bearer {API_KEY}"
        assert sent["Accept"] == "application/json"
        assert sent["User-Agent"].startswith("dataframer-watcher/")


async def test_base_url_with_a_path_prefix_and_trailing_slash() -> None:
    """A base URL behind a path prefix keeps the prefix; a trailing slash is not doubled."""
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return httpx.Response(200, json=[])

    async with client_for(handler, base_url="http://proxy.test/df/") as client:
        await client.list_runs()
    assert urls == ["http://proxy.test/df/api/dataframer/runs/"]


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [401, 403])
@pytest.mark.parametrize("detail", [False, True])
async def test_rejected_key_is_unauthorized_naming_the_url_not_the_key(
    code: int, detail: bool
) -> None:
    """401/403 raise Unauthorized, naming the base URL and never the key."""
    async with client_for(answer(code, {"detail": "Invalid token."})) as client:
        with pytest.raises(Unauthorized) as caught:
            await (client.get_run(RUN_ID) if detail else client.list_runs())
    error = caught.value
    assert error.status_code == code
    assert BASE in str(error)
    assert API_KEY not in str(error)
    assert API_KEY[-8:] not in repr(error)


async def test_unauthorized_names_a_base_url_containing_api() -> None:
    """The Unauthorized message names the configured base URL even when it contains /api/."""
    base = "http://gateway.test/api/v2"
    async with client_for(answer(401, {}), base_url=base) as client:
        with pytest.raises(Unauthorized, match=base):
            await client.list_runs()


@pytest.mark.parametrize("detail", [False, True])
async def test_not_found(detail: bool) -> None:
    """404 raises NotFound."""
    async with client_for(answer(404, {"detail": "Not found."})) as client:
        with pytest.raises(NotFound) as caught:
            await (client.get_run(RUN_ID) if detail else client.list_runs())
    assert caught.value.status_code == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("2.5", 2.5), ("garbage", None), (None, None)],
)
async def test_rate_limited_carries_retry_after_seconds(
    header: str | None, expected: float | None
) -> None:
    """429 raises RateLimited with Retry-After in seconds (None when absent or unreadable)."""
    headers = {} if header is None else {"Retry-After": header}
    async with client_for(answer(429, {}, headers=headers)) as client:
        with pytest.raises(RateLimited) as caught:
            await client.list_runs()
    assert caught.value.retry_after == expected
    assert caught.value.status_code == 429


async def test_rate_limited_with_an_http_date() -> None:
    """A Retry-After HTTP date becomes the seconds until then; a past date becomes 0."""
    soon = email.utils.format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    past = "Wed, 21 Oct 2015 07:28:00 GMT"
    results: list[float | None] = []
    for header in (soon, past):
        async with client_for(answer(429, {}, headers={"Retry-After": header})) as client:
            with pytest.raises(RateLimited) as caught:
                await client.get_run(RUN_ID)
        results.append(caught.value.retry_after)
    assert results[0] is not None
    assert 3000 < results[0] <= 3600
    assert results[1] == 0.0


@pytest.mark.parametrize("code", [408, 409, 425, 500, 502, 503, 504, 599])
async def test_retryable_codes_are_transient(code: int) -> None:
    """408, 409 and 5xx raise TransientApiError with the status code."""
    async with client_for(answer(code, b"<html>oops</html>")) as client:
        with pytest.raises(TransientApiError) as caught:
            await client.list_runs()
    assert caught.value.status_code == code


@pytest.mark.parametrize("code", [301, 302, 400, 418, 422])
async def test_unexpected_codes_are_bad_responses(code: int) -> None:
    """Any other non-2xx answer (418, a redirect, which is not followed) is a BadResponse."""
    headers = {"Location": "http://elsewhere.test/"} if 300 <= code < 400 else {}
    async with client_for(answer(code, {}, headers=headers)) as client:
        with pytest.raises(BadResponse) as caught:
            await client.list_runs()
    assert caught.value.status_code == code


@pytest.mark.parametrize(
    "body",
    [
        b"<!doctype html><html><body>Bad gateway</body></html>",
        b'[{"id": "r1", "status": "PROCE',
        b"",
        b"null",
        json.dumps({"results": [api_run()]}).encode(),
        json.dumps([api_run(status=12345678)]).encode(),
        json.dumps([api_run(samples_completed="many")]).encode(),
        json.dumps([{"status": "PENDING"}]).encode(),
    ],
    ids=[
        "html",
        "truncated",
        "empty",
        "null",
        "object-not-list",
        "status-number",
        "count-text",
        "no-id",
    ],
)
async def test_malformed_list_is_a_bad_response(body: bytes) -> None:
    """A 200 list that is not a JSON array of runs is a BadResponse that does not echo the body.

    (Strict mode, as for the discovery baseline: even one bad item fails the read.)
    """
    async with client_for(answer(200, body)) as client:
        with pytest.raises(BadResponse) as caught:
            await client.list_runs(strict=True)
    message = str(caught.value)
    assert BASE in message
    assert "12345678" not in message
    assert "<html>" not in message


@pytest.mark.parametrize(
    "body",
    [
        b"<html></html>",
        b'{"id": "' + RUN_ID.encode(),
        json.dumps([api_run()]).encode(),
        json.dumps(api_run(status=3)).encode(),
        json.dumps(api_run(generated_files={"path": "x"})).encode(),
    ],
    ids=["html", "truncated", "list-not-object", "status-number", "files-not-list"],
)
async def test_malformed_detail_is_a_bad_response(body: bytes) -> None:
    """A 200 detail read that is not one run object is a BadResponse naming the run."""
    async with client_for(answer(200, body)) as client:
        with pytest.raises(BadResponse, match=RUN_ID):
            await client.get_run(RUN_ID)


async def test_detail_for_another_run_is_a_bad_response() -> None:
    """A detail answer whose id is not the one asked for is a BadResponse naming both."""
    async with client_for(answer(200, api_run("someone-else"))) as client:
        with pytest.raises(BadResponse) as caught:
            await client.get_run(RUN_ID)
    assert RUN_ID in str(caught.value)
    assert "someone-else" in str(caught.value)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (httpx.ConnectError, r"failed: cannot connect \(boom\)"),
        (httpx.ReadTimeout, "timed out"),
        (httpx.ConnectTimeout, "timed out"),
        (httpx.RemoteProtocolError, r"failed: the server broke the HTTP protocol \(boom\)"),
        (httpx.ReadError, r"failed: connection broken while reading the answer \(boom\)"),
    ],
)
async def test_transport_failures_are_transient(
    error: type[httpx.TransportError], words: str
) -> None:
    """Connection errors and timeouts become TransientApiError, chained to the httpx error."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise error("boom", request=request)

    async with client_for(handler) as client:
        with pytest.raises(TransientApiError, match=words) as caught:
            await client.get_run(RUN_ID)
        assert client.requests == 1
    assert isinstance(caught.value.__cause__, error)


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"), "connection refused"),
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "name or service not known",
        ),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), "connection reset"),
        (OSError(errno.ETIMEDOUT, "Connection timed out"), "timed out"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "host unreachable"),
    ],
)
async def test_connection_errors_say_why_in_words(cause: OSError, reason: str) -> None:
    """The socket error under httpx's (as httpcore chains it) becomes the reason, in words."""

    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise OSError("All connection attempts failed") from cause
        except OSError as wrapped:
            raise httpx.ConnectError("All connection attempts failed", request=request) from wrapped

    async with client_for(handler) as client:
        with pytest.raises(TransientApiError) as caught:
            await client.get_run(RUN_ID)
    assert str(caught.value) == f"GET {BASE}/api/dataframer/runs/{RUN_ID}/ failed: {reason}"


async def test_a_closed_port_is_connection_refused() -> None:
    """Over real loopback: nothing listening is "connection refused", not "ConnectError"."""
    async with DataframerClient(f"http://127.0.0.1:{free_port()}", API_KEY) as client:
        with pytest.raises(TransientApiError, match=r"failed: connection refused$"):
            await client.list_runs()


async def test_request_counter_counts_failures_too() -> None:
    """client.requests counts every request, answered or failed; the observer hears each."""
    api = FakeApi(listed=[api_run("r1")])
    api.codes["r2"] = 500
    seconds: list[float] = []
    transport = httpx.MockTransport(api)
    async with DataframerClient(
        BASE, API_KEY, transport=transport, on_request=seconds.append
    ) as client:
        await client.list_runs()
        await client.get_run("r1")
        with pytest.raises(TransientApiError):
            await client.get_run("r2")
        assert client.requests == 3
        assert len(seconds) == 3
        assert all(s >= 0 for s in seconds)


async def test_concurrency_is_bounded() -> None:
    """No more than max_concurrency requests are in flight at once."""
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        run_id = request.url.path.removeprefix(RUNS_PATH).removesuffix("/")
        return httpx.Response(200, json=api_run(run_id))

    async with client_for(handler, max_concurrency=2) as client:
        runs = await asyncio.gather(*(client.get_run(f"r{i}") for i in range(8)))
    assert [r.id for r in runs] == [f"r{i}" for i in range(8)]
    assert peak == 2


# --- Retry-After ------------------------------------------------------------------------------

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Sat, 01 Mar 2025 12:01:30 GMT", 90.0),
        ("Sat, 01 Mar 2025 12:00:00 GMT", 0.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),
        ("Sat, 01 Mar 2025 12:00:10 +0000", 10.0),
        ("Sat, 01 Mar 2025 13:00:10 +0100", 10.0),
        ("Sat, 01 Mar 2025 12:00:10", 10.0),  # no zone: read as UTC
        ("", None),
        (None, None),
        ("   ", None),
        ("soon", None),
        ("12 seconds", None),
        ("0x10", None),
        ("Mon, 99 Foo 2025", None),
    ],
)
def test_parse_retry_after_examples(value: str | None, expected: float | None) -> None:
    """Retry-After as delta-seconds or an HTTP date gives seconds from now; garbage gives None."""
    assert parse_retry_after(value, now=NOW) == expected


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(max_size=40), st.floats(min_value=0, max_value=4e9))
def test_parse_retry_after_never_fails_nor_goes_negative(value: str, now: float) -> None:
    """Any header value gives None or a non-negative number of seconds, never an exception."""
    result = parse_retry_after(value, now=now)
    assert result is None or result >= 0


@settings(max_examples=200, deadline=None, database=None)
@given(st.text(alphabet="bcdfghjklmpqrsvwxz!?#%&*()[]{}<>/\\|;:'\"", min_size=1, max_size=30))
def test_parse_retry_after_garbage_is_none(value: str) -> None:
    """A header with no digits and no date in it is ignored (None)."""
    assert parse_retry_after(value, now=NOW) is None


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(min_value=0, max_value=10**7))
def test_parse_retry_after_seconds_roundtrip(seconds: int) -> None:
    """Any delta-seconds value is read back as that many seconds."""
    assert parse_retry_after(str(seconds), now=NOW) == seconds


@settings(max_examples=200, deadline=None, database=None)
@given(st.integers(min_value=0, max_value=10**7))
def test_parse_retry_after_http_date_roundtrip(seconds: int) -> None:
    """An HTTP date `seconds` after now is read back as that many seconds."""
    header = email.utils.formatdate(NOW + seconds, usegmt=True)
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize("value", ["inf", "Infinity", "1e999"])
def test_parse_retry_after_rejects_infinity(value: str) -> None:
    """A non-finite Retry-After is garbage, hence None."""
    assert parse_retry_after(value, now=NOW) is None


@pytest.mark.parametrize(
    "bad",
    [api_run(status=12345678), api_run(samples_completed="many"), {"status": "PENDING"}, "x"],
    ids=["status-number", "count-text", "no-id", "not-an-object"],
)
async def test_bad_items_are_skipped_outside_the_baseline(bad: object) -> None:
    """Outside the baseline one malformed item sits the tick out; the good runs still arrive."""
    good = api_run()
    async with client_for(answer(200, [bad, good])) as client:
        runs = await client.list_runs()
    assert [run.id for run in runs] == [good["id"]]


@pytest.mark.parametrize(
    "body", [b"<html>oops</html>", b'[{"id": "r1", "status": "PROCE', b"null", b'{"a": 1}']
)
async def test_a_list_that_is_no_list_fails_even_outside_the_baseline(body: bytes) -> None:
    """Only item-level damage is salvaged: a body that is not a JSON array fails the read."""
    async with client_for(answer(200, body)) as client:
        with pytest.raises(BadResponse):
            await client.list_runs()


async def test_baseline_skips_items_without_an_id_but_fails_on_other_bad_items() -> None:
    """Strict (baseline) reads skip id-less items, which no run can be known by, and fail on
    a malformed item that has an id; a skipped item is logged once, not every tick."""
    good = api_run()
    async with client_for(answer(200, [{"id": None, "status": "PENDING"}, good])) as client:
        with structlog.testing.capture_logs() as logs:
            first = await client.list_runs(strict=True)
            second = await client.list_runs(strict=True)
    assert [run.id for run in first] == [good["id"]] == [run.id for run in second]
    levels = [e["log_level"] for e in logs if e["event"] == "malformed_run_skipped"]
    assert levels == ["warning", "debug"]
    async with client_for(answer(200, [api_run(samples_completed="many"), good])) as client:
        with pytest.raises(BadResponse, match=RUN_ID):
            await client.list_runs(strict=True)

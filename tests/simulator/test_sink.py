"""The webhook sink itself: plan and default answers, holds, the barrier, and what it records."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support import HANG, Answer, WebhookSink, run_ids_in, wait_for


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


def _http(sink: WebhookSink, path: str = "hook") -> str:
    return f"http://127.0.0.1:{sink.port}/{path}"


def _post(sink: WebhookSink, body: Any = None, *, path: str = "hook", **kwargs: Any) -> int:
    payload = {"title": "t", "message": "m"} if body is None else body
    return httpx.post(_http(sink, path), json=payload, timeout=30, **kwargs).status_code


def _post_in_thread(sink: WebhookSink, body: Any, statuses: list[int]) -> threading.Thread:
    thread = threading.Thread(target=lambda: statuses.append(_post(sink, body)), daemon=True)
    thread.start()
    return thread


def _held(sink: WebhookSink, count: int) -> bool:
    return sum(1 for r in sink.requests if r.status is None) >= count


def test_each_request_takes_the_next_planned_answer_then_the_default() -> None:
    """plan=[500, 503]: the first two posts get those, the rest the default; plan() adds to
    the plan, set_default() changes what follows it."""
    with WebhookSink(plan=[500, 503]) as sink:
        assert [_post(sink) for _ in range(3)] == [500, 503, 200]
        sink.plan(502)
        sink.set_default(429)
        assert [_post(sink) for _ in range(3)] == [502, 429, 429]
        sink.heal()
        assert _post(sink) == 200
    assert [r.status for r in sink.requests] == [500, 503, 200, 502, 429, 429, 200]
    assert [r.accepted for r in sink.requests] == [False, False, True, False, False, False, True]


def test_a_default_answer_and_a_delayed_one() -> None:
    """default=500 refuses everything; an Answer with a delay still answers its status."""
    with WebhookSink(default=500, plan=[Answer(201, delay=0.05)]) as sink:
        assert [_post(sink), _post(sink)] == [201, 500]
    assert [r.answer for r in sink.requests] == [Answer(201, delay=0.05), Answer(500)]


def test_every_request_is_recorded_with_path_content_type_body_and_answer(
    sink: WebhookSink,
) -> None:
    """requests holds every request in arrival order; accepted and posts only the 2xx ones."""
    sink.plan(500)
    first = {"title": "A", "message": "Run: run-a\nStatus: FAILED"}
    second = {"title": "B", "message": "Run: run-b"}
    assert _post(sink, first, path="runs/alerts") == 500
    assert _post(sink, second) == 200

    refused, taken = sink.requests
    assert (refused.path, refused.content_type, refused.body) == (
        "/runs/alerts",
        "application/json",
        first,
    )
    assert (refused.answer, refused.status, refused.accepted) == (Answer(500), 500, False)
    assert (taken.path, taken.body, taken.status, taken.accepted) == ("/hook", second, 200, True)
    assert refused.at <= taken.at
    assert sink.accepted == [taken]
    assert sink.posts == [second]
    assert sink.messages == ["Run: run-b"]
    assert sink.run_ids() == ["run-b"]


def test_a_body_that_is_not_a_json_object_is_refused_without_taking_the_plan(
    sink: WebhookSink,
) -> None:
    """400 for text or a JSON array, recorded with body None; the planned answer waits for an
    alert."""
    sink.plan(503)
    assert httpx.post(_http(sink), content=b"not json", timeout=30).status_code == 400
    assert _post(sink, [1, 2]) == 400
    assert _post(sink) == 503
    assert [(r.body, r.status) for r in sink.requests] == [
        (None, 400),
        (None, 400),
        ({"title": "t", "message": "m"}, 503),
    ]
    assert sink.posts == []


def test_a_hang_is_held_until_released_then_answered_503() -> None:
    """HANG holds the request (recorded, status None) until release(); it is then a failure,
    never a post, so a sender that gave up and sent again leaves no duplicate."""
    with WebhookSink(plan=[HANG]) as sink:
        statuses: list[int] = []
        thread = _post_in_thread(sink, {"title": "t", "message": "late"}, statuses)
        wait_for(lambda: _held(sink, 1), what="the request to be held")
        assert sink.posts == []
        sink.release()
        thread.join(timeout=30)
        assert statuses == [503]
        assert _post(sink) == 200
    assert [(r.message, r.status) for r in sink.requests] == [("late", 503), ("m", 200)]
    assert sink.messages == ["m"]


def test_release_frees_the_held_requests_only_a_later_hang_waits_again() -> None:
    """A HANG arriving after release() is held until the next release()."""
    with WebhookSink(default=HANG) as sink:
        statuses: list[int] = []
        first = _post_in_thread(sink, None, statuses)
        wait_for(lambda: _held(sink, 1), what="the first request to be held")
        sink.release()
        first.join(timeout=30)
        second = _post_in_thread(sink, None, statuses)
        wait_for(lambda: len(sink.requests) == 2, what="the second request")
        assert sink.requests[1].status is None
        sink.heal()
        second.join(timeout=30)
        assert statuses == [503, 503]
        assert _post(sink) == 200


def test_a_hang_is_bounded_by_the_hang_limit() -> None:
    """Nobody releases it: after hang_limit it answers anyway."""
    with WebhookSink(plan=[HANG], hang_limit=0.1) as sink:
        assert _post(sink) == 503


def test_stop_answers_what_is_held_and_is_idempotent() -> None:
    """stop() ends a hang at once (the handler is joined, not left behind); stop twice is fine,
    and so is stopping a sink never started; a stopped sink does not start again."""
    sink = WebhookSink(default=HANG, hang_limit=300).start()
    statuses: list[int] = []
    thread = _post_in_thread(sink, None, statuses)
    wait_for(lambda: _held(sink, 1), what="the request to be held")
    sink.stop()
    thread.join(timeout=30)
    assert statuses == [503]
    sink.stop()
    WebhookSink().stop()
    with pytest.raises(RuntimeError, match="cannot start again"):
        sink.start()


def test_a_barrier_answers_nothing_until_that_many_wait_at_once() -> None:
    """barrier=3: two posts wait; the third lets all three through, each accepted."""
    with WebhookSink(barrier=3) as sink:
        statuses: list[int] = []
        threads = [_post_in_thread(sink, {"message": f"Run: r{i}"}, statuses) for i in range(2)]
        wait_for(lambda: _held(sink, 2), what="two posts waiting at the barrier")
        assert statuses == []
        assert _post(sink, {"message": "Run: r2"}) == 200
        for thread in threads:
            thread.join(timeout=30)
    assert statuses == [200, 200]
    assert sorted(sink.run_ids()) == ["r0", "r1", "r2"]


def test_a_barrier_that_breaks_answers_503() -> None:
    """Fewer posts than the barrier's parties: it times out (hang_limit) and answers 503."""
    with WebhookSink(barrier=2, hang_limit=0.1) as sink:
        assert _post(sink) == 503
    assert sink.posts == []


def test_on_alert_gets_each_accepted_post_before_the_answer() -> None:
    """The callback sees every accepted alert (not the refused ones) by the time its sender
    has the answer."""
    seen: list[dict[str, Any]] = []
    with WebhookSink(plan=[500], on_alert=seen.append) as sink:
        assert _post(sink, {"title": "refused"}) == 500
        assert _post(sink, {"title": "taken"}) == 200
        assert seen == [{"title": "taken"}]


def test_url_is_apprises_json_url_for_this_port(sink: WebhookSink) -> None:
    """Path, credentials and query go where apprise expects them."""
    assert sink.url() == f"json://127.0.0.1:{sink.port}/hook"
    assert sink.url("/alerts") == f"json://127.0.0.1:{sink.port}/alerts"
    assert (
        sink.url("a/b", auth="user:pw", query="-token=x")
        == f"json://user:pw@127.0.0.1:{sink.port}/a/b?-token=x"
    )


def test_run_ids_in_reads_each_run_line() -> None:
    """One entry per `Run:` line, in order, across texts; other lines ignored."""
    texts = ["Run: a\nStatus: FAILED", "x\n\n  Run: b \nRun: a", ""]
    assert run_ids_in(texts) == ["a", "b", "a"]

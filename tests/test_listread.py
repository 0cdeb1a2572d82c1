"""listread: a JSON array cut into its items' bytes however the body arrives, and hostile
bodies failing with one clear line."""

from __future__ import annotations

import json

import pytest

from watcher.errors import BadResponse
from watcher.listread import ArraySplitter, head_of

ITEMS = [
    {"id": f"r{i}", "status": "PROCESSING", "note": 'a},{"b": [1, 2], ",', "n": [{"x": {}}, []]}
    for i in range(60)
] + [{"id": "last", "escaped": 'quote \\" and brace }', "list": [1, [2, [3]]]}]


def split(body: bytes, size: int) -> list[bytes]:
    """Feed `body` `size` bytes at a time; every item the splitter gave."""
    splitter = ArraySplitter("the run list from http://df.test")
    out: list[bytes] = []
    for start in range(0, len(body), size):
        out += splitter.feed(body[start : start + size])
    return out + splitter.close()


@pytest.mark.parametrize("size", [1, 3, 17, 64, 1000, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
def test_items_come_out_whole_whatever_the_chunks(size: int, indent: int | None) -> None:
    """Commas, braces and quotes inside strings and nested values never cut an item."""
    body = json.dumps(ITEMS, indent=indent).encode()
    assert [json.loads(item) for item in split(body, size)] == ITEMS


@pytest.mark.parametrize("body", [b"[]", b"  [ ]\n", b'[1, "two", null, {"id": "x"}]'])
def test_empty_and_odd_arrays_are_arrays(body: bytes) -> None:
    """An empty array is no runs; items that are not objects are items (the caller skips them)."""
    assert [json.loads(i) for i in split(body, 2)] == json.loads(body)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (json.dumps(ITEMS).encode()[:2500], "is truncated: it ends after byte"),
        (b"", "is empty, not a JSON array"),
        (b'{"detail": "Not found."}', "is not a JSON array"),
        (b"<!DOCTYPE html><html></html>", "is not a JSON array"),
        (b'[{"id": "a"}] trailing', "has data after its closing bracket"),
        (b'[{"id": "a"}, garbage, {"id": "b"}]', "is malformed after item 1"),
    ],
)
def test_hostile_bodies_fail_with_one_clear_line(body: bytes, words: str) -> None:
    """Truncated, empty, not an array, garbage mid-array: a BadResponse naming the answer."""
    with pytest.raises(BadResponse) as caught:
        split(body, 7)
    message = str(caught.value)
    assert words in message
    assert message.startswith("the run list from http://df.test")
    assert "\n" not in message


def test_garbage_mid_array_is_found_in_a_long_body() -> None:
    """Garbage after many good items: the good ones before it are given, then the error."""
    good = json.dumps(ITEMS).encode()[:-1]
    body = good + b", {oops}, " + json.dumps(ITEMS[0]).encode() + b"]"
    splitter = ArraySplitter("the run list")
    given: list[bytes] = []

    def read() -> None:
        nonlocal given
        for start in range(0, len(body), 100):
            given += splitter.feed(body[start : start + 100])
        given += splitter.close()

    with pytest.raises(BadResponse, match="is malformed after item"):
        read()
    assert len(given) <= len(ITEMS)


def test_head_reads_id_status_and_creation_time_only() -> None:
    """The cheap look: id, status and created_at (naive means UTC); None for no string id."""
    head = head_of(b'{"id": "a", "status": "PENDING", "created_at": "2026-01-02T03:04:05"}')
    assert head is not None
    assert (head.id, head.status, head.created_at.isoformat() if head.created_at else None) == (
        "a",
        "PENDING",
        "2026-01-02T03:04:05+00:00",
    )
    assert head_of(b'{"id": 7}') is None
    assert head_of(b"[1]") is None
    assert head_of(b'{"status": "PENDING"}') is None

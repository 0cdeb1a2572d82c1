"""listread: a JSON array read as a stream, one item's bytes at a time, in bounded memory.

The list endpoints answer one JSON array, newest first, without pagination; at 100,000 runs
that is ~45 MB. `ArraySplitter` cuts the bytes as they arrive into the raw bytes of each
item, so the reader can look at an item (cheaply, `Head`) and stop reading once it has what
it needs, closing the connection. Nothing here parses an item fully or knows the item's model.

Hand-written, not a library: ijson and its kin build Python objects per value (slower than
our whole tick at 100,000 items) and give no item bytes to compare; here msgspec's C parser
validates each cut, so the splitter is a few lines with no Python loop over bytes.

How a cut is found: a top-level item ends at a comma (or at the closing bracket). A comma
inside an item leaves an unbalanced prefix, so `[` + prefix + `]` is valid JSON exactly
when the prefix ends on an item boundary; msgspec checks that, and hands back each item's
bytes (`msgspec.Raw`) from the same pass.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime

import msgspec

from watcher.errors import BadResponse

__all__ = ["MAX_ITEM_BYTES", "ArraySplitter", "Head", "head_of", "items"]

# One item bigger than this (or garbage this long without a boundary) fails the read: an
# answer gone wrong, and the limit that keeps a hostile body from growing the buffer forever.
MAX_ITEM_BYTES = 8 * 1024 * 1024
# Likely boundaries first (an object ends, the next begins); any comma only as a fallback.
_OBJECT_CUT = re.compile(rb"\}\s*,\s*\{")
_TRIES = 8  # cuts tried per chunk before waiting for more bytes
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])


class Head(msgspec.Struct):
    """The fields a reader decides with, decoded without the rest of the item."""

    id: str
    status: str | None = None
    created_at: datetime | None = None


_HEAD = msgspec.json.Decoder(Head)


def head_of(raw: bytes) -> Head | None:
    """The item's id, status and creation time; None when it is not an object with a string id
    (the caller parses it fully to say what is wrong)."""
    try:
        head = _HEAD.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if head.created_at is not None and head.created_at.tzinfo is None:
        head.created_at = head.created_at.replace(tzinfo=UTC)  # as the models read it
    return head


class ArraySplitter:
    """Feed it a JSON array's bytes in pieces; get each complete item's bytes, in order."""

    def __init__(self, where: str) -> None:
        self._where = where  # names the answer in errors ("the run list from URL")
        self._buf = bytearray()
        self._opened = False
        self._closed = False
        self._offset = 0  # bytes of the body before the buffer, for error positions
        self.items = 0
        # After every cut failed, wait until the buffer doubles before cutting again: garbage
        # mid-array then costs O(n) in all, not one failed parse per chunk.
        self._retry_at = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """The items completed by `chunk` (possibly none)."""
        buf = self._buf
        buf += chunk
        if not self._opened:
            stripped = buf.lstrip()
            if not stripped:
                return []
            if stripped[:1] != b"[":
                raise BadResponse(f"{self._where} is not a JSON array")
            self._offset += len(buf) - len(stripped) + 1
            del buf[: len(buf) - len(stripped) + 1]
            self._opened = True
        if self._closed:
            if bytes(buf).strip():
                raise BadResponse(f"{self._where} has data after its closing bracket")
            return []
        if len(buf) < self._retry_at:
            return []
        found = self._cut()
        self._retry_at = 0 if found else 2 * len(buf)
        if not found and len(buf) > MAX_ITEM_BYTES:
            raise BadResponse(
                f"{self._where} is malformed: no item boundary in {MAX_ITEM_BYTES} bytes"
                f" after byte {self._offset}"
            )
        return found

    def close(self) -> list[bytes]:
        """The last items, at the end of the body; a body that stops short fails."""
        if self._closed:
            return []
        body = bytes(self._buf).rstrip()
        if not self._opened:
            raise BadResponse(f"{self._where} is empty, not a JSON array")
        if not body.endswith(b"]"):
            raise BadResponse(
                f"{self._where} is truncated: it ends after byte {self._offset + len(body)}"
                f" without closing the array (item {self.items + 1} is incomplete)"
            )
        try:
            raws = _RAW_LIST.decode(b"[" + body)
        except msgspec.DecodeError as exc:
            raise BadResponse(
                f"{self._where} is malformed after item {self.items}"
                f" (near byte {self._offset}): {str(exc).split(' (byte')[0]}"
            ) from exc
        self._closed = True
        self._buf.clear()
        return self._take(raws)

    def _cut(self) -> list[bytes]:
        """Items up to the last boundary the buffer holds, leaving the rest buffered."""
        buf = self._buf
        cuts = [m.start() + 1 for m in _OBJECT_CUT.finditer(buf)][-_TRIES:]
        if not cuts:
            cuts = [i for i in _commas(buf)][-_TRIES:]
        for cut in reversed(cuts):
            try:
                raws = _RAW_LIST.decode(b"[" + bytes(buf[:cut]) + b"]")
            except msgspec.DecodeError:
                continue  # inside an item (or garbage before it): try an earlier cut
            consumed = cut + 1  # the separating comma too
            self._offset += consumed
            del buf[:consumed]
            return self._take(raws)
        # The array may end in this buffer: whatever follows the closing bracket is checked.
        tail = bytes(buf).rstrip()
        if tail.endswith(b"]"):
            try:
                raws = _RAW_LIST.decode(b"[" + tail)
            except msgspec.DecodeError:
                return []
            self._closed = True
            buf.clear()
            return self._take(raws)
        return []

    def _take(self, raws: list[msgspec.Raw]) -> list[bytes]:
        self.items += len(raws)
        return [bytes(raw) for raw in raws]


def _commas(buf: bytearray) -> list[int]:
    out = []
    at = buf.find(b",")
    while at != -1:
        out.append(at)
        at = buf.find(b",", at + 1)
    return out


async def items(chunks: AsyncIterator[bytes], where: str) -> AsyncGenerator[bytes, None]:
    """Each item's bytes as `chunks` (a response body) arrive; the caller may stop at any one."""
    splitter = ArraySplitter(where)
    async for chunk in chunks:
        for item in splitter.feed(chunk):
            yield item
    for item in splitter.close():
        yield item

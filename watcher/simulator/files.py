"""Files a job leaves behind, their presigned URLs, and their bytes.

The API never serves a file itself: its download endpoints answer with a presigned storage
URL, valid for an hour, that carries its own signature. The simulator plays the storage too:

- ``download_url`` points back at the simulator under ``/_files/<token>/<file name>``, outside
  ``/api/``. The token is ``<payload>.<signature>``: the payload names the job's kind, its id,
  the file and when the URL expires; the signature is an HMAC with a key only this simulator
  knows, so a URL cannot be forged or edited. Nothing is stored per URL.
- Like S3, the storage answers in XML, 403 for a bad signature or an expired URL, 404 for an
  object that is gone, and 400 for a request that carries an ``Authorization`` header as well
  as the signature (S3's "Only one auth mechanism allowed"), so a client that sends its API
  key there fails visibly; the request counters record it too (see ``stats``).
- A file's bytes are made up on the fly from its id and exactly its announced size: lines of
  64 bytes that name the file and their own number, so a client can check a download byte
  for byte (``file_content``) and a truncated or shifted copy never passes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import secrets
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from .messages import SimResponse

URL_TTL_SECONDS = 3600.0
"""How long a presigned URL stays valid, as the API documents (1 hour)."""

FILES_PATH = "/_files/"
LINE = 64
_CHUNK_LINES = 1024  # 64 KiB per part sent


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One downloadable file: its id, path (folders included), MIME type and size.

    ``seed`` makes its content (``file_content``): unique across every job, where the id
    alone may not be (an anonymization run numbers its files 0, 1, ...).
    """

    id: str
    path: str
    content_type: str
    size: int
    seed: str

    @property
    def name(self) -> str:
        """The file name without its folders."""
        return self.path.rsplit("/", 1)[-1]


def _line(tag: str, number: int) -> bytes:
    text = f"{tag} line {number:012d} "
    return (text + "." * (LINE - 1 - len(text))).encode() + b"\n"


def file_chunks(seed: str, size: int) -> Iterator[bytes]:
    """The bytes of the file ``seed`` names, ``size`` of them, in 64 KiB parts."""
    tag = hashlib.sha256(seed.encode()).hexdigest()[:16]
    lines, rest = divmod(size, LINE)
    for first in range(0, lines, _CHUNK_LINES):
        yield b"".join(_line(tag, n) for n in range(first, min(first + _CHUNK_LINES, lines)))
    if rest:
        yield _line(tag, lines)[:rest]


def file_content(seed: str, size: int) -> bytes:
    """The whole content of a simulated file: what a correct download holds."""
    return b"".join(file_chunks(seed, size))


def archive(files: Sequence[FileSpec], extra: dict[str, bytes], stamp: float) -> bytes:
    """A ZIP of ``files`` (folders kept) plus ``extra`` members; the same bytes every time.

    Every member carries the same timestamp (``stamp``, the job's completion), so a ZIP
    announced with one size is served with that size again later.
    """
    when = datetime.fromtimestamp(max(stamp, 315_532_800.0), UTC).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        members = [(f.path, file_content(f.seed, f.size)) for f in files] + list(extra.items())
        for path, data in members:
            info = zipfile.ZipInfo(path, date_time=when)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zipped.writestr(info, data)
    return buffer.getvalue()


@dataclass(frozen=True, slots=True)
class FileGrant:
    """What a valid token grants: a job's file (``archive``: the ZIP of them all)."""

    kind: str
    job_id: str
    file_id: str
    expires: int


class TokenRefused(Exception):
    """A token the storage refuses; ``code`` and ``status`` are what S3 would answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Signer:
    """Signs and checks presigned URLs; ``expire_all`` ends every URL signed so far."""

    def __init__(self, ttl: float = URL_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._key = secrets.token_bytes(32)
        self._serial = 0
        self._expired_through = 0

    def url(self, base: str, grant: tuple[str, str, str], name: str, now: float) -> str:
        """A presigned URL for ``grant`` (kind, job id, file id), valid ``ttl`` from ``now``."""
        self._serial += 1
        kind, job_id, file_id = grant
        payload = json.dumps(
            [kind, job_id, file_id, int(now + self.ttl), self._serial], separators=(",", ":")
        ).encode()
        token = f"{_b64(payload)}.{_b64(self._sign(payload))}"
        return f"{base.rstrip('/')}{FILES_PATH}{token}/{quote(name)}"

    def check(self, path: str, now: float) -> FileGrant:
        """The grant of a ``/_files/...`` path; TokenRefused when it is forged or expired."""
        token = path[len(FILES_PATH) :].split("/", 1)[0]
        encoded, _, signature = token.partition(".")
        try:
            payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        except (binascii.Error, ValueError):
            given, payload = b"", b""
        if not payload or not hmac.compare_digest(given, self._sign(payload)):
            raise TokenRefused(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        kind, job_id, file_id, expires, serial = json.loads(payload)
        if now >= expires or serial <= self._expired_through:
            raise TokenRefused(403, "AccessDenied", "Request has expired")
        return FileGrant(kind, job_id, file_id, expires)

    @property
    def signed(self) -> int:
        """How many URLs were signed so far."""
        return self._serial

    def expire_all(self) -> int:
        """Make every URL signed so far expired; returns how many were signed."""
        self._expired_through = self._serial
        return self._serial

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def storage_error(status: int, code: str, message: str) -> SimResponse:
    """An error as S3 words it: XML with a Code and a Message."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    return SimResponse(status, {"Content-Type": "application/xml"}, body)

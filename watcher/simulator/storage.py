"""The simulated object storage behind the download endpoints (see ``files`` for the design).

``Storage`` signs the URLs the API hands out, prepares the download-all ZIPs, and serves the
bytes when a client follows a URL. It knows jobs only through the lookup the simulator gives
it, and is called under the simulator's lock (the bytes themselves go out after it is left).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from .files import (
    FileSpec,
    Signer,
    TokenRefused,
    archive,
    file_chunks,
    storage_error,
)
from .lifecycle import Job
from .messages import SimResponse, Stream

ARCHIVE = "archive"
_ZIPS_KEPT = 8

Lookup = Callable[[str, str], Job | None]


class Storage:
    """Presigned URLs, ZIP preparation and file bytes for one simulator."""

    def __init__(self, *, url_ttl: float, archive_seconds: float) -> None:
        self.signer = Signer(url_ttl)
        # Seconds a download-all ZIP takes to prepare: 202 until then (0: ready at once).
        self.archive_seconds = archive_seconds
        self._preparing: dict[tuple[str, str], float] = {}
        self._zips: OrderedDict[tuple[object, ...], bytes] = OrderedDict()

    def link(self, job: Job, file_id: str, base: str, now: float) -> tuple[FileSpec, str] | None:
        """The file and a presigned URL to it, or None if the job has no such file now."""
        for spec in job.files(now):
            if spec.id == file_id:
                return spec, self.signer.url(base, (job.kind, job.id, spec.id), spec.name, now)
        return None

    def archive_link(self, job: Job, base: str, now: float) -> tuple[str, int] | None:
        """(URL, size) of the job's ZIP once prepared; None while it is being prepared.

        The first request starts the preparation; the caller checked the job has files.
        """
        started = self._preparing.setdefault((job.kind, job.id), now)
        if now < started + self.archive_seconds:
            return None
        data = self._zip(job, now)
        url = self.signer.url(base, (job.kind, job.id, ARCHIVE), f"{job.id}.zip", now)
        return url, len(data)

    def forget(self, kind: str, job_id: str) -> None:
        """A job was deleted: its ZIP is prepared anew if one with its id ever comes back."""
        self._preparing.pop((kind, job_id), None)

    def clear(self) -> None:
        """Every job is gone: forget what was prepared for them."""
        self._preparing.clear()
        self._zips.clear()

    def serve(self, path: str, now: float, find: Lookup) -> SimResponse:
        """Answer a request that follows a presigned URL."""
        try:
            grant = self.signer.check(path, now)
        except TokenRefused as refused:
            return storage_error(refused.status, refused.code, refused.message)
        job = find(grant.kind, grant.job_id)
        files = job.files(now) if job is not None else []
        if job is None or not files:
            return _no_such_key()
        if grant.file_id == ARCHIVE:
            data = self._zip(job, now)
            headers = _headers("application/zip", f"{job.id}.zip")
            return SimResponse(200, headers, data)
        spec = next((f for f in files if f.id == grant.file_id), None)
        if spec is None:
            return _no_such_key()
        return SimResponse(
            200,
            _headers(spec.content_type, spec.name),
            stream=Stream(spec.size, lambda: file_chunks(spec.seed, spec.size)),
        )

    def _zip(self, job: Job, now: float) -> bytes:
        files = job.files(now)
        # A pinned status can change what the ZIP holds: the key says what it was made of.
        key = (job.kind, job.id, tuple((f.id, f.size) for f in files))
        data = self._zips.get(key)
        if data is None:
            stamp = job.phase(now).completed_at or job.created_at
            data = archive(files, job.archive_extras(now), stamp)
            self._zips[key] = data
            while len(self._zips) > _ZIPS_KEPT:
                self._zips.popitem(last=False)
        self._zips.move_to_end(key)
        return data


def _headers(content_type: str, name: str) -> dict[str, str]:
    safe = name.replace('"', "")
    return {"Content-Type": content_type, "Content-Disposition": f'attachment; filename="{safe}"'}


def _no_such_key() -> SimResponse:
    return storage_error(404, "NoSuchKey", "The specified key does not exist.")


def auth_refused() -> SimResponse:
    """What S3 answers a presigned URL that also carries an Authorization header."""
    return storage_error(
        400,
        "InvalidArgument",
        "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
        "Signature query string parameter or the Authorization header should be specified",
    )

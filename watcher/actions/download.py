"""A `download` action: a job's generated files saved under `DIR/REF/`, each atomically.

`REF` is the job's canonical reference (`watcher.run_refs`): the bare id for a generation
run, `anonymization:ID` for an anonymization run (a `:` is an ordinary character in a Linux
file name). Kinds without files (evaluations, red-team runs) have nothing to download.

The API never serves a file itself: each file's download endpoint (read with the API key)
answers with a presigned URL, which carries its own signature and is fetched WITHOUT the key,
through a client of its own that has no Authorization header (a storage service refuses a
request with two credentials, and the key must not reach a third party). Each file is
written to a temporary file in its folder, synced, checked against the size the API
announced, and renamed into place, so a file is either whole or absent. The files' folders
are kept; a name that would leave `DIR/REF/` (absolute, `..`, a symlink out) is refused.
The ids of the files saved are reported one by one, so a retry fetches only the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path, PurePosixPath

import httpx
import pydantic

from watcher.api import DataframerClient, transport_reason
from watcher.errors import ApiError
from watcher.kinds import kind_info
from watcher.models import GeneratedFile, Job

__all__ = [
    "DownloadFailed",
    "download_run",
    "has_files",
    "storage_client",
    "target_path",
]


def has_files(kind: str) -> bool:
    """Whether jobs of `kind` produce files to download: generation and anonymization runs
    (`watcher.kinds` says, with each kind's file endpoint, the official SDK's paths)."""
    return kind_info(kind).files


class DownloadFailed(Exception):
    """A download attempt that failed, with its one-line reason (the attempt is retried)."""


class _Link(pydantic.BaseModel):
    download_url: str | None = None


def storage_client(*, timeout: float, user_agent: str) -> httpx.AsyncClient:
    """The client for presigned URLs: no base URL, no credentials, redirects followed."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": user_agent},
        follow_redirects=True,
    )


def target_path(directory: Path, ref: str, file_path: str) -> Path:
    """Where a file lands: `directory/ref/file_path` (`ref` the job's canonical reference);
    DownloadFailed for a name that is empty, absolute, or climbs out with `..` (a file name
    is the API's data, not ours)."""
    if not ref or "/" in ref or ref in (".", "..") or "\x00" in ref:
        raise DownloadFailed(f"refusing run reference {ref!r} as a directory name")
    if not file_path or "\x00" in file_path or "\\" in file_path:
        raise DownloadFailed(f"refusing file name {file_path!r}")
    relative = PurePosixPath(file_path)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise DownloadFailed(f"refusing file name {file_path!r}: it would leave {directory}")
    return directory / ref / Path(*relative.parts)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


async def _link(api: DataframerClient, job: Job, file: GeneratedFile) -> str:
    endpoint = kind_info(job.kind).file_path(job.id, str(file.id))  # by its API id
    try:
        body = await api.get_path(endpoint)
        url = _Link.model_validate_json(body).download_url
    except ApiError as exc:
        raise DownloadFailed(f"no download URL for {file.path}: {exc}") from exc
    except pydantic.ValidationError as exc:
        raise DownloadFailed(f"no download URL for {file.path}: a malformed answer") from exc
    if not url:
        raise DownloadFailed(f"no download URL for {file.path} yet")
    return url


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _save(storage: httpx.AsyncClient, url: str, target: Path, size: int | None) -> int:
    """Fetch `url` into `target` atomically; the bytes written. The URL is never logged or
    put in a reason: its signature grants access to the file.

    Hand-written (tempfile + fsync + os.replace + a synced directory): the libraries for
    atomic writes are unmaintained or synchronous, and the stream is async here."""
    name = target.name
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{name}.", suffix=".part")
    written = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async with storage.stream("GET", url) as response:
                if response.status_code != 200:
                    raise DownloadFailed(
                        f"the file storage answered HTTP {response.status_code} for {name}"
                    )
                async for chunk in response.aiter_bytes():
                    written += len(chunk)
                    if size is not None and written > size:
                        raise DownloadFailed(f"{name} is larger than the {size} bytes announced")
                    await asyncio.to_thread(out.write, chunk)
            await asyncio.to_thread(out.flush)
            await asyncio.to_thread(os.fsync, out.fileno())
        if size is not None and written != size:
            raise DownloadFailed(f"{name} has {written} bytes, the API announced {size}")
        os.replace(temp, target)
        await asyncio.to_thread(_sync_dir, target.parent)
    except httpx.HTTPError as exc:
        raise DownloadFailed(f"fetching {name} failed: {transport_reason(exc)}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return written


async def download_run(
    run: Job,
    *,
    directory: Path,
    api: DataframerClient,
    storage: httpx.AsyncClient,
    done: Collection[str],
    saved: Callable[[str, Path, int], None],
) -> int:
    """Save every generated file of `run` (a job of any kind) not in `done` (file ids); how
    many were fetched. A kind without files (`has_files`) fetches none.

    `saved(file_id, path, size)` hears of each file as soon as it is in place. Raises
    DownloadFailed at the first file that cannot be saved (the next attempt goes on from it).
    """
    files = run.generated_files or []
    if files and not has_files(run.kind):
        raise DownloadFailed(f"files of a {run.kind} job cannot be downloaded")
    fetched = 0
    for file in files:
        if file.id is None or file.path is None:
            raise DownloadFailed(f"a generated file without an id or path: {file.path!r}")
        if file.id in done:
            continue
        target = target_path(directory, run.ref, file.path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DownloadFailed(f"cannot create {target.parent}: {exc.strerror}") from exc
        if not _inside(target.parent, directory):
            raise DownloadFailed(f"refusing {file.path!r}: a symlink leads out of {directory}")
        url = await _link(api, run, file)
        try:
            size = await _save(storage, url, target, file.size_bytes)
        except OSError as exc:
            raise DownloadFailed(f"cannot write {target}: {exc.strerror}") from exc
        saved(file.id, target, size)
        fetched += 1
    return fetched

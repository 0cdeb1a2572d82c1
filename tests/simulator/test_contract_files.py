"""The contract for files: the official SDK asks for download URLs, a plain client follows them.

A presigned URL needs no API key: every fetch here is made without one, and the simulator's
counters prove it (``/_sim/stats`` ``files``). What is fetched must be exactly what the detail
read announced, byte for byte.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from urllib.parse import urlsplit

import dataframer
import httpx
import pytest
from dataframer import Dataframer
from dataframer.types.dataframer.anonymization_runs import (
    FileDownloadAllResponse as AnonymizedArchiveResponse,
)
from dataframer.types.dataframer.anonymization_runs import (
    FileDownloadResponse as AnonymizedFileResponse,
)
from dataframer.types.dataframer.runs import FileDownloadAllResponse, FileDownloadResponse

from tests.simulator.sdk_oracle import assert_complete, assert_wire
from watcher.simulator import ManualClock, SimRun, SimulatorServer, file_content

API = "/api/dataframer/"


@pytest.fixture
def storage() -> Iterator[httpx.Client]:
    """A client for presigned URLs: no base URL, no credentials."""
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def finished(server: SimulatorServer) -> SimRun:
    return server.sim.add_run(outcome="SUCCEEDED", number_of_samples=60, created_ago_seconds=1e4)


def test_the_sdk_downloads_every_generated_file_byte_for_byte(
    server: SimulatorServer,
    sdk: Dataframer,
    raw: httpx.Client,
    storage: httpx.Client,
    finished: SimRun,
) -> None:
    """runs.files.download(): a URL back at the simulator, outside /api/, that serves exactly
    the announced size and content, and never saw the API key."""
    detail = sdk.dataframer.runs.retrieve(finished.id)
    assert detail.generated_files
    for file in detail.generated_files:
        assert file.id is not None
        answer = sdk.dataframer.runs.files.download(file.id, run_id=finished.id)
        assert isinstance(answer, FileDownloadResponse)
        assert_complete(answer)
        assert (answer.filename, answer.content_type) == (
            (file.path or "").rsplit("/", 1)[-1],
            file.file_type,
        )
        assert answer.download_url is not None
        url = urlsplit(answer.download_url)
        assert f"{url.scheme}://{url.netloc}" == server.url
        assert url.path.startswith("/_files/")
        fetched = storage.get(answer.download_url)
        assert fetched.status_code == 200
        assert int(fetched.headers["content-length"]) == file.size_bytes
        assert fetched.content == file_content(file.id, file.size_bytes or 0)
        assert fetched.headers["content-type"] == file.file_type
    body = raw.get(f"{API}runs/{finished.id}/files/{file.id}/download/").json()
    assert_wire(FileDownloadResponse, body)
    files = server.sim.stats.files()
    assert (files["requests"], files["served"]) == (3, 3)
    assert (files["with_authorization"], files["with_api_key"]) == (0, 0)


def test_a_big_file_streams_whole(
    server: SimulatorServer, sdk: Dataframer, storage: httpx.Client
) -> None:
    """Several MB go out as a stream and arrive complete, in order."""
    run = server.sim.add_run(outcome="SUCCEEDED", number_of_samples=3000, created_ago_seconds=1e5)
    file = server.sim.detail(run.id)["generated_files"][0]
    url = sdk.dataframer.runs.files.download(file["id"], run_id=run.id).download_url
    assert url is not None
    with storage.stream("GET", url) as response:
        data = b"".join(response.iter_bytes())
    assert len(data) == file["size_bytes"] > 5_000_000
    assert data == file_content(file["id"], file["size_bytes"])


def test_the_sdk_downloads_a_runs_zip(
    server: SimulatorServer, sdk: Dataframer, storage: httpx.Client, finished: SimRun
) -> None:
    """download_all(): 200 with a URL and the ZIP's size; the ZIP holds every file, folders
    kept, byte for byte, and the top-level metadata."""
    answer = sdk.dataframer.runs.files.download_all(finished.id)
    assert isinstance(answer, FileDownloadAllResponse)
    assert_complete(answer)
    assert answer.download_url is not None
    fetched = storage.get(answer.download_url)
    assert fetched.status_code == 200
    assert len(fetched.content) == answer.size_bytes
    files = server.sim.detail(finished.id)["generated_files"]
    with zipfile.ZipFile(io.BytesIO(fetched.content)) as zipped:
        assert zipped.namelist() == [f["path"] for f in files] + ["top_level.metadata"]
        for f in files:
            assert zipped.read(f["path"]) == file_content(f["id"], f["size_bytes"])
        summary = json.loads(zipped.read("top_level.metadata"))
    assert (summary["run_id"], summary["status"]) == (finished.id, "SUCCEEDED")
    # The same ZIP again: same size, so a client may check what it was told.
    again = sdk.dataframer.runs.files.download_all(finished.id)
    assert again.size_bytes == answer.size_bytes


def test_a_zip_in_preparation_is_a_202_then_a_200(
    server: SimulatorServer, sdk: Dataframer, clock: ManualClock, finished: SimRun
) -> None:
    """With a preparation time, the first calls answer 202 with nulls; then 200 with a URL."""
    server.sim.storage.archive_seconds = 30
    first = sdk.dataframer.runs.files.with_raw_response.download_all(finished.id)
    assert first.status_code == 202
    assert_wire(FileDownloadAllResponse, first.json())
    assert sdk.dataframer.runs.files.download_all(finished.id).download_url is None
    clock.advance(30)
    ready = sdk.dataframer.runs.files.with_raw_response.download_all(finished.id)
    assert ready.status_code == 200
    assert ready.parse().download_url is not None


def test_the_sdk_downloads_anonymized_files(
    server: SimulatorServer, sdk: Dataframer, raw: httpx.Client, storage: httpx.Client
) -> None:
    """anonymization_runs.files.download() and download_all() on a SUCCEEDED run: the SDK's
    own shapes (file_name, status), the announced bytes, a ZIP of every document."""
    job = server.sim.add_anonymization_run(outcome="SUCCEEDED", created_ago_seconds=1e4)
    detail = sdk.dataframer.anonymization_runs.retrieve(job.id)
    assert detail.anonymized_files
    for file in detail.anonymized_files:
        assert file.id is not None
        answer = sdk.dataframer.anonymization_runs.files.download(file.id, run_id=job.id)
        assert isinstance(answer, AnonymizedFileResponse)
        assert_complete(answer)
        assert answer.file_name == (file.path or "").rsplit("/", 1)[-1]
        assert answer.download_url is not None
        fetched = storage.get(answer.download_url)
        assert len(fetched.content) == file.size_in_bytes
        assert fetched.content == file_content(f"{job.id}/{file.id}", file.size_in_bytes or 0)
    body = raw.get(f"{API}anonymization-runs/{job.id}/files/{file.id}/download/").json()
    assert_wire(AnonymizedFileResponse, body)

    archive = sdk.dataframer.anonymization_runs.files.download_all(job.id)
    assert isinstance(archive, AnonymizedArchiveResponse)
    assert_complete(archive)
    assert archive.status == "ready"
    assert archive.download_url is not None
    assert_wire(
        AnonymizedArchiveResponse, raw.get(f"{API}anonymization-runs/{job.id}/download/").json()
    )
    with zipfile.ZipFile(io.BytesIO(storage.get(archive.download_url).content)) as zipped:
        assert zipped.namelist() == [f.path for f in detail.anonymized_files]


def test_files_of_an_unfinished_job_are_refused(server: SimulatorServer, sdk: Dataframer) -> None:
    """An anonymization run not SUCCEEDED is a 400 for both downloads; a run still running has
    no file ids (404) and no ZIP to make (400)."""
    sim = server.sim
    pending = sim.add_anonymization_run(pending_seconds=100)
    with pytest.raises(dataframer.BadRequestError) as info:
        sdk.dataframer.anonymization_runs.files.download("0", run_id=pending.id)
    assert info.value.body == {
        "detail": "The anonymization run must be in SUCCEEDED status (status is PENDING)."
    }
    with pytest.raises(dataframer.BadRequestError):
        sdk.dataframer.anonymization_runs.files.download_all(pending.id)
    running = sim.add_run(pending_seconds=100)
    with pytest.raises(dataframer.NotFoundError):
        sdk.dataframer.runs.files.download(running.file_ids[0], run_id=running.id)
    with pytest.raises(dataframer.BadRequestError):
        sdk.dataframer.runs.files.download_all(running.id)


def _url(sdk: Dataframer, run: SimRun) -> str:
    url = sdk.dataframer.runs.files.download(run.file_ids[0], run_id=run.id).download_url
    assert url is not None
    return url


def _error_code(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/xml"
    return response.text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def test_a_url_expires_after_an_hour(
    sdk: Dataframer, storage: httpx.Client, clock: ManualClock, finished: SimRun
) -> None:
    """Valid up to its hour, then 403 AccessDenied, as S3 answers."""
    url = _url(sdk, finished)
    clock.advance(3599)
    assert storage.get(url).status_code == 200
    clock.advance(1)
    expired = storage.get(url)
    assert (expired.status_code, _error_code(expired)) == (403, "AccessDenied")


def test_tests_can_expire_every_url(
    server: SimulatorServer, sdk: Dataframer, storage: httpx.Client, finished: SimRun
) -> None:
    """POST /_sim/files/expire ends the URLs handed out so far; a new one works."""
    old = _url(sdk, finished)
    answer = storage.post(f"{server.url}/_sim/files/expire")
    assert answer.json() == {"expired": 1}
    assert storage.get(old).status_code == 403
    assert storage.get(_url(sdk, finished)).status_code == 200


def test_a_tampered_url_is_refused(
    sdk: Dataframer, storage: httpx.Client, finished: SimRun
) -> None:
    """A token edited by one character no longer matches its signature."""
    url = _url(sdk, finished)
    start = url.index("/_files/") + len("/_files/")
    forged = url[:start] + ("B" if url[start] != "B" else "C") + url[start + 1 :]
    refused = storage.get(forged)
    assert (refused.status_code, _error_code(refused)) == (403, "SignatureDoesNotMatch")


def test_the_api_key_sent_to_storage_is_refused_and_counted(
    server: SimulatorServer, sdk: Dataframer, storage: httpx.Client, finished: SimRun
) -> None:
    """An Authorization header on a presigned URL: S3's 400, and the counters record it."""
    url = _url(sdk, finished)
    refused = storage.get(url, headers={"Authorization": "Bearer sim-key"})
    assert (refused.status_code, _error_code(refused)) == (400, "InvalidArgument")
    stats = storage.get(f"{server.url}/_sim/stats").json()["files"]
    assert stats == {
        "requests": 1,
        "with_authorization": 1,
        "with_api_key": 1,
        "served": 0,
        "bytes": 0,
    }


def test_a_deleted_runs_url_is_no_such_key(
    server: SimulatorServer, sdk: Dataframer, storage: httpx.Client, finished: SimRun
) -> None:
    """The object is gone with its run: 404 NoSuchKey."""
    url = _url(sdk, finished)
    sdk.dataframer.runs.delete(finished.id)
    gone = storage.get(url)
    assert (gone.status_code, _error_code(gone)) == (404, "NoSuchKey")


def test_faults_strike_file_urls_too(
    server: SimulatorServer, sdk: Dataframer, storage: httpx.Client, finished: SimRun
) -> None:
    """A fault on /_files/ answers in place of the storage, once; the counters see both."""
    url = _url(sdk, finished)
    server.sim.faults.add([{"kind": "status", "status": 503, "path": "/_files/"}])
    assert storage.get(url).status_code == 503
    assert storage.get(url).status_code == 200
    assert server.sim.stats.count("GET /_files/{token}") == 2


def test_head_tells_the_size_without_the_body(
    sdk: Dataframer, storage: httpx.Client, finished: SimRun
) -> None:
    """HEAD on a presigned URL: the length, no bytes."""
    url = _url(sdk, finished)
    head = storage.head(url)
    assert head.status_code == 200
    assert (
        int(head.headers["content-length"])
        == finished.file_specs(finished.state(finished.created_at + 1e9))[0].size
    )
    assert head.content == b""

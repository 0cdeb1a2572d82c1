"""A hand-written Dataframer API for in-process client tests: every request to a handler."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from watcher.api import RUNS_PATH, DataframerClient
from watcher.config import Settings, load_settings
from watcher.events import Snapshot, Source

BASE = "http://df.test"
API_KEY = "sk-live-0123456789abcdef"
RUN_ID = "3c90c3cc-0d44-4b50-8888-8dd25736052a"

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
)


def client_for(
    handler: Handler, base_url: str = BASE, max_concurrency: int = 8
) -> DataframerClient:
    """A client whose every request goes to `handler`."""
    return DataframerClient(
        base_url, API_KEY, transport=httpx.MockTransport(handler), max_concurrency=max_concurrency
    )


def answer(
    status: int = 200, body: object = None, headers: dict[str, str] | None = None
) -> Handler:
    """A handler that answers every request the same way (JSON body unless bytes)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, bytes):
            return httpx.Response(status, content=body, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def api_run(
    run_id: str = RUN_ID, status: object = "PROCESSING", **fields: object
) -> dict[str, Any]:
    """A run as the API's JSON carries it, every documented field present (nulls included)."""
    data: dict[str, object] = {
        "id": run_id,
        "status": status,
        "spec_id": "spec-1",
        "spec_name": "invoice-extraction",
        "spec_version": 3,
        "dataset_id": None,
        "dataset_name": None,
        "dataset_type": "SINGLE_FILE",
        "samples_completed": 10,
        "samples_failed": 0,
        "total_cost": None,
        "created_at": "2025-03-01T10:00:00Z",
        "created_by_email": "ada@example.com",
        "completed_at": None,
    }
    data.update(fields)
    return data


class FakeApi:
    """A hand-written runs API: a list, detail reads, per-run error codes, and a request log."""

    def __init__(
        self,
        listed: list[dict[str, Any]] | None = None,
        details: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.listed = listed if listed is not None else []
        self.details = details if details is not None else {r["id"]: r for r in self.listed}
        self.codes: dict[str, int] = {}  # run id (or "list") -> forced HTTP status
        self.requests: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append(path)
        if path == RUNS_PATH:
            if "list" in self.codes:
                return httpx.Response(self.codes["list"], json={"detail": "nope"})
            return httpx.Response(200, json=self.listed)
        run_id = path.removeprefix(RUNS_PATH).removesuffix("/")
        if run_id in self.codes:
            return httpx.Response(self.codes[run_id], json={"detail": "nope"})
        if run_id not in self.details:
            return httpx.Response(404, json={"detail": "Not found."})
        return httpx.Response(200, json=self.details[run_id])

    @property
    def detail_reads(self) -> list[str]:
        """The run ids read one by one, in request order."""
        return [
            p.removeprefix(RUNS_PATH).removesuffix("/") for p in self.requests if p != RUNS_PATH
        ]

    @property
    def list_reads(self) -> int:
        """How many list requests were made."""
        return self.requests.count(RUNS_PATH)


def snapshot(
    run_id: str,
    status: str | None = "PROCESSING",
    *,
    source: Source = Source.EXPLICIT,
    gone: bool = False,
    muted: bool = False,
) -> Snapshot:
    """A stored snapshot of a watched run."""
    return Snapshot(run_id=run_id, source=source, status=status, gone=gone, muted=muted)


def state(*snapshots: Snapshot) -> dict[str, Snapshot]:
    """The store's mapping of run id to snapshot."""
    return {s.run_id: s for s in snapshots}


def settings_for(tmp_path: Path, body: str, *, key: str = "key-123456") -> Settings:
    """Settings from a YAML body, with the state file in tmp_path."""
    config = tmp_path / "watcher.yaml"
    config.write_text(f"state:\n  path: {tmp_path / 'w.db'}\n" + body)
    return load_settings(config, environ={"DATAFRAMER_API_KEY": key})


class StatusApi:
    """Runs by id with a settable status; an optional hook runs during the next request."""

    def __init__(self, **statuses: str) -> None:
        self.statuses = dict(statuses)
        self.during_next_request: Callable[[], None] | None = None
        self.requests = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.during_next_request is not None:
            hook, self.during_next_request = self.during_next_request, None
            hook()
        if request.headers["Authorization"] != "Bearer key-123456":
            return httpx.Response(401, json={"detail": "Invalid API key."})
        runs = [{"id": i, "status": s, "spec_name": "spec"} for i, s in self.statuses.items()]
        if request.url.path == "/api/dataframer/runs/":
            return httpx.Response(200, json=runs)
        run_id = request.url.path.rstrip("/").rsplit("/", 1)[1]
        if run_id not in self.statuses:
            return httpx.Response(404, json={"detail": "Not found."})
        return httpx.Response(
            200, json={**runs[list(self.statuses).index(run_id)], "generated_files": []}
        )

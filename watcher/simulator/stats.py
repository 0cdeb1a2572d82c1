"""Request counters, so tests assert on what a client did (retries, polls) instead of timing."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

_FILE_COUNTS = ("requests", "with_authorization", "with_api_key", "served", "bytes")


class RequestStats:
    """Counts API requests per route template (``GET /api/dataframer/runs/{id}/``) and outcome.

    Requests to the ``/_sim/`` control surface are not counted: they are the test talking, not
    the client under test.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._files: Counter[str] = Counter()

    def record(self, route: str, status: int | None, fault: str | None = None) -> None:
        """Count one request; ``status`` None means the connection was dropped."""
        with self._lock:
            self._routes[route] += 1
            self._statuses["dropped" if status is None else str(status)] += 1
            if fault is not None:
                self._faults[fault] += 1

    def record_file(self, *, authorization: bool, api_key: bool, served: int) -> None:
        """Count one request to a presigned file URL: what it carried, the bytes it got.

        A presigned URL needs no credentials, so ``with_authorization`` and ``with_api_key``
        must stay 0 for a client that keeps its API key to the API.
        """
        with self._lock:
            self._files["requests"] += 1
            self._files["with_authorization"] += authorization
            self._files["with_api_key"] += api_key
            self._files["served"] += served > 0
            self._files["bytes"] += served

    def files(self) -> dict[str, int]:
        """``{"requests", "with_authorization", "with_api_key", "served", "bytes"}``."""
        with self._lock:
            return {name: self._files[name] for name in _FILE_COUNTS}

    def count(self, route: str) -> int:
        """Requests seen so far for one route template, e.g. ``GET /api/dataframer/runs/``."""
        with self._lock:
            return self._routes[route]

    @property
    def total(self) -> int:
        """Requests seen so far, all routes together."""
        with self._lock:
            return sum(self._routes.values())

    def snapshot(self) -> dict[str, Any]:
        """``{"total", "routes", "statuses", "faults", "files"}``, each a plain dict of counts."""
        with self._lock:
            return {
                "total": sum(self._routes.values()),
                "routes": dict(self._routes),
                "statuses": dict(self._statuses),
                "faults": dict(self._faults),
                "files": {name: self._files[name] for name in _FILE_COUNTS},
            }

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._routes.clear()
            self._statuses.clear()
            self._faults.clear()
            self._files.clear()

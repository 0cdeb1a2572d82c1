"""The status page's routes: `/`, `/runs/{ID}`, `/api/runs`, `/api/runs/{ID}`, `/static/*`.

`StatusPage.handle` answers one GET (or None for a path that is not the page's, so the
health listener keeps /healthz, /readyz and /metrics). It runs on the listener's threads and
reads the state file through a read-only connection of its own, never the daemon's. HTML is
Jinja2 (autoescaped); the chart is uPlot, vendored under `static/` and served from here, so
the page fetches nothing from anywhere else.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jinja2

from watcher.run_refs import normalize_run_id
from watcher.state.progress import open_reader
from watcher.ui.auth import CHALLENGE, Credentials, authorized
from watcher.ui.data import Health, overview, run_detail

__all__ = ["Reply", "StatusPage"]

_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".LICENSE": "text/plain"}
_UI_PREFIXES = ("/runs/", "/api/runs", "/static/")


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer."""

    code: int
    content_type: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


def is_page_path(path: str) -> bool:
    """Whether `path` belongs to the status page (and so needs the password, if one is set)."""
    return path == "/" or path.startswith(_UI_PREFIXES)


class StatusPage:
    """The page of one daemon: its state file, its health, and who may read it."""

    def __init__(
        self,
        state_path: Path,
        *,
        health: Callable[[], Health],
        slow_below: Callable[[], float | None] = lambda: None,
        credentials: Credentials | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        refresh_seconds: float = 2.0,
    ) -> None:
        self._path = state_path
        self._health = health
        self._slow_below = slow_below
        self._credentials = credentials
        self._clock = clock
        self._refresh_ms = int(refresh_seconds * 1000)
        self._lock = threading.Lock()  # one reader connection, the listener's threads take turns
        self._conn: sqlite3.Connection | None = None
        self._jinja = jinja2.Environment(
            loader=jinja2.PackageLoader("watcher.ui", "pages"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self._static = resources.files("watcher.ui") / "static"

    def close(self) -> None:
        """Close the reader connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def handle(self, path: str, authorization: str | None = None) -> Reply | None:
        """The answer to GET `path` (query string included) from a client that sent this
        `Authorization` header, or None when the path is not the page's."""
        path = path.split("?", 1)[0]
        if not is_page_path(path):
            return None
        if self._credentials is not None and not authorized(authorization, self._credentials):
            body = b"authentication required\n"
            return Reply(401, "text/plain; charset=utf-8", body, {"WWW-Authenticate": CHALLENGE})
        if path.startswith("/static/"):
            return self._file(path.removeprefix("/static/"))
        try:
            return self._route(path)
        except sqlite3.Error as exc:
            # The page says so instead of dropping the connection; the daemon logs the file's
            # own troubles where it writes to it.
            reason = " ".join(str(exc).split()) or type(exc).__name__
            return _json(503, {"error": f"cannot read the state file {self._path}: {reason}"})

    def _route(self, path: str) -> Reply:
        if path == "/":
            return self._html("index.html", self._overview())
        if path == "/api/runs":
            return _json(200, self._overview())
        if path.startswith("/api/runs/") and (ref := _run_id(path, "/api/runs/")):
            run_id, error = _key(ref)
            if run_id is None:
                return _json(400, {"error": error})
            detail = self._detail(run_id)
            if detail is None:
                return _json(404, {"error": f"no tracked run {run_id!r}"})
            return _json(200, detail)
        if path.startswith("/runs/") and (ref := _run_id(path, "/runs/")):
            run_id, error = _key(ref)
            if run_id is None:
                return self._html("missing.html", {"run_id": None, "error": error}, code=400)
            detail = self._detail(run_id)
            if detail is None:
                return self._html("missing.html", {"run_id": run_id, "error": None}, code=404)
            return self._html("run.html", {"run": detail})
        return self._html("missing.html", {"run_id": None, "error": None}, code=404)

    # -- reading ----------------------------------------------------------------------------

    def _read(self, read: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            if self._conn is None:
                self._conn = open_reader(self._path)
            try:
                return read(self._conn)
            except sqlite3.Error:
                # A reader left behind by a replaced file, or one that lost a race: once more.
                self._conn.close()
                self._conn = open_reader(self._path)
                return read(self._conn)

    def _overview(self) -> dict[str, Any]:
        health, now, slow = self._health(), self._clock(), self._slow_below()
        data: dict[str, Any] = self._read(lambda conn: overview(conn, health, now, slow_below=slow))
        return data

    def _detail(self, run_id: str) -> dict[str, Any] | None:
        health, now, slow = self._health(), self._clock(), self._slow_below()
        data: dict[str, Any] | None = self._read(
            lambda conn: run_detail(conn, run_id, health, now, slow_below=slow)
        )
        return data

    # -- answering --------------------------------------------------------------------------

    def _html(self, name: str, context: dict[str, Any], *, code: int = 200) -> Reply:
        page = self._jinja.get_template(name).render(refresh_ms=self._refresh_ms, **context)
        return Reply(code, "text/html; charset=utf-8", page.encode())

    def _file(self, name: str) -> Reply:
        suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        item = self._static / name
        if "/" in name or suffix not in _STATIC_TYPES or not item.is_file():
            return Reply(404, "text/plain; charset=utf-8", b"not found\n")
        # The files ship with the package and change only with it: a day of caching is safe.
        return Reply(
            200, _STATIC_TYPES[suffix], item.read_bytes(), {"Cache-Control": "max-age=86400"}
        )


def _run_id(path: str, prefix: str) -> str:
    """The run reference after `prefix` (percent-decoded: `evaluation%3AID`); "" when there
    is none or more path."""
    rest = path.removeprefix(prefix)
    return "" if not rest or "/" in rest else unquote(rest)


def _key(ref: str) -> tuple[str | None, str]:
    """The canonical key of a reference in any form the CLI takes (`red_team:ID`, a UUID in
    capitals...), else None and the one-line reason."""
    try:
        return normalize_run_id(ref), ""
    except ValueError as exc:
        return None, str(exc)


def _json(code: int, data: dict[str, Any]) -> Reply:
    return Reply(code, "application/json", (json.dumps(data) + "\n").encode())

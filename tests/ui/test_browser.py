"""The status page in a real browser: the daemon as a subprocess against the simulator, the
page loaded by headless Chromium, its DOM checked and screenshots taken."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

from tests.support import DaemonProcess, free_port, http_get, wait_for
from tests.support.browser import dump_dom, screenshot
from watcher.simulator import SimulatorServer

PHONE = (390, 844)
DESKTOP = (1280, 900)


class Cells(HTMLParser):
    """Each row of the runs table: its run id and the text of its cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self._row: str | None = None
        self._cell: list[str] | None = None
        self.chart: dict[str, str | None] = {}
        self.canvases = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-run-id"):
            self._row = found["data-run-id"]
            self.rows[self._row or ""] = []
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif found.get("id") == "chart":
            self.chart = found
        elif tag == "canvas":
            self.canvases += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self.rows[self._row].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parsed(dom: str) -> Cells:
    cells = Cells()
    cells.feed(dom)
    return cells


def api(base: str, path: str) -> dict[str, object]:
    status, body = http_get(base + path)
    assert status == 200, body
    data: dict[str, object] = json.loads(body)
    return data


def test_the_status_page_in_chromium(
    simulator: SimulatorServer,
    webhook,
    write_config: Callable[..., Path],
    start_daemon: Callable[..., DaemonProcess],
    tmp_path: Path,
) -> None:
    """Every tracked run's full id and status in the DOM of `/`, a drawn progress chart on
    `/runs/ID`, at desktop and phone widths; screenshots in tmp_path."""
    sim = simulator.sim
    spec = "invoice-extract"
    # History: earlier runs of the spec that finished (their pace is the spec's median).
    done = sim.create_runs(
        4,
        outcomes=["SUCCEEDED"],
        processing_seconds=60,
        created_ago_seconds=600,
        spec_name=spec,
    )
    active = sim.create_runs(
        2, outcomes=["SUCCEEDED"], pending_seconds=0.5, processing_seconds=900, spec_name=spec
    )
    failed = sim.create_runs(1, outcomes=["FAILED"], processing_seconds=1, spec_name="qa-pairs")
    # A job of another kind, tracked by its reference: listed with its kind and full ref.
    evaluation = sim.add_evaluation(done[0].id, outcome="SUCCEEDED", processing_seconds=900)
    evaluation_ref = f"evaluation:{evaluation.id}"
    ids = [run.id for run in (*done, *active, *failed)] + [evaluation_ref]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = write_config(
        dataframer={"base_url": simulator.url},
        # A point on the curve per half second (the default writes progress every 30 s).
        poll={"interval": "300ms", "progress_every": "500ms"},
        track={"runs": ids},
        channels={"hook": webhook.url()},
        health={"listen": f"127.0.0.1:{port}"},
        ui={"enabled": True},
    )
    daemon = start_daemon(config)
    daemon.wait_event("started")
    target = active[0].id

    def curve_grew() -> bool:
        detail = api(base, "/api/runs/" + urllib.parse.quote(target))
        return len(detail["curve"]) >= 3 and detail["eta"] is not None  # type: ignore[arg-type]

    wait_for(curve_grew, what="three progress points and an ETA", timeout=60)

    def alerts_sent() -> bool:
        alerts = api(base, "/api/runs")["alerts"]
        return bool(alerts) and all(a["result"] == "sent" for a in alerts)  # type: ignore[attr-defined]

    wait_for(alerts_sent, what="the finished runs' alerts sent")

    raw = dump_dom(base + "/", tmp_path / "profile")
    dom = parsed(raw)
    # The script polled /api/runs and stamped the page: it updates without a reload.
    assert re.search(r'id="updated"[^>]*>updated ', raw), raw[:2000]
    overview = api(base, "/api/runs")
    statuses = {run["id"]: run["status"] for run in overview["runs"]}  # type: ignore[attr-defined]
    assert set(dom.rows) == set(ids) == set(statuses)
    for run_id in ids:
        cells = dom.rows[run_id]
        assert cells[0] == run_id  # the full id, never shortened
        assert cells[3].split()[0] == statuses[run_id]
        assert cells[1] == ("evaluation" if run_id == evaluation_ref else "run")
    assert statuses[failed[0].id] == "FAILED"
    assert re.search(r"in \d", dom.rows[target][6]), dom.rows[target]  # an ETA in the future
    assert "hook: ok" in raw  # the channel's health, by name
    kinds = {run["id"]: run["kind"] for run in overview["runs"]}  # type: ignore[attr-defined]
    assert kinds[evaluation_ref] == "evaluation"
    status, body = http_get(base + "/runs/" + urllib.parse.quote(evaluation_ref, safe=""))
    assert status == 200, body
    assert evaluation_ref in body

    page = base + "/runs/" + urllib.parse.quote(target)
    run_dom = parsed(dump_dom(page, tmp_path / "profile"))
    assert run_dom.canvases >= 1
    assert int(run_dom.chart["data-drawn"] or 0) >= 3  # uPlot drew the curve's points

    shots = tmp_path / "shots"
    shots.mkdir()
    for name, (width, height) in {"desktop": DESKTOP, "phone": PHONE}.items():
        screenshot(
            base + "/", shots / f"overview-{name}.png", tmp_path / "p", width=width, height=height
        )
        screenshot(page, shots / f"run-{name}.png", tmp_path / "p", width=width, height=height)
    assert sorted(p.name for p in shots.iterdir()) == [
        "overview-desktop.png",
        "overview-phone.png",
        "run-desktop.png",
        "run-phone.png",
    ]

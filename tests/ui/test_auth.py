"""HTTP basic auth for the status page, over the real listener off loopback, and the rule
that refuses an unprotected page there."""

from __future__ import annotations

import base64
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import DaemonProcess, free_port, http_get, wait_for, watcher_cli
from watcher.simulator import SimulatorServer
from watcher.ui.auth import CHALLENGE, Credentials, authorized

GOOD = Credentials("watcher", "s3cret-page-passw0rd")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (basic("watcher", "s3cret-page-passw0rd"), True),
        ("basic " + basic("watcher", "s3cret-page-passw0rd").split()[1], True),  # scheme any case
        (basic("watcher", "s3cret-page-passw0rd!"), False),
        (basic("watcher", "s3cret-page-passw0r"), False),
        (basic("admin", "s3cret-page-passw0rd"), False),
        (basic("", ""), False),
        ("Bearer s3cret-page-passw0rd", False),
        ("Basic !!!not-base64!!!", False),
        ("Basic " + base64.b64encode(b"no-colon").decode(), False),
        ("Basic", False),
        ("", False),
        (None, False),
    ],
)
def test_only_the_exact_user_and_password_pass(header: str | None, ok: bool) -> None:
    """Every malformed or wrong header is refused; the right one passes."""
    assert authorized(header, GOOD) is ok


def test_credentials_never_print_their_password() -> None:
    """A repr in a log or traceback shows the user, never the password."""
    assert "s3cret" not in repr(GOOD)


def outward_address() -> str:
    """This machine's address on its way out (not loopback), else 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent by a UDP connect
            address = str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"
    return address if not address.startswith("127.") else "127.0.0.1"


def get(url: str, authorization: str | None = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url)  # noqa: S310 (http:// to our own listener)
    if authorization is not None:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_off_loopback_the_page_asks_for_the_password(
    simulator: SimulatorServer,
    write_config: Callable[..., Path],
    start_daemon: Callable[..., DaemonProcess],
    tmp_path: Path,
) -> None:
    """Listening on 0.0.0.0 with ui.password_file: every page path is 401 with a challenge
    without the password or with a wrong one, 200 with it; the probes need none; the
    password is never in the log."""
    run = simulator.sim.create_runs(1, processing_seconds=600)[0]
    password = tmp_path / "ui-password"
    password.write_text("s3cret-page-passw0rd\n")
    port = free_port()
    config = write_config(
        dataframer={"base_url": simulator.url},
        poll={"interval": "300ms"},
        track={"runs": [run.id]},
        health={"listen": f"0.0.0.0:{port}"},
        ui={"enabled": True, "password_file": str(password)},
    )
    daemon = start_daemon(config)
    daemon.wait_event("started")
    base = f"http://{outward_address()}:{port}"
    right = basic("watcher", "s3cret-page-passw0rd")
    wrong = basic("watcher", "guess")
    wait_for(lambda: http_get(base + "/healthz")[0] == 200, what="the listener")
    for path in ("/", "/api/runs", f"/runs/{run.id}", f"/api/runs/{run.id}", "/static/page.js"):
        for header in (None, wrong):
            status, headers = get(base + path, header)
            assert status == 401, (path, header)
            assert headers["WWW-Authenticate"] == CHALLENGE
        assert get(base + path, right)[0] == 200, path
    assert get(base + "/readyz")[0] in (200, 503)  # a probe answers without a password
    assert get(base + "/metrics")[0] == 200
    daemon.terminate()
    assert "s3cret-page-passw0rd" not in daemon.log_path.read_text()


def test_off_loopback_without_a_password_file_the_config_is_refused(
    write_config: Callable[..., Path],
) -> None:
    """ui.enabled on 0.0.0.0 without ui.password_file: one line naming the key, exit 2, for
    `run` as for `check-config`."""
    config = write_config(health={"listen": "0.0.0.0:9464"}, ui={"enabled": True})
    for command in ("check-config", "run"):
        done = watcher_cli(config, command)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1
        assert "ui.password_file: required with ui.enabled" in lines[0]
        assert "0.0.0.0:9464" in lines[0]


@pytest.mark.parametrize(("content", "problem"), [("", "is empty"), (None, "cannot be read")])
def test_an_unusable_password_file_stops_the_daemon_with_one_line(
    write_config: Callable[..., Path], tmp_path: Path, content: str | None, problem: str
) -> None:
    """An empty or missing password file: exit 2, one line naming ui.password_file."""
    password = tmp_path / "pw"
    if content is not None:
        password.write_text(content)
    config = write_config(
        dataframer={"base_url": "http://127.0.0.1:9", "api_key": "k-0123456789"},
        health={"listen": f"0.0.0.0:{free_port()}"},
        ui={"enabled": True, "password_file": str(password)},
    )
    done = watcher_cli(config, "run")
    assert done.returncode == 2, done.stderr
    assert f"ui.password_file: {password} {problem}" in done.stderr.strip().splitlines()[-1]


def write_key(folder: Path) -> Path:
    key = folder / "api-key"
    key.write_text("k-0123456789\n")
    return key


def test_on_loopback_no_password_is_needed(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """127.0.0.1, ::1 and localhost are this machine only: the page may go without one."""
    for listen in ("127.0.0.1:9464", "[::1]:9464", "localhost:9464"):
        config = write_config(
            dataframer={"api_key_file": str(write_key(tmp_path))},
            health={"listen": listen},
            ui={"enabled": True},
        )
        done = watcher_cli(config, "check-config")
        assert done.returncode == 0, (listen, done.stderr)

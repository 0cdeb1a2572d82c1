"""sd_notify against real AF_UNIX datagram sockets, in-process and from the daemon subprocess."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from tests.support import API_KEY, NotifySocket, wait_for
from watcher.config import Settings
from watcher.service.daemon import Daemon
from watcher.service.sdnotify import Notifier, watchdog_interval
from watcher.simulator import SimulatorServer


@pytest.fixture(params=[False, True], ids=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest) -> Iterator[NotifySocket]:
    """A socket file, then an abstract-namespace socket ("@name")."""
    sock = NotifySocket(abstract=request.param)
    yield sock
    sock.close()


def test_every_message_arrives_as_systemd_reads_it(notify_socket: NotifySocket) -> None:
    """READY, STATUS, WATCHDOG, RELOADING (with MONOTONIC_USEC) and STOPPING, one datagram each."""
    notifier = Notifier.from_env({"NOTIFY_SOCKET": notify_socket.address})
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    assert notifier.ready("up")
    assert notifier.status("polling 3 runs")
    assert notifier.watchdog()
    assert notifier.reloading()
    assert notifier.stopping()
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    notify_socket.wait("STOPPING")

    messages = notify_socket.received()
    assert messages[:3] == [
        {"READY": "1", "STATUS": "up"},
        {"STATUS": "polling 3 runs"},
        {"WATCHDOG": "1"},
    ]
    assert messages[3]["RELOADING"] == "1"
    assert before <= int(messages[3]["MONOTONIC_USEC"]) <= after
    assert messages[4] == {"STOPPING": "1"}


def test_a_newline_cannot_forge_a_field(notify_socket: NotifySocket) -> None:
    """A status text with a newline (an error message, say) stays one STATUS= field."""
    Notifier(notify_socket.address).status("API down\nREADY=1")
    notify_socket.wait("STATUS")
    assert notify_socket.received() == [{"STATUS": "API down READY=1"}]


def test_without_notify_socket_nothing_is_sent() -> None:
    """Outside systemd the notifier is a no-op, not an error."""
    notifier = Notifier.from_env({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()


def test_a_dead_socket_is_logged_once_and_never_raises(tmp_path: Path) -> None:
    """Nobody listening: every send returns False; one warning, not one per ping."""
    notifier = Notifier(str(tmp_path / "nobody"))
    with capture_logs() as logs:
        assert not notifier.watchdog()
        assert not notifier.watchdog()
        assert not notifier.status("x")
    assert [entry["event"] for entry in logs] == ["sd_notify_failed"]


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "1000000"}, 0.5),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4243"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_usec_for_our_pid(
    environ: dict[str, str], expected: float | None
) -> None:
    """Ping at half the timeout, and only when the watchdog is ours (WATCHDOG_PID)."""
    assert watchdog_interval(environ, pid=4242) == expected


async def test_a_hung_loop_stops_the_pings(
    tmp_path: Path, simulator: SimulatorServer, notify_socket: NotifySocket
) -> None:
    """WATCHDOG=1 only while the loop's heartbeat is fresh and no tick hangs."""
    settings = Settings(
        dataframer={"base_url": simulator.url, "api_key": API_KEY},
        state={"path": str(tmp_path / "watcher.db")},
    )
    notifier = Notifier(notify_socket.address)
    async with Daemon.open(settings, config_path=None, notifier=notifier) as daemon:
        monitor = daemon.monitor
        with capture_logs() as logs:
            monitor.watchdog()
            monitor.vitals.heartbeat -= 60  # the one-second delivery job has not run for 60 s
            monitor.watchdog()
            monitor.watchdog()
            monitor.beat()
            monitor.tick_started()
            monitor.vitals.tick_started = (monitor.vitals.tick_started or 0) - 3600  # wedged
            wedged = monitor.liveness()
            monitor.watchdog()
            monitor.tick_ended()
            monitor.watchdog()

    Notifier(notify_socket.address).status("probe")
    notify_socket.wait("STATUS", "probe")  # datagrams arrive in order: all pings are in
    assert len(notify_socket.values("WATCHDOG")) == 2  # the first and the last call
    assert [entry["event"] for entry in logs] == ["watchdog_withheld"]  # once per episode
    assert "silent for 60s" in logs[0]["reason"]
    assert not wedged.ok
    assert "running for 3600s" in wedged.reason


def test_the_daemon_speaks_sd_notify(
    simulator: SimulatorServer, write_config, start_daemon, tmp_path: Path
) -> None:
    """READY=1 with a STATUS summary, WATCHDOG=1 pings, RELOADING=1 then READY=1 on SIGHUP,
    STOPPING=1 on SIGTERM, from the real daemon on a real socket."""
    sock = NotifySocket()
    try:
        simulator.sim.create_runs(outcomes=["SUCCEEDED"], processing_seconds=60)
        config = write_config(
            dataframer={"base_url": simulator.url},
            poll={"interval": "200ms"},
            track={"all": True},
        )
        daemon = start_daemon(config, NOTIFY_SOCKET=sock.address, WATCHDOG_USEC="1000000")
        sock.wait("READY", "1")
        wait_pings = len(sock.values("WATCHDOG")) + 2
        sock.wait("STATUS")
        daemon.wait_event("tick", at_least=3)
        statuses = sock.values("STATUS")
        assert any(s.startswith("polling 1 run, last tick 0 events, 0 pending") for s in statuses)
        wait_for(lambda: len(sock.values("WATCHDOG")) >= wait_pings, what="two more pings")

        readies = len(sock.values("READY"))
        daemon.proc.send_signal(signal.SIGHUP)
        sock.wait("RELOADING", "1")
        wait_for(lambda: len(sock.values("READY")) > readies, what="READY=1 after the reload")
        reload_at = next(i for i, m in enumerate(sock.received()) if "RELOADING" in m)
        reloading = sock.received()[reload_at]
        assert int(reloading["MONOTONIC_USEC"]) > 0
        assert any("READY" in m for m in sock.received()[reload_at + 1 :])

        assert daemon.terminate(signal.SIGTERM) == 0
        sock.wait("STOPPING", "1")
    finally:
        sock.close()

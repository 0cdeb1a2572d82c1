"""What the daemon tells its operator: systemd notifications, health probes and metrics.

The daemon reports each tick and delivery pass here; this module turns them into `Vitals`
(for /healthz and /readyz), Prometheus metrics, the STATUS= line and WATCHDOG=1 pings.
Everything here runs on the loop thread except the probes, which the health thread calls.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from watcher.config import HealthConfig, resolve_ui_password
from watcher.errors import ApiError, StateConflict, StateError
from watcher.logs import SCRUBBER
from watcher.pipeline import TickSummary
from watcher.redact import redact_text
from watcher.service.health import HealthServer, Verdict, Vitals, liveness, readiness
from watcher.service.metrics import Metrics
from watcher.service.sdnotify import Notifier
from watcher.ui import Credentials, Health, StatusPage

if TYPE_CHECKING:
    from watcher.service.runtime import Runtime

log = structlog.get_logger("watcher.service.monitor")


class Monitor:
    """Vitals, metrics, the health listener and the systemd notifier of one daemon.

    The vitals and metrics come from the daemon's owner, who made them before the runtime
    (the metrics observe the runtime's requests and deliveries from its first one).
    """

    def __init__(
        self, rt: Runtime, notifier: Notifier, *, vitals: Vitals, metrics: Metrics
    ) -> None:
        self.rt = rt
        self.notifier = notifier
        self.vitals = vitals
        self.metrics = metrics
        self.health: HealthServer | None = None
        self.page: StatusPage | None = None
        self.beats = 0  # one-second heartbeats since start
        self.last_tick: TickSummary | None = None
        self._outbox: dict[str, dict[str, int]] = {}
        self._watchdog_withheld = False

    def open_health(self, config: HealthConfig) -> None:
        """Bind the health listener (unless disabled), with the status page when `ui.enabled`;
        ListenError if the port is taken, ConfigError if the page's password cannot be read."""
        if config.enabled:
            self.page = self._status_page()
            self.health = HealthServer(
                config.host,
                config.port,
                live=self.liveness,
                ready=self.readiness,
                registry=self.metrics.registry,
                page=self.page,
            ).start()

    def _status_page(self) -> StatusPage | None:
        settings = self.rt.settings
        if not settings.ui.enabled:
            return None
        password = resolve_ui_password(settings)
        credentials = None if password is None else Credentials(settings.ui.username, password)
        return StatusPage(
            self.rt.store.path,
            health=self.page_health,
            # Read at each request: a reload that changes it applies at once.
            slow_below=lambda: self.rt.settings.alerts.slow_below,
            credentials=credentials,
        )

    def page_health(self) -> Health:
        """What the status page says of the API and the channels (names only)."""
        verdict = self.readiness()
        return Health(
            api_ok=verdict.ok,
            api_reason=verdict.reason,
            channels=sorted(self.rt.settings.channels),
            secrets=SCRUBBER.secrets,
        )

    def close(self) -> None:
        """Stop the health listener and the status page's reader."""
        if self.health is not None:
            self.health.stop()
        if self.page is not None:
            self.page.close()

    def liveness(self) -> Verdict:
        """/healthz."""
        return liveness(self.vitals, now=time.monotonic())

    def readiness(self) -> Verdict:
        """/readyz, against the poll interval in force now."""
        return readiness(
            self.vitals,
            now=time.monotonic(),
            interval=self.rt.settings.poll.interval,
            state_path=self.rt.store.path,
        )

    def beat(self) -> None:
        """The loop is alive (the one-second delivery job calls this)."""
        self.vitals.heartbeat = time.monotonic()
        self.beats += 1

    def tick_started(self) -> None:
        """A tick begins: a tick that never ends makes the loop count as hung."""
        self.vitals.tick_started = time.monotonic()

    def tick_ended(self) -> None:
        """A tick ended, either way."""
        self.vitals.tick_started = None
        self.beat()

    def tick_failed(self, outcome: str, exc: ApiError | StateError | StateConflict) -> None:
        """Count a failed tick ("failed", "unauthorized" or "rate_limited").

        Only a StateError says the state file cannot be written; a StateConflict (a `track`
        that kept landing mid-tick) took its write and leaves that verdict alone.
        """
        vitals = self.vitals
        vitals.failures += 1
        vitals.last_error = redact_text(str(exc), SCRUBBER.secrets)
        if isinstance(exc, StateError):
            vitals.state_error = vitals.last_error
        self.metrics.tick(outcome, vitals.failures)
        self.notifier.status(self.status_text())

    def tick_succeeded(self, summary: TickSummary) -> None:
        """Count a successful tick and refresh what is read from the state file."""
        vitals = self.vitals
        # The tick committed to the state file: it is writable again.
        vitals.failures, vitals.last_error, vitals.state_error = 0, None, None
        vitals.last_ok, vitals.last_ok_wall = time.monotonic(), time.time()
        self.last_tick = summary
        self.metrics.tick("ok", 0)
        self.metrics.transitions_seen(summary.kind_transitions)
        self.metrics.tick_read(summary.plan, summary.written)
        self.refresh(runs=True)

    def drained(self, *, changed: bool, error: StateError | None = None) -> None:
        """After a delivery pass: count deliveries; refresh the outbox if it changed."""
        if error is not None:
            self.vitals.state_error = redact_text(str(error), SCRUBBER.secrets)
        if changed:
            self.refresh(runs=False)

    def refresh(self, *, runs: bool) -> None:
        """Update the gauges read from the state file, and the systemd status line."""
        try:
            if runs:
                self.metrics.run_statuses(self.rt.store.status_counts())
            self._outbox = self.rt.store.delivery_counts()
        except StateError as exc:
            log.warning("state_read_failed", error=str(exc))
        else:
            self.metrics.outbox(self._outbox)
        self.notifier.status(self.status_text())

    def status_text(self) -> str:
        """The one-line STATUS= for systemd: the last tick's summary, or the last error."""
        if self.vitals.failures:
            return f"poll failing ({self.vitals.failures} in a row): {self.vitals.last_error}"
        tick = self.last_tick
        if tick is None:
            return "starting"
        pending = sum(c.get("pending", 0) + c.get("retrying", 0) for c in self._outbox.values())
        dead = sum(c.get("dead", 0) for c in self._outbox.values())
        return (
            f"polling {tick.tracked_active} run{'s' * (tick.tracked_active != 1)}, "
            f"last tick {tick.events} event{'s' * (tick.events != 1)}, "
            f"{pending} pending deliver{'y' if pending == 1 else 'ies'}"
            + (f", {dead} dead" if dead else "")
        )

    def watchdog(self) -> None:
        """The watchdog job: WATCHDOG=1 only while the loop's other jobs run and no tick hangs.

        It runs on the loop it vouches for, so a blocked loop sends nothing either.
        """
        verdict = self.liveness()
        if verdict.ok:
            self.notifier.watchdog()
            self._watchdog_withheld = False
        elif not self._watchdog_withheld:
            self._watchdog_withheld = True
            log.error("watchdog_withheld", reason=verdict.reason)

"""Prometheus metrics, in a registry of their own (no global state: a test may run several daemons).

The loop thread updates them after each tick and each delivery pass, and as each API request
and delivery try ends (`Metrics` is the runtime's observer); the health thread only renders
them. Every name starts with `dataframer_watcher_`; the README lists them all.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from watcher import __version__

PREFIX = "dataframer_watcher_"
TICK_OUTCOMES = ("ok", "failed", "unauthorized", "rate_limited")
DELIVERY_OUTCOMES = ("sent", "failed", "dead")
FETCH_PLANS = ("list", "each")
KNOWN_STATUSES = ("PENDING", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELED")
# API latency: the default timeout is 10 s, and a healthy list read of 10,000 runs is ~0.5 s.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The watcher's metrics and the registry /metrics renders."""

    def __init__(
        self, *, poll_age: Callable[[], float], last_ok_wall: Callable[[], float | None]
    ) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        Info(PREFIX + "build", "Version of the watcher and of Python.", registry=reg).info(
            {"version": __version__, "python": platform.python_version()}
        )
        self.ticks = Counter(PREFIX + "ticks", "Poll ticks by outcome.", ["outcome"], registry=reg)
        for outcome in TICK_OUTCOMES:
            self.ticks.labels(outcome)
        self.api_latency = Histogram(
            PREFIX + "api_request_duration_seconds",
            "Dataframer API request latency, errors and timeouts included.",
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.runs = Gauge(
            PREFIX + "runs",
            "Watched runs by kind and last known status.",
            ["kind", "status"],
            registry=reg,
        )
        # Every (kind, status) ever set stays listed (at 0 once no run has it), so series
        # never vanish; generation runs' known statuses are there from the start.
        self._statuses: set[tuple[str, str]] = {("run", status) for status in KNOWN_STATUSES}
        self.transitions = Counter(
            PREFIX + "transitions",
            "Status changes recorded, by kind and new status.",
            ["kind", "to_status"],
            registry=reg,
        )
        self.deliveries = Counter(
            PREFIX + "deliveries",
            "Delivery attempts by channel and outcome.",
            ["channel", "outcome"],
            registry=reg,
        )
        self.outbox_pending = Gauge(
            PREFIX + "outbox_pending",
            "Deliveries waiting to be sent (new or retrying), by channel.",
            ["channel"],
            registry=reg,
        )
        self.outbox_dead = Gauge(
            PREFIX + "outbox_dead",
            "Dead-lettered deliveries, by channel.",
            ["channel"],
            registry=reg,
        )
        Gauge(
            PREFIX + "seconds_since_last_successful_poll",
            "Seconds since the last successful poll ended (+Inf before the first).",
            registry=reg,
        ).set_function(poll_age)
        Gauge(
            PREFIX + "last_successful_poll_timestamp_seconds",
            "Unix time the last successful poll ended (0 before the first).",
            registry=reg,
        ).set_function(lambda: last_ok_wall() or 0.0)
        self.failures = Gauge(
            PREFIX + "poll_consecutive_failures",
            "Failed poll ticks since the last successful one.",
            registry=reg,
        )
        self.fetch_plan = Gauge(
            PREFIX + "fetch_plan",
            "How the last tick read the explicit runs: 1 on the plan it chose (list or each).",
            ["plan"],
            registry=reg,
        )
        self.fetch_plans = Counter(
            PREFIX + "fetch_plans",
            "Ticks by how they read the explicit runs (list or each).",
            ["plan"],
            registry=reg,
        )
        for plan in FETCH_PLANS:
            self.fetch_plan.labels(plan)
            self.fetch_plans.labels(plan)
        self.rows_written = Counter(
            PREFIX + "run_rows_written",
            "Run rows the ticks wrote: the runs that changed, not every run observed.",
            registry=reg,
        )
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        GCCollector(registry=reg)
        self._channels: set[str] = set()
        self._delivery_channels: set[str] = set()

    def tick(self, outcome: str, failures: int) -> None:
        """Count one tick; `failures` is the streak after it."""
        self.ticks.labels(outcome).inc()
        self.failures.set(failures)

    def tick_read(self, plan: str | None, written: int) -> None:
        """A tick's fetch plan (None: discovery, nothing to choose) and the rows it wrote."""
        self.rows_written.inc(written)
        if plan is None:
            return
        self.fetch_plans.labels(plan).inc()
        for known in FETCH_PLANS:
            self.fetch_plan.labels(known).set(1 if known == plan else 0)

    def api_request(self, seconds: float) -> None:
        """Observe one API request's duration (the API client calls this after each)."""
        self.api_latency.observe(seconds)

    def run_statuses(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Set the watched-runs gauge from (kind, status) counts; a pair no run has any more
        drops to 0."""
        self._statuses.update(counts)
        for kind, status in self._statuses:
            self.runs.labels(kind, status).set(counts.get((kind, status), 0))

    def transitions_seen(self, by_kind_status: Mapping[tuple[str, str], int]) -> None:
        """Count one tick's status changes, by (kind, new status)."""
        for (kind, status), count in by_kind_status.items():
            self.transitions.labels(kind, status).inc(count)

    def delivery(self, channel: str, outcome: str) -> None:
        """Count one delivery attempt as it is acked: sent, failed (will retry) or dead."""
        if channel not in self._delivery_channels:
            self._delivery_channels.add(channel)
            for known in DELIVERY_OUTCOMES:  # every series of a channel exists from its first try
                self.deliveries.labels(channel, known)
        self.deliveries.labels(channel, outcome).inc()

    def outbox(self, counts: Mapping[str, Mapping[str, int]]) -> None:
        """Set the outbox gauges from Store.delivery_counts() (channel -> status -> n)."""
        self._channels.update(counts)
        for channel in self._channels:
            per = counts.get(channel, {})
            self.outbox_pending.labels(channel).set(per.get("pending", 0) + per.get("retrying", 0))
            self.outbox_dead.labels(channel).set(per.get("dead", 0))

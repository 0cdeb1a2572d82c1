"""The service around the pipeline: the daemon, its runtime, reload, and what the operator sees.

`daemon` (APScheduler jobs, signals), `drains` (a delivery task per channel), `runtime` (opens,
owns and closes the parts), `reload` (SIGHUP), `monitor` (vitals, metrics, systemd status),
`health` (the probes' listener), `metrics`, `sdnotify`.
"""

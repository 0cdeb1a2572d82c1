"""What the tests share: real loopback peers, the watcher as a process, fakes and helpers.

- the webhook sink (from the package, as the demo and the benchmarks use it) and, in `peers`,
  an SMTP server, a NOTIFY_SOCKET, `free_port` and `http_get`;
- `process`: a clean environment, the daemon as a subprocess, the CLI as a user runs it;
- `fakes`: a clock moved by hand and an in-memory outbox;
- `alerts`: which runs an alert text names, and their status lines;
- `statefile`: a state file's deliveries; `files`: writing and freezing files;
- `waiting`: bounded waits.
"""

from watcher.simulator import HANG, Answer, SinkRequest, WebhookSink

from .alerts import run_ids_in, statuses_in
from .fakes import START, FakeOutbox, ManualClock
from .files import can_make_immutable, immutable, write
from .peers import NotifySocket, SmtpSink, free_port, http_get
from .process import API_KEY, ROOT, DaemonProcess, clean_env, cli, watcher_cli
from .statefile import pending_deliveries, state_deliveries
from .waiting import wait_for

__all__ = [
    "API_KEY",
    "HANG",
    "ROOT",
    "START",
    "Answer",
    "DaemonProcess",
    "FakeOutbox",
    "ManualClock",
    "NotifySocket",
    "SinkRequest",
    "SmtpSink",
    "WebhookSink",
    "can_make_immutable",
    "clean_env",
    "cli",
    "free_port",
    "http_get",
    "immutable",
    "pending_deliveries",
    "run_ids_in",
    "state_deliveries",
    "statuses_in",
    "wait_for",
    "watcher_cli",
    "write",
]

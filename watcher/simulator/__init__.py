"""The simulated world the demo, tests and benchmarks use: the Dataframer API, and a webhook.

A Dataframer API simulator: the runs endpoints, a lifecycle on its own clock, and faults.
``SimulatorServer`` serves it over real HTTP (tests, benchmarks, the demo); ``serve`` runs it
in the foreground (``dataframer-watcher simulate``); ``handle`` and ``mock_transport`` answer
requests in-process.

``WebhookSink`` is the other side: an HTTP server behind apprise's json:// URL that records
the alerts it receives and answers from a plan (a status, a delay, or a hang until released).
"""

from .app import handle, mock_transport
from .catalog import PlanDefaults
from .engine import ManualClock, NotCancelable, RunNotFound, Simulator
from .faults import Fault, FaultSpecError
from .messages import SimRequest, SimResponse
from .model import DETAIL_FIELDS, LIST_FIELDS, STATUSES, Clock, RunPlan, RunState, SimRun
from .scenario import DEMO_SETTLES_AFTER, demo_scenario
from .server import SimulatorServer, serve
from .sink import HANG, Answer, SinkRequest, WebhookSink, run_ids_in

__all__ = [
    "DEMO_SETTLES_AFTER",
    "DETAIL_FIELDS",
    "HANG",
    "LIST_FIELDS",
    "STATUSES",
    "Answer",
    "Clock",
    "Fault",
    "FaultSpecError",
    "ManualClock",
    "NotCancelable",
    "PlanDefaults",
    "RunNotFound",
    "RunPlan",
    "RunState",
    "SimRequest",
    "SimResponse",
    "SimRun",
    "Simulator",
    "SimulatorServer",
    "SinkRequest",
    "WebhookSink",
    "demo_scenario",
    "handle",
    "mock_transport",
    "run_ids_in",
    "serve",
]

"""A Dataframer API simulator: the runs endpoints, a lifecycle on its own clock, and faults.

``SimulatorServer`` serves it over real HTTP (tests, benchmarks, the demo); ``serve`` runs it
in the foreground (``dataframer-watcher simulate``); ``handle`` and ``mock_transport`` answer
requests in-process.
"""

from .app import handle, mock_transport
from .catalog import PlanDefaults
from .engine import ManualClock, NotCancelable, RunNotFound, Simulator
from .faults import Fault, FaultSpecError
from .messages import SimRequest, SimResponse
from .model import DETAIL_FIELDS, LIST_FIELDS, STATUSES, Clock, RunPlan, RunState, SimRun
from .scenario import DEMO_SETTLES_AFTER, demo_scenario
from .server import SimulatorServer, serve

__all__ = [
    "DEMO_SETTLES_AFTER",
    "DETAIL_FIELDS",
    "LIST_FIELDS",
    "STATUSES",
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
    "demo_scenario",
    "handle",
    "mock_transport",
    "serve",
]

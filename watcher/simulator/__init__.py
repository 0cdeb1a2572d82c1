"""The simulated world the demo, tests and benchmarks use: the Dataframer API, and a webhook.

A Dataframer API simulator: generation runs, evaluations, red-team runs and anonymization
runs on one lifecycle and their own clock, the file downloads (presigned URLs served by the
simulator itself), and faults. ``SimulatorServer`` serves it over real HTTP (tests,
benchmarks, the demo); ``serve`` runs it in the foreground (``dataframer-watcher simulate``);
``handle`` and ``mock_transport`` answer requests in-process.

``WebhookSink`` is the other side: an HTTP server behind apprise's json:// URL that records
the alerts it receives and answers from a plan (a status, a delay, or a hang until released).
"""

from .app import SimTransport, handle, mock_transport
from .catalog import PlanDefaults
from .engine import ManualClock, NotCancelable, NotSucceeded, RunNotFound, Simulator
from .faults import Fault, FaultSpecError
from .files import URL_TTL_SECONDS, FileSpec, file_content
from .kinds import SimAnonymizationRun, SimEvaluation, SimRedTeamRun
from .lifecycle import KINDS, Job, Kind, Phase
from .messages import SimRequest, SimResponse
from .model import DETAIL_FIELDS, LIST_FIELDS, STATUSES, Clock, RunPlan, RunState, SimRun
from .scenario import DEMO_SETTLES_AFTER, demo_scenario
from .server import SimulatorServer, serve
from .sink import HANG, Answer, SinkRequest, WebhookSink, run_ids_in

__all__ = [
    "DEMO_SETTLES_AFTER",
    "DETAIL_FIELDS",
    "HANG",
    "KINDS",
    "LIST_FIELDS",
    "STATUSES",
    "URL_TTL_SECONDS",
    "Answer",
    "Clock",
    "Fault",
    "FaultSpecError",
    "FileSpec",
    "Job",
    "Kind",
    "ManualClock",
    "NotCancelable",
    "NotSucceeded",
    "Phase",
    "PlanDefaults",
    "RunNotFound",
    "RunPlan",
    "RunState",
    "SimAnonymizationRun",
    "SimEvaluation",
    "SimRedTeamRun",
    "SimRequest",
    "SimResponse",
    "SimRun",
    "SimTransport",
    "Simulator",
    "SimulatorServer",
    "SinkRequest",
    "WebhookSink",
    "demo_scenario",
    "file_content",
    "handle",
    "mock_transport",
    "run_ids_in",
    "serve",
]

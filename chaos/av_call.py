"""A consultation's audio call, set up as a patient's and a doctor's apps set it up, carried while a drill runs.

Both ends get their ICE servers (and short-lived TURN credentials) from the service's ``/v1/av-sessions``
for one booking between a drill patient and a drill doctor; the call then runs in a thread of its own
(``harness.core.media_call``) while the drill's probes ask, each round, whether media still flows.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import threading
import uuid

from harness.core.http_json import write_through_uplinks
from harness.core.media_call import CallReport, IceServer, MediaCall
from harness.core.outputs import StackOutputs
from harness.core.service_sessions import ADMIN, session_for
from harness.core.waiting import WaitTimeoutError, wait_for
from loadtests.identities import mobile, resident_id

SETUP_TIMEOUT_S = 5.0
MEDIA_FLOWS_WITHIN_S = 10.0


class CallSetupError(RuntimeError):
    """The call could not be set up: the service left out the node, or no media flowed through it."""


def call_ice_servers(outputs: StackOutputs, rng: random.Random) -> tuple[list[IceServer], list[IceServer]]:
    """(patient's, doctor's) ICE servers for one new booking, each from ``POST /v1/av-sessions`` with its session."""
    write = functools.partial(write_through_uplinks, outputs, timeout_s=SETUP_TIMEOUT_S)
    admin = session_for(outputs, ADMIN, ttl_s=300)
    patient = write("/v1/patients", {"name": "演练患者 drill patient", "id_number": resident_id(rng),
                                     "mobile": mobile(rng)})
    doctor = write("/v1/doctors", {"name": "演练医生 drill doctor", "department": "全科",
                                   "license_no": f"D{uuid.uuid4().hex[:10]}"}, admin)
    slot = dt.datetime(2031, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=15 * rng.randint(0, 500_000))
    patient_token = patient["session_token"]
    booking = write("/v1/bookings", {"patient_id": patient["patient_id"], "doctor_id": doctor["doctor_id"],
                                     "slot": slot.isoformat()}, patient_token)
    doctor_token = session_for(outputs, f"doctor:{doctor['doctor_id']}", ttl_s=300)
    legs = [write("/v1/av-sessions", {"booking_id": booking["booking_id"]}, token)["ice_servers"]
            for token in (patient_token, doctor_token)]
    return ([IceServer.from_service(s) for s in legs[0]], [IceServer.from_service(s) for s in legs[1]])


class RunningCall:
    """A call carried in a thread of its own until ``finish`` stops it and returns its report."""

    def __init__(self, call: MediaCall, duration_s: float) -> None:
        self.call = call
        self.result: list[CallReport] = []
        self.thread = threading.Thread(target=lambda: self.result.append(call.run(duration_s)), daemon=True,
                                       name="media-call")
        self.thread.start()

    def finish(self, timeout_s: float = 10.0) -> CallReport | None:
        self.call.stop.set()
        self.thread.join(timeout=timeout_s)
        return self.result[0] if self.result else None


def start_call(outputs: StackOutputs, rng: random.Random, through: int, duration_s: float,
               restart_after_s: float) -> RunningCall:
    """Set a call up through the service and start carrying it through the stack's TURN node number ``through``."""
    node = outputs.av_nodes[through].name
    patient, doctor = call_ice_servers(outputs, rng)
    start = next((i for i, server in enumerate(patient) if server.node == node), None)
    if start is None:
        raise CallSetupError(f"the service's ICE servers ({', '.join(s.node for s in patient)}) do not include {node}")
    running = RunningCall(MediaCall(patient, doctor, start=start, restart_after_s=restart_after_s), duration_s)
    # streaming before the drill goes on: a fault's share of the call then covers its whole hold
    try:
        wait_for("the call's media to flow both ways", lambda: running.call.flowing() or not running.thread.is_alive(),
                 timeout=MEDIA_FLOWS_WITHIN_S, interval=0.05)
    except WaitTimeoutError as exc:
        report = running.finish()
        raise CallSetupError(f"no media flowed both ways through {node} within {MEDIA_FLOWS_WITHIN_S:g} s"
                             + (f": {report.dropped}" if report and report.dropped else "")) from exc
    return running

"""Patient and doctor personas of the reference service, through both uplinks.

Run it with ``harness load`` (which reads the uplinks from the stack outputs), or as Locust users start
it: ``locust -f loadtests/locustfile.py`` reads the current stack's outputs (``IHH_STACK``, default
``local``) for the uplinks, the CA and the administrator's session, when ``--ihh-uplinks`` is not given;
``--ihh-uplinks unicom=https://...,telecom=https://... --ihh-ca-cert CA --ihh-admin-session-file FILE``
name them instead. HTTPS is verified against that CA, as a patient's app would. Patients and doctors act
with the session their registration opened; doctors are registered by the hospital administrator, whose
session the harness mints (into a 0600 file when it starts Locust, in memory when Locust reads the stack).
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from pathlib import Path
from typing import Any

import gevent
from gevent import ssl as gevent_ssl
from locust import FastHttpUser, between, events, task
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from loadtests.failover import FailoverClient, RequestLog, RetryBudget, expect
from loadtests.identities import mobile, resident_id

TRAIL_ACTIONS = ("patient.register", "booking.create", "booking.confirm", "consultation.record",
                 "prescription.issue", "follow_up.schedule")
_log: RequestLog | None = None
_doctors: list[int] = []
_homes = itertools.count()
_trusted_ca: list[str] = []
_admin_session: list[str] = []
_options: list[Any] = []
"""The parsed command line, once the test starts (for listeners that are given no environment)."""
"""The administrator's session token, read once from --ihh-admin-session-file."""
"""The CA file named by --ihh-ca-cert, set once the command line is parsed (users are made after that)."""


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument("--ihh-uplinks", default="", help="name=url,name=url of the stack's uplinks")
    parser.add_argument("--ihh-log-dir", default="loadtest-out", help="where per-request logs are written")
    parser.add_argument("--ihh-max-requests", type=int, default=0, help="stop after this many requests (0: no cap)")
    parser.add_argument("--ihh-run-tag", default="manual", help="tag in synthetic patients' names")
    parser.add_argument("--ihh-ca-cert", default="", help="CA that signs the uplinks' certificates (the stack's)")
    parser.add_argument("--ihh-admin-session-file", default="",
                        help="file holding the administrator's session token (registers doctors)")
    parser.add_argument("--ihh-users-file", default="",
                        help="file holding the number of users wanted now; re-read twice a second (one run "
                             "shared by a series of drills, each with its own load)")


@events.init.add_listener
def _trust(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    if options is not None and not options.ihh_uplinks:
        _from_current_stack(options)
        environment.host = environment.host or uplinks(environment)[0][1]
    ca = options.ihh_ca_cert if options else ""
    _trusted_ca[:] = [ca] if ca else []
    session_file = options.ihh_admin_session_file if options else ""
    if session_file:
        _admin_session[:] = [Path(session_file).read_text().strip()]


def _from_current_stack(options: Any) -> None:
    """``locust -f`` alone: the uplinks, CA and administrator of the stack the harness brought up last."""
    from harness.core.outputs import StackOutputs
    from harness.core.paths import DEFAULT_STACK
    from harness.core.service_sessions import ADMIN, session_for
    from loadtests.runner import uplink_arg

    outputs = StackOutputs.load(DEFAULT_STACK)  # a stack never brought up says so, naming it
    options.ihh_uplinks = uplink_arg(outputs)
    options.ihh_ca_cert = options.ihh_ca_cert or str(outputs.ca_cert_path)
    if not options.ihh_admin_session_file:
        _admin_session[:] = [session_for(outputs, ADMIN, ttl_s=12 * 3600)]


def verified_tls() -> Any:
    """TLS 1.2+ with the certificate checked against the stack's CA (or the system's, without --ihh-ca-cert)."""
    context = gevent_ssl.create_default_context(cafile=_trusted_ca[0] if _trusted_ca else None)
    context.minimum_version = gevent_ssl.TLSVersion.TLSv1_2
    return context


def uplinks(environment: Environment) -> list[tuple[str, str]]:
    raw = environment.parsed_options.ihh_uplinks if environment.parsed_options else ""
    pairs = [item.split("=", 1) for item in raw.split(",") if item]
    if not pairs or any(len(p) != 2 or not p[1].startswith("http") for p in pairs):
        raise ValueError(f"--ihh-uplinks: expected name=https://host:port,... got {raw!r}")
    return [(name, url.rstrip("/")) for name, url in pairs]


def request_log(environment: Environment) -> RequestLog:
    global _log  # one log per process, shared by its users
    if _log is None:
        _log = RequestLog(Path(environment.parsed_options.ihh_log_dir))
    return _log


@events.test_start.add_listener
def _cap_requests(environment: Environment, **_: Any) -> None:
    """The master (or the lone local runner) stops the run once the request cap is reached."""
    cap = environment.parsed_options.ihh_max_requests if environment.parsed_options else 0
    if cap <= 0 or isinstance(environment.runner, WorkerRunner):
        return

    def watch() -> None:
        while environment.runner.state not in ("stopped", "quitting"):
            if environment.stats.total.num_requests >= cap:
                print(f"request cap {cap} reached: stopping", flush=True)
                environment.runner.quit()
                return
            gevent.sleep(0.25)
    gevent.spawn(watch)


@events.test_start.add_listener
def _follow_users_file(environment: Environment, **_: Any) -> None:
    """With --ihh-users-file, the user count follows the file (the master or the lone runner rescales)."""
    _options[:] = [environment.parsed_options] if environment.parsed_options else []
    path = environment.parsed_options.ihh_users_file if environment.parsed_options else ""
    if not path or isinstance(environment.runner, WorkerRunner):
        return

    def follow() -> None:
        current = None
        while environment.runner.state not in ("stopped", "quitting"):
            try:
                wanted = int(Path(path).read_text().strip() or "0")
            except (OSError, ValueError):
                wanted = current
            if wanted is not None and wanted != current and environment.runner.state != "spawning":
                environment.runner.start(wanted, spawn_rate=max(1, wanted))
                current = wanted
            gevent.sleep(0.5)
    gevent.spawn(follow)


@events.spawning_complete.add_listener
def _report_users(user_count: int, **_: Any) -> None:
    """With --ihh-users-file: the count now running, written beside it (``<file>.applied``) for the harness."""
    options = _options[0] if _options else None
    if options is not None and options.ihh_users_file:
        Path(f"{options.ihh_users_file}.applied").write_text(str(user_count))


@events.quitting.add_listener
def _close_log(environment: Environment, **_: Any) -> None:
    if _log is not None and not isinstance(environment.runner, MasterRunner):
        _log.close()


class Persona(FastHttpUser):
    """What both personas share: the failover client, on a home uplink taken in turn."""

    abstract = True
    insecure = False
    ssl_context_factory = staticmethod(verified_tls)
    network_timeout = 5.0
    connection_timeout = 2.0
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.api = FailoverClient(self.client, uplinks(self.environment), next(_homes),
                                  request_log(self.environment), RetryBudget())
        self.tag = self.environment.parsed_options.ihh_run_tag

    def register_doctor(self) -> tuple[int, str] | None:
        """A new doctor and the session registration opened for them; None without an administrator's session."""
        if not _admin_session:
            return None
        licence = f"LT{self.rng.randrange(10**12):012d}"
        out = self.api.call("POST", "/v1/doctors", "POST /v1/doctors",
                            expect(201, 409, fields=("doctor_id", "session_token")),
                            session=_admin_session[0], write=True,
                            payload={"name": f"{self.tag} 医生", "license_no": licence, "department": "全科"})
        if out.ok and out.status == 201:
            _doctors.append(out.body["doctor_id"])
            return out.body["doctor_id"], out.body["session_token"]
        return None


class PatientUser(Persona):
    """Registers, books, checks the booking, joins the video visit, reads its record."""

    weight = 3

    def on_start(self) -> None:
        super().on_start()
        self.patient_id: int | None = None
        self.session = ""
        self.bookings: list[int] = []
        self.register()

    def register(self) -> None:
        out = self.api.call(
            "POST", "/v1/patients", "POST /v1/patients", expect(201, 409, fields=("patient_id", "session_token")),
            write=True,
            payload={"name": f"{self.tag} 患者", "id_number": resident_id(self.rng), "mobile": mobile(self.rng)},
        )
        if out.ok and out.status == 201:
            self.patient_id, self.session = out.body["patient_id"], out.body["session_token"]

    @task(4)
    def book_and_join(self) -> None:
        if self.patient_id is None:
            self.register()
            return
        doctor = self.rng.choice(_doctors) if _doctors else (self.register_doctor() or (None, ""))[0]
        if doctor is None:
            return
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        slot = now - dt.timedelta(minutes=now.minute % 15) + dt.timedelta(minutes=15 * self.rng.randint(4, 400_000))
        out = self.api.call("POST", "/v1/bookings", "POST /v1/bookings", expect(201, 409, fields=("booking_id",)),
                            session=self.session, write=True,
                            payload={"patient_id": self.patient_id, "doctor_id": doctor, "slot": slot.isoformat()})
        if not out.ok or out.status != 201:
            return
        booking = out.body["booking_id"]
        self.bookings.append(booking)
        self.api.call("GET", f"/v1/bookings/{booking}", "GET /v1/bookings/[id]",
                      expect(200, fields=("status", "slot")), session=self.session)
        self.api.call("POST", "/v1/av-sessions", "POST /v1/av-sessions", _ice_check, session=self.session, write=True,
                      payload={"booking_id": booking})

    @task(1)
    def read_record(self) -> None:
        if self.bookings:
            booking = self.rng.choice(self.bookings)
            self.api.call("GET", f"/v1/bookings/{booking}/trail", "GET /v1/bookings/[id]/trail",
                          expect(200, fields=("steps",)), session=self.session)


class DoctorUser(Persona):
    """Takes the next booked patient: confirms, consults, prescribes, schedules a follow-up, checks the trail."""

    weight = 1

    def on_start(self) -> None:
        super().on_start()
        self.doctor_id, self.session = self.register_doctor() or (None, "")

    @task
    def see_next_patient(self) -> None:
        if self.doctor_id is None:
            self.doctor_id, self.session = self.register_doctor() or (None, "")
            return
        out = self.api.call("GET", f"/v1/doctors/{self.doctor_id}/bookings?status=booked",
                            "GET /v1/doctors/[id]/bookings", expect(200, fields=("bookings",)), session=self.session)
        if not out.ok or not out.body["bookings"]:
            return
        booking = out.body["bookings"][0]["booking_id"]
        out = self.api.call("POST", f"/v1/bookings/{booking}/confirm", "POST /v1/bookings/[id]/confirm",
                            expect(200, fields=("status",)), session=self.session, write=True)
        if not out.ok:
            return
        out = self.api.call("POST", "/v1/consultations", "POST /v1/consultations",
                            expect(201, fields=("consultation_id",)), session=self.session, write=True,
                            payload={"booking_id": booking, "note": "主诉：咳嗽三天。Cough for three days."})
        if not out.ok:
            return
        consultation = out.body["consultation_id"]
        self.api.call("POST", f"/v1/consultations/{consultation}/prescriptions",
                      "POST /v1/consultations/[id]/prescriptions", expect(201, fields=("prescription_id",)),
                      session=self.session, write=True,
                      payload={"items": [{"drug": "氨溴索 Ambroxol", "dose": "30 mg tid", "days": 5}]})
        due = (dt.date.today() + dt.timedelta(days=7)).isoformat()
        self.api.call("POST", f"/v1/consultations/{consultation}/follow-ups",
                      "POST /v1/consultations/[id]/follow-ups", expect(201, fields=("follow_up_id",)),
                      session=self.session, write=True, payload={"due_date": due, "reason": "复诊 review"})
        self.api.call("GET", f"/v1/bookings/{booking}/trail", "GET /v1/bookings/[id]/trail", _trail_check,
                      session=self.session)


def _ice_check(status: int, body: Any) -> str | None:
    problem = expect(201, fields=("ice_servers", "ttl"))(status, body)
    if problem:
        return problem
    servers = body["ice_servers"]
    if len(servers) < 2 or any(not s.get("username") or not s.get("credential") or not s.get("urls") for s in servers):
        return f"expected TURN credentials for at least two A/V nodes, got {len(servers)}"
    return None


def _trail_check(status: int, body: Any) -> str | None:
    """TM-5.4: a finished consultation's trail has every step, in order."""
    problem = expect(200, fields=("steps",))(status, body)
    if problem:
        return problem
    actions = [s["action"] for s in body["steps"] if s["action"] in TRAIL_ACTIONS]
    if actions != list(TRAIL_ACTIONS):
        return f"audit trail out of order or incomplete: {actions}"
    return None

"""HTTP JSON API: routes, idempotent writes, and errors that name the field and the rule."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sys
import syslog
import traceback
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from ihh_service import flows, sessions, validation
from ihh_service.flows import Caller, Result
from ihh_service.store import DatabaseUnavailableError, Pool
from ihh_service.turn import ice_servers
from ihh_service.validation import InputError

NODE = socket.gethostname()
T = TypeVar("T")
syslog.openlog("ihh-service", 0, syslog.LOG_LOCAL1)
MAX_BODY = 64 * 1024
Flow = Callable[[psycopg.Connection, Caller, re.Match[str], Any], Result]


class Service:
    """What the handlers share: the pool, the A/V nodes, the TURN secret and the session key."""

    def __init__(self, config: dict[str, Any], pool: Pool) -> None:
        self.pool = pool
        self.av_nodes: list[dict[str, str]] = config["av_nodes"]
        self.turn_secret = Path(config["turn_secret_file"]).read_text().strip()
        self.session_key = Path(config["session_key_file"]).read_text().strip()
        self.supervision: dict[str, Any] | None = config.get("supervision")
        self.schema_applied = False

    def readiness(self) -> Result:
        if not self.schema_applied:
            return 503, {"ready": False, "error": "schema not applied yet", "node": NODE}
        try:
            in_recovery = self.pool.transaction(
                lambda conn: conn.execute("SELECT pg_is_in_recovery()").fetchone()[0], budget=2.0
            )
        except DatabaseUnavailableError as exc:
            return 503, {"ready": False, "error": str(exc), "node": NODE}
        return (503 if in_recovery else 200), {"ready": not in_recovery, "node": NODE}


def _write(flow: Callable[..., Result], parse: Callable[[Any], dict[str, Any]] | None, *groups: str) -> Flow:
    """A POST route: validated body, then the flow with the path's record ids."""
    def run(conn: psycopg.Connection, caller: Caller, match: re.Match[str], body: Any) -> Result:
        ids = [int(match.group(g)) for g in groups]
        args = [*ids, parse(body)] if parse else ids
        return flow(conn, caller, *args)
    return run


def _read(flow: Callable[..., Result], *groups: str) -> Flow:
    def run(conn: psycopg.Connection, caller: Caller, match: re.Match[str], body: Any) -> Result:
        return flow(conn, caller, *[int(match.group(g)) for g in groups])
    return run


WRITES: list[tuple[re.Pattern[str], Flow]] = [
    (re.compile(r"^/v1/patients$"), _write(flows.register_patient, validation.patient_registration)),
    (re.compile(r"^/v1/doctors$"), _write(flows.register_doctor, validation.doctor_registration)),
    (re.compile(r"^/v1/bookings$"), _write(flows.book, validation.booking)),
    (re.compile(r"^/v1/bookings/(?P<b>[0-9]{1,18})/confirm$"), _write(flows.confirm, None, "b")),
    (re.compile(r"^/v1/consultations$"), _write(flows.consult, validation.consultation)),
    (re.compile(r"^/v1/consultations/(?P<c>[0-9]{1,18})/prescriptions$"),
     _write(flows.prescribe, validation.prescription, "c")),
    (re.compile(r"^/v1/consultations/(?P<c>[0-9]{1,18})/follow-ups$"),
     _write(flows.schedule_follow_up, validation.follow_up, "c")),
]
READS: list[tuple[re.Pattern[str], Flow]] = [
    (re.compile(r"^/v1/bookings/(?P<b>[0-9]{1,18})$"), _read(flows.booking_view, "b")),
    (re.compile(r"^/v1/bookings/(?P<b>[0-9]{1,18})/trail$"), _read(flows.trail, "b")),
]
REGISTRATIONS = {"/v1/patients": ("patient", "patient_id"), "/v1/doctors": ("doctor", "doctor_id")}
"""Registration opens the new person's first session: the response carries its token (never stored)."""
SCHEDULE = re.compile(r"^/v1/doctors/(?P<d>[0-9]{1,18})/bookings\?status=(?P<s>[a-z]+)$")
AV_SESSIONS = "/v1/av-sessions"


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\0".join([method.encode(), path.encode(), body])).hexdigest()


def idempotent(conn: psycopg.Connection, key: str, digest: str, work: Callable[[], Result]) -> tuple[Result, bool]:
    """Do ``work`` once per key: the key is claimed in the write's own transaction, so both commit or neither."""
    claimed = conn.execute(
        "INSERT INTO idempotency_keys (key, request_hash, status, response) VALUES (%s, %s, 0, '{}')"
        " ON CONFLICT (key) DO NOTHING RETURNING key",
        (key, digest),
    ).fetchone()
    if claimed is None:
        stored_hash, status, response = conn.execute(
            "SELECT request_hash, status, response FROM idempotency_keys WHERE key = %s", (key,)
        ).fetchone()
        if stored_hash != digest:
            raise InputError("Idempotency-Key", "was already used for a different request", status=422)
        return (status, response), True
    status, response = work()
    conn.execute("UPDATE idempotency_keys SET status = %s, response = %s WHERE key = %s",
                 (status, Jsonb(response), key))
    return (status, response), False


class Handler(BaseHTTPRequestHandler):
    """One request: route, validate, one transaction, JSON out."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes; no 40 ms delayed-ACK stall
    server_version = "ihh-service/1.0"
    service: Service

    def _send(self, status: int, body: dict[str, Any], replayed: bool = False) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Node", NODE)
        if replayed:
            self.send_header("Idempotent-Replayed", "true")
        self.end_headers()
        self.wfile.write(payload)

    def _body(self) -> tuple[bytes, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise InputError("body", f"must be at most {MAX_BODY} bytes", status=413)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return raw, {}
        try:
            return raw, json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError("body", f"is not valid JSON ({exc})") from exc

    def _caller(self, key: str, optional: bool = False) -> Caller:
        """Who acts, from the session token alone; a client still naming itself in X-Actor is told why not."""
        if self.headers.get("X-Actor"):
            raise InputError("X-Actor", "is not accepted: who acts comes from the session "
                             "(Authorization: Bearer <token>)", status=400)
        if optional and not self.headers.get("Authorization"):
            return Caller("patient", 0, NODE, key)
        kind, ident, _expiry = sessions.verify(self.service.session_key, self.headers.get("Authorization"))
        return Caller(kind, ident, NODE, key)

    def _transaction(self, caller: Caller, work: Callable[[psycopg.Connection], T]) -> T:
        """``work`` in one transaction; once it commits, its audit rows go to syslog (and so the log host)."""
        def attempt(conn: psycopg.Connection) -> T:
            caller.events.clear()  # a retry on a new connection writes its rows anew
            return work(conn)
        result = self.service.pool.transaction(attempt)
        for line in caller.events:
            syslog.syslog(syslog.LOG_NOTICE, line)
        return result

    def _with_session(self, result: tuple[Result, bool]) -> tuple[Result, bool]:
        """A registration's answer, with a session for whom it registered (a replay gets a fresh one)."""
        (status, body), replayed = result
        kind, field = REGISTRATIONS[self.path]
        if status == 201 and field in body:
            body = {**body, "session_token": sessions.issue(self.service.session_key, f"{kind}:{body[field]}"),
                    "session_ttl": sessions.SESSION_TTL_S}
        return (status, body), replayed

    def _guarded(self, handle: Callable[[], tuple[Result, bool]]) -> None:
        try:
            (status, body), replayed = handle()
        except InputError as exc:
            status, body, replayed = exc.status, exc.body(), False
        except DatabaseUnavailableError as exc:
            status, body, replayed = 503, {"error": f"database unavailable: {exc}"}, False
        except Exception:  # noqa: BLE001 - a request's bug must not kill the server; it is logged with an id
            incident = uuid.uuid4().hex[:12]
            print(f"incident {incident}: {self.command} {self.path}\n{traceback.format_exc()}", flush=True)
            status, body, replayed = 500, {"error": f"internal error, incident {incident}"}, False
        self._send(status, body, replayed)

    def do_GET(self) -> None:
        if self.path == "/health/live":
            self._send(200, {"live": True, "node": NODE})
            return
        if self.path == "/health/ready":
            self._guarded(lambda: (self.service.readiness(), False))
            return
        self._guarded(self._get)

    def _get(self) -> tuple[Result, bool]:
        caller = self._caller(f"read:{uuid.uuid4().hex}")  # each read is an audit row of its own
        match = SCHEDULE.match(self.path)
        if match:
            ident, status = int(match.group("d")), match.group("s")
            return self._transaction(caller,
                lambda conn: flows.doctor_schedule(conn, caller, ident, status)), False
        for pattern, flow in READS:
            match = pattern.match(self.path)
            if match:
                return self._transaction(caller,
                    lambda conn, flow=flow, match=match: flow(conn, caller, match, None)), False
        raise InputError("path", f"{self.path} is not a resource of this API", status=404)

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _post(self) -> tuple[Result, bool]:
        raw, body = self._body()
        key = validation.idempotency_key(self.headers.get("Idempotency-Key"))
        caller = self._caller(key, optional=self.path == "/v1/patients")
        scoped = f"{caller.actor if caller.id else 'anonymous'}/{key}"
        digest = request_hash("POST", self.path, raw)
        if self.path == AV_SESSIONS:
            data = validation.av_session(body)
            ice = ice_servers(self.service.av_nodes, self.service.turn_secret, caller.actor)
            return self._transaction(caller,
                lambda conn: idempotent(conn, scoped, digest, lambda: flows.open_av_session(conn, caller, data, ice)))
        for pattern, flow in WRITES:
            match = pattern.match(self.path)
            if match:
                done = self._transaction(caller,
                    lambda conn, flow=flow, match=match: idempotent(
                        conn, scoped, digest, lambda: flow(conn, caller, match, body)))
                return self._with_session(done) if self.path in REGISTRATIONS else done
        raise InputError("path", f"POST {self.path} is not a resource of this API", status=404)

    def log_message(self, fmt: str, *args: object) -> None:
        """Errors only: the audit trail, not the access log, is the record of what was done."""
        if len(args) >= 2 and str(args[1])[:1] in "45":
            sys.stdout.write(f"{self.address_string()} {fmt % args}\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request: object, client_address: tuple) -> None:
        """A client that hangs up early (a load balancer's probe) is not a server error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

"""The reference service on the live stack: flows end to end, nothing half-written, idempotent retries."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import psycopg
import pytest

from harness.core.database import connect
from harness.core.turn import TurnClient
from loadtests.identities import mobile, resident_id
from tests.api_client import call

pytestmark = pytest.mark.live
RNG = random.Random()


def slot() -> str:
    start = dt.datetime(2030, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=15 * RNG.randint(0, 500_000))
    return start.isoformat()


@pytest.fixture
def base(outputs) -> str:
    return outputs.uplinks[0].url


def register_patient(base: str) -> tuple[int, str]:
    """A new patient and the session token registration opened for them."""
    answer = call(base, "POST", "/v1/patients",
                  {"name": "测试患者", "id_number": resident_id(RNG), "mobile": mobile(RNG)})
    assert answer.status == 201, answer.body
    return answer.body["patient_id"], answer.body["session_token"]


def new_patient(base: str) -> int:
    return register_patient(base)[0]


def new_doctor(base: str) -> int:
    answer = call(base, "POST", "/v1/doctors", {"name": "测试医生", "license_no": f"T{uuid.uuid4().hex[:10]}",
                                                "department": "全科"}, actor="admin:1")
    assert answer.status == 201, answer.body
    return answer.body["doctor_id"]


def new_booking(base: str, patient: int, doctor: int) -> int:
    answer = call(base, "POST", "/v1/bookings", {"patient_id": patient, "doctor_id": doctor, "slot": slot()},
                  actor=f"patient:{patient}")
    assert answer.status == 201, answer.body
    return answer.body["booking_id"]


def count(outputs, sql: str, *args: object) -> int:
    with connect(outputs) as conn:
        return conn.execute(sql, args).fetchone()[0]


def test_one_consultation_is_traceable_end_to_end_through_either_uplink(outputs) -> None:
    first, second = (u.url for u in outputs.uplinks)
    patient, doctor = new_patient(first), new_doctor(second)
    booking = new_booking(first, patient, doctor)
    dr = f"doctor:{doctor}"
    assert call(second, "POST", f"/v1/bookings/{booking}/confirm", actor=dr).status == 200
    consultation = call(first, "POST", "/v1/consultations", {"booking_id": booking, "note": "发热 fever"}, actor=dr)
    assert consultation.status == 201
    cid = consultation.body["consultation_id"]
    assert call(second, "POST", f"/v1/consultations/{cid}/prescriptions",
                {"items": [{"drug": "对乙酰氨基酚", "dose": "500 mg", "days": 3}]}, actor=dr).status == 201
    assert call(first, "POST", f"/v1/consultations/{cid}/follow-ups",
                {"due_date": (dt.date.today() + dt.timedelta(days=14)).isoformat(), "reason": "复诊"},
                actor=dr).status == 201
    trail = call(second, "GET", f"/v1/bookings/{booking}/trail", actor=f"patient:{patient}")
    assert [s["action"] for s in trail.body["steps"]] == [
        "patient.register", "booking.create", "booking.confirm", "consultation.record", "prescription.issue",
        "follow_up.schedule"]
    assert {s["actor"] for s in trail.body["steps"]} == {f"patient:{patient}", dr}
    assert all(s["node"] and s["at"] for s in trail.body["steps"])


def test_a_refused_step_writes_nothing(outputs, base: str) -> None:
    patient, doctor = new_patient(base), new_doctor(base)
    booking = new_booking(base, patient, doctor)
    early = call(base, "POST", "/v1/consultations", {"booking_id": booking, "note": "x"}, actor=f"doctor:{doctor}")
    assert early.status == 409 and early.body["field"] == "booking_id"
    assert count(outputs, "SELECT count(*) FROM consultations WHERE booking_id = %s", booking) == 0
    assert count(outputs, "SELECT count(*) FROM audit_trail WHERE booking_id = %s", booking) == 1
    missing = call(base, "POST", "/v1/bookings", {"patient_id": patient, "doctor_id": 10**12, "slot": slot()},
                   actor=f"patient:{patient}")
    assert missing.status == 404 and missing.body["field"] == "doctor_id"
    stranger = call(base, "POST", f"/v1/bookings/{booking}/confirm", actor=f"doctor:{doctor + 1}")
    assert stranger.status == 403 and stranger.body["field"] == "session"
    assert count(outputs, "SELECT count(*) FROM bookings WHERE patient_id = %s", patient) == 1
    unkeyed = call(base, "POST", "/v1/patients", {"name": "x"}, write=False)
    assert unkeyed.status == 400 and unkeyed.body["field"] == "Idempotency-Key"


def test_a_retried_write_is_done_once(outputs, base: str) -> None:
    other = outputs.uplinks[1].url
    patient, doctor = new_patient(base), new_doctor(base)
    body = {"patient_id": patient, "doctor_id": doctor, "slot": slot()}
    key = uuid.uuid4().hex
    first = call(base, "POST", "/v1/bookings", body, actor=f"patient:{patient}", key=key)
    again = call(other, "POST", "/v1/bookings", body, actor=f"patient:{patient}", key=key)
    assert first.status == again.status == 201
    assert first.body == again.body
    assert again.headers.get("idempotent-replayed") == "true"
    assert count(outputs, "SELECT count(*) FROM bookings WHERE patient_id = %s", patient) == 1
    reused = call(base, "POST", "/v1/bookings", {**body, "slot": slot()}, actor=f"patient:{patient}", key=key)
    assert reused.status == 422 and reused.body["field"] == "Idempotency-Key"
    taken = call(base, "POST", "/v1/bookings", body, actor=f"patient:{patient}")
    assert taken.status == 409 and taken.body["field"] == "slot"


@pytest.mark.parametrize("rewrite", [
    "UPDATE audit_trail SET actor = 'someone-else' WHERE id = (SELECT min(id) FROM audit_trail)",
    "DELETE FROM audit_trail WHERE id = (SELECT min(id) FROM audit_trail)",
    "TRUNCATE audit_trail",
    "ALTER TABLE audit_trail DISABLE TRIGGER audit_trail_append_only",
])
def test_the_service_role_cannot_rewrite_or_erase_the_audit_trail(outputs, rewrite: str) -> None:
    """The service's own credentials (what a compromised app server holds) may add to the trail, never erase it."""
    with connect(outputs) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == outputs.database.user
        before = conn.execute("SELECT count(*) FROM audit_trail").fetchone()[0]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(rewrite)
    with connect(outputs) as conn:
        assert conn.execute("SELECT count(*) FROM audit_trail").fetchone()[0] >= before > 0


def test_reading_a_patients_booking_is_audited(outputs, base: str) -> None:
    patient, doctor = new_patient(base), new_doctor(base)
    booking = new_booking(base, patient, doctor)
    assert call(base, "GET", f"/v1/bookings/{booking}", actor=f"doctor:{doctor}").status == 200
    assert call(base, "GET", f"/v1/bookings/{booking}/trail", actor=f"patient:{patient}").status == 200
    assert call(base, "GET", f"/v1/bookings/{booking}", actor=f"doctor:{doctor + 1}").status == 403
    reads = count(outputs, "SELECT count(*) FROM audit_trail WHERE booking_id = %s AND action LIKE '%%.read'",
                  booking)
    assert reads == 2, "each read of the patient's record leaves an audit row; a refused one leaves none"


def test_who_acts_comes_only_from_a_signed_session(outputs, base: str) -> None:
    """GD-1.2.1, TM-5.4: a header's claim, a forged, expired or missing token gets no session, no TURN credential."""
    from harness.core.service_sessions import mint

    patient, token = register_patient(base)
    booking = new_booking(base, patient, new_doctor(base))
    assert call(base, "GET", f"/v1/bookings/{booking}", token=token).status == 200
    av = "/v1/av-sessions"
    refused = {
        "no session": call(base, "POST", av, {"booking_id": booking}),
        "X-Actor claim": call(base, "POST", av, {"booking_id": booking}, headers={"X-Actor": f"patient:{patient}"}),
        "forged key": call(base, "POST", av, {"booking_id": booking},
                           token=mint("not-the-stack-key", f"patient:{patient}", 600)),
        "expired": call(base, "POST", av, {"booking_id": booking},
                        token=mint(outputs.secret("service_session_key"), f"patient:{patient}", 60,
                                   now=dt.datetime.now(dt.UTC).timestamp() - 3600)),
        "tampered actor": call(base, "POST", av, {"booking_id": booking},
                               token=token.replace(f"patient:{patient}.", f"patient:{patient + 1}.", 1)),
    }
    statuses = {why: (a.status, (a.body or {}).get("field")) for why, a in refused.items()}
    assert statuses == {"no session": (401, "Authorization"), "X-Actor claim": (400, "X-Actor"),
                        "forged key": (401, "Authorization"), "expired": (401, "Authorization"),
                        "tampered actor": (401, "Authorization")}
    assert not any("ice_servers" in (a.body or {}) for a in refused.values())
    doctor_token = call(base, "POST", "/v1/doctors", {"name": "测试医生", "license_no": f"T{uuid.uuid4().hex[:10]}",
                                                      "department": "全科"}, token=token)
    assert doctor_token.status == 403, "a patient's session may not register doctors"


def test_committed_audit_rows_reach_the_log_host(outputs, base: str) -> None:
    """GD-4.3, GD-1.2.1: the service's audit events are on the log host too, with ids and no patient data."""
    from harness.core.ssh import as_root, connect, run
    from harness.core.waiting import wait_for

    patient = new_patient(base)
    booking = new_booking(base, patient, new_doctor(base))
    # a pattern, not the text: the log host files the sudo line of this grep too, and must not match it
    wanted = f"action=booking[.]create record=booking:{booking} "
    client = connect(outputs, outputs.log_host.name)
    try:
        line = wait_for(f"{wanted!r} on the log host", lambda: run(
            client, outputs.log_host.name, as_root(f"grep -rhE '{wanted}' {outputs.log_host.directory}"),
            check=False).stdout.strip(), timeout=30)
    finally:
        client.close()
    assert f"actor=patient:{patient}" in line and "ihh-service" in line, line
    assert "测试患者" not in line, "audit lines carry ids, never a patient's name"


def test_av_session_credentials_allocate_on_every_turn_node(outputs, base: str) -> None:
    patient, token = register_patient(base)
    booking = new_booking(base, patient, new_doctor(base))
    session = call(base, "POST", "/v1/av-sessions", {"booking_id": booking}, token=token)
    assert session.status == 201, session.body
    servers = session.body["ice_servers"]
    assert {s["node"] for s in servers} == {n.name for n in outputs.av_nodes}
    for server in servers:
        udp = next(u for u in server["urls"] if u.endswith("transport=udp"))
        host, _, port = udp.removeprefix("turn:").split("?")[0].rpartition(":")
        with TurnClient(host, int(port)) as client:
            allocation = client.allocate(server["username"], server["credential"])
        assert allocation.relayed_port > 0 and allocation.lifetime_s > 0
    stranger = call(base, "POST", "/v1/av-sessions", {"booking_id": booking}, actor=f"patient:{patient + 1}")
    assert stranger.status == 403


def test_readiness_reports_the_writable_primary(outputs) -> None:
    for uplink in outputs.uplinks:
        ready = call(uplink.url, "GET", "/health/ready")
        assert ready.status == 200 and ready.body["ready"] is True

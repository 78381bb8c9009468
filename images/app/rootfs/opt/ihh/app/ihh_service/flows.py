"""Each patient and doctor step as one transaction: the record, its audit row, or nothing at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ihh_service import outbox
from ihh_service.validation import InputError

Result = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class Caller:
    """Who is acting, on which node, under which request key: what every audit row records."""

    kind: str
    id: int
    node: str
    request_key: str
    events: list[str] = field(default_factory=list, compare=False)
    """The audit rows this request wrote, as lines for the log host once its transaction commits."""

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"


def audit(conn: psycopg.Connection, who: str, action: str, record: tuple[str, int], caller: Caller,
          patient_id: int | None = None, booking_id: int | None = None) -> None:
    row = conn.execute(
        "INSERT INTO audit_trail (actor, action, record_type, record_id, patient_id, booking_id, node, request_key)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (who, action, record[0], record[1], patient_id, booking_id, caller.node, caller.request_key),
    ).fetchone()
    caller.events.append(f"audit id={row[0]} actor={who} action={action} record={record[0]}:{record[1]} "
                         f"node={caller.node}")


def _require(caller: Caller, kind: str, owner_id: int | None = None) -> None:
    if caller.kind != kind or (owner_id is not None and caller.id != owner_id):
        who = f"{kind}:{owner_id}" if owner_id is not None else f"a {kind}"
        raise InputError("session", f"only {who} may do this", status=403)


def _one(conn: psycopg.Connection, sql: str, args: tuple[Any, ...], field: str, what: str) -> tuple[Any, ...]:
    row = conn.execute(sql, args).fetchone()
    if row is None:
        raise InputError(field, f"{what} {args[0]} does not exist", status=404)
    return row


def _insert_unique(conn: psycopg.Connection, sql: str, data: dict[str, Any], field: str, rule: str) -> int:
    """Insert and return the new id; a unique-key clash is a 409 naming the field that clashed."""
    try:
        return int(conn.execute(sql, data).fetchone()[0])
    except psycopg.errors.UniqueViolation as exc:
        raise InputError(field, rule, status=409) from exc


def register_patient(conn: psycopg.Connection, caller: Caller, data: dict[str, Any]) -> Result:
    pid = _insert_unique(
        conn, "INSERT INTO patients (name, id_number, mobile) VALUES (%(name)s, %(id_number)s, %(mobile)s)"
        " RETURNING id", data, "id_number", "is already registered")
    audit(conn, f"patient:{pid}", "patient.register", ("patient", pid), caller, patient_id=pid)
    return 201, {"patient_id": pid}


def register_doctor(conn: psycopg.Connection, caller: Caller, data: dict[str, Any]) -> Result:
    _require(caller, "admin")
    did = _insert_unique(
        conn, "INSERT INTO doctors (name, license_no, department) VALUES (%(name)s, %(license_no)s, %(department)s)"
        " RETURNING id", data, "license_no", "is already registered")
    audit(conn, caller.actor, "doctor.register", ("doctor", did), caller)
    outbox.record(conn, "doctor_registration", None, {"doctor_license": data["license_no"], "name": data["name"],
                                                      "department": data["department"]})
    return 201, {"doctor_id": did}


def book(conn: psycopg.Connection, caller: Caller, data: dict[str, Any]) -> Result:
    _require(caller, "patient", data["patient_id"])
    # locked first, as the outbox record below locks it (a booking's foreign key would otherwise take a weaker
    # lock first, and two such upgrades could deadlock)
    _one(conn, "SELECT id FROM patients WHERE id = %s FOR UPDATE", (data["patient_id"],), "patient_id", "patient")
    (licence,) = _one(conn, "SELECT license_no FROM doctors WHERE id = %s", (data["doctor_id"],), "doctor_id",
                      "doctor")
    bid = _insert_unique(
        conn, "INSERT INTO bookings (patient_id, doctor_id, slot, status) VALUES (%(patient_id)s, %(doctor_id)s,"
        " %(slot)s, 'booked') RETURNING id", data, "slot", "is already booked with this doctor")
    audit(conn, caller.actor, "booking.create", ("booking", bid), caller, data["patient_id"], bid)
    outbox.record(conn, "resource_change", data["patient_id"], {
        "resource": "doctor_slot", "change": "booked", "doctor_license": licence, "slot": data["slot"].isoformat()})
    return 201, {"booking_id": bid, "status": "booked"}


def _booking(conn: psycopg.Connection, booking_id: int, field: str = "booking_id") -> tuple[int, int, str]:
    row = _one(conn, "SELECT patient_id, doctor_id, status FROM bookings WHERE id = %s FOR UPDATE",
               (booking_id,), field, "booking")
    return row[0], row[1], row[2]


def confirm(conn: psycopg.Connection, caller: Caller, booking_id: int) -> Result:
    patient_id, doctor_id, status = _booking(conn, booking_id, "booking")
    _require(caller, "doctor", doctor_id)
    if status != "booked":
        raise InputError("booking", f"is {status}; only a booked appointment can be confirmed", status=409)
    conn.execute("UPDATE bookings SET status = 'confirmed', confirmed_at = now() WHERE id = %s", (booking_id,))
    audit(conn, caller.actor, "booking.confirm", ("booking", booking_id), caller, patient_id, booking_id)
    return 200, {"booking_id": booking_id, "status": "confirmed"}


def consult(conn: psycopg.Connection, caller: Caller, data: dict[str, Any]) -> Result:
    patient_id, doctor_id, status = _booking(conn, data["booking_id"])
    _require(caller, "doctor", doctor_id)
    if status != "confirmed":
        raise InputError("booking_id", f"booking is {status}; a consultation needs a confirmed booking", status=409)
    (cid,) = conn.execute(
        "INSERT INTO consultations (booking_id, note) VALUES (%(booking_id)s, %(note)s) RETURNING id", data
    ).fetchone()
    conn.execute("UPDATE bookings SET status = 'completed' WHERE id = %s", (data["booking_id"],))
    audit(conn, caller.actor, "consultation.record", ("consultation", cid), caller, patient_id, data["booking_id"])
    outbox.record(conn, "consultation", patient_id, {**outbox.parties(conn, patient_id, doctor_id),
                                                     "consultation_id": cid, "booking_id": data["booking_id"]})
    return 201, {"consultation_id": cid}


def _consultation(conn: psycopg.Connection, consultation_id: int) -> tuple[int, int, int]:
    row = _one(
        conn,
        "SELECT b.id, b.patient_id, b.doctor_id FROM consultations c JOIN bookings b ON b.id = c.booking_id"
        " WHERE c.id = %s",
        (consultation_id,), "consultation", "consultation",
    )
    return row[0], row[1], row[2]


def prescribe(conn: psycopg.Connection, caller: Caller, consultation_id: int, data: dict[str, Any]) -> Result:
    booking_id, patient_id, doctor_id = _consultation(conn, consultation_id)
    _require(caller, "doctor", doctor_id)
    (rid,) = conn.execute(
        "INSERT INTO prescriptions (consultation_id, items) VALUES (%s, %s) RETURNING id",
        (consultation_id, Jsonb(data["items"])),
    ).fetchone()
    audit(conn, caller.actor, "prescription.issue", ("prescription", rid), caller, patient_id, booking_id)
    outbox.record(conn, "prescription", patient_id, {**outbox.parties(conn, patient_id, doctor_id),
                                                     "consultation_id": consultation_id, "prescription_id": rid,
                                                     "items": data["items"]})
    return 201, {"prescription_id": rid}


def schedule_follow_up(conn: psycopg.Connection, caller: Caller, consultation_id: int,
                       data: dict[str, Any]) -> Result:
    booking_id, patient_id, doctor_id = _consultation(conn, consultation_id)
    _require(caller, "doctor", doctor_id)
    (fid,) = conn.execute(
        "INSERT INTO follow_ups (consultation_id, due_date, reason) VALUES (%s, %s, %s) RETURNING id",
        (consultation_id, data["due_date"], data["reason"]),
    ).fetchone()
    audit(conn, caller.actor, "follow_up.schedule", ("follow_up", fid), caller, patient_id, booking_id)
    outbox.record(conn, "follow_up", patient_id, {**outbox.parties(conn, patient_id, doctor_id),
                                                  "consultation_id": consultation_id, "follow_up_id": fid,
                                                  "due_date": data["due_date"].isoformat()})
    return 201, {"follow_up_id": fid}


def open_av_session(conn: psycopg.Connection, caller: Caller, data: dict[str, Any], ice: dict[str, Any]) -> Result:
    patient_id, doctor_id, _status = _booking(conn, data["booking_id"])
    if caller.actor not in (f"patient:{patient_id}", f"doctor:{doctor_id}"):
        raise InputError("session", "only the booking's patient or doctor may open its A/V session", status=403)
    audit(conn, caller.actor, "av_session.open", ("booking", data["booking_id"]), caller, patient_id,
          data["booking_id"])
    return 201, {"booking_id": data["booking_id"], **ice}


def _readable_booking(conn: psycopg.Connection, caller: Caller, booking_id: int) -> dict[str, Any]:
    row = _one(conn, "SELECT patient_id, doctor_id, slot, status FROM bookings WHERE id = %s",
               (booking_id,), "booking", "booking")
    if caller.actor not in (f"patient:{row[0]}", f"doctor:{row[1]}"):
        raise InputError("session", "only the booking's patient or doctor may read it", status=403)
    return {"booking_id": booking_id, "patient_id": row[0], "doctor_id": row[1], "slot": row[2].isoformat(),
            "status": row[3]}


def booking_view(conn: psycopg.Connection, caller: Caller, booking_id: int) -> Result:
    """A booking, to its patient or doctor; the read itself is audited (who saw which patient's record)."""
    view = _readable_booking(conn, caller, booking_id)
    audit(conn, caller.actor, "booking.read", ("booking", booking_id), caller, view["patient_id"], booking_id)
    return 200, view


def trail(conn: psycopg.Connection, caller: Caller, booking_id: int) -> Result:
    """TM-5.4: every audited step of one booking, from the patient's registration to the follow-up."""
    view = _readable_booking(conn, caller, booking_id)
    status = 200
    rows = conn.execute(
        "SELECT at, actor, action, record_type, record_id, node FROM audit_trail"
        " WHERE booking_id = %s OR (patient_id = %s AND action = 'patient.register') ORDER BY at, id",
        (booking_id, view["patient_id"]),
    ).fetchall()
    steps = [{"at": r[0].isoformat(), "actor": r[1], "action": r[2], "record": f"{r[3]}:{r[4]}", "node": r[5]}
             for r in rows]
    audit(conn, caller.actor, "booking.trail.read", ("booking", booking_id), caller, view["patient_id"], booking_id)
    return status, {"booking_id": booking_id, "steps": steps}


def doctor_schedule(conn: psycopg.Connection, caller: Caller, doctor_id: int, status: str) -> Result:
    _require(caller, "doctor", doctor_id)
    if status not in ("booked", "confirmed", "completed"):
        raise InputError("status", "must be booked, confirmed or completed")
    rows = conn.execute(
        "SELECT id, patient_id, slot FROM bookings WHERE doctor_id = %s AND status = %s ORDER BY slot LIMIT 50",
        (doctor_id, status),
    ).fetchall()
    audit(conn, caller.actor, "doctor.schedule.read", ("doctor", doctor_id), caller)
    return 200, {"doctor_id": doctor_id, "status": status,
                 "bookings": [{"booking_id": r[0], "patient_id": r[1], "slot": r[2].isoformat()} for r in rows]}

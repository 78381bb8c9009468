"""A consultation written through the service before a loss, and checked record by record after it.

EH-1.1.2 and TM-5.4: a restore must bring back clinical records and their audit trail
intact, not merely rows of a drill table. One full consultation (registration, booking,
confirmation, note, prescription, follow-up) goes through the uplinks, as an app writes it; a
checksum over its records and audit rows is taken from the database; after the restore both
the checksum and the service's own trail view must match.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import uuid
from dataclasses import dataclass

from harness.core.database import connect
from harness.core.http_json import get_json, write_through_uplinks
from harness.core.outputs import StackOutputs
from harness.core.service_sessions import ADMIN, bearer, session_for
from loadtests.identities import mobile, resident_id

TRAIL = ("patient.register", "booking.create", "booking.confirm", "consultation.record", "prescription.issue",
         "follow_up.schedule")
CHECKSUM = """
select md5(concat_ws('|',
  (select string_agg(concat_ws(',', id, name, id_number, mobile), ';') from patients where id = %(p)s),
  (select string_agg(concat_ws(',', id, patient_id, doctor_id, slot, status), ';') from bookings where id = %(b)s),
  (select string_agg(concat_ws(',', id, note), ';') from consultations where booking_id = %(b)s),
  (select string_agg(concat_ws(',', r.id, r.items::text), ';' order by r.id) from prescriptions r
     join consultations c on c.id = r.consultation_id where c.booking_id = %(b)s),
  (select string_agg(concat_ws(',', f.id, f.due_date, f.reason), ';' order by f.id) from follow_ups f
     join consultations c on c.id = f.consultation_id where c.booking_id = %(b)s),
  (select string_agg(concat_ws(',', id, at, actor, action, record_type, record_id), ';' order by id)
     from audit_trail where (booking_id = %(b)s or (patient_id = %(p)s and action = 'patient.register'))
     and action not like '%%.read')))
"""


@dataclass(frozen=True)
class ClinicalSentinel:
    patient_id: int
    booking_id: int
    checksum: str


def checksum(outputs: StackOutputs, sentinel: ClinicalSentinel | tuple[int, int]) -> str:
    patient, booking = (sentinel.patient_id, sentinel.booking_id) if isinstance(sentinel, ClinicalSentinel) \
        else sentinel
    with connect(outputs) as conn:
        return str(conn.execute(CHECKSUM, {"p": patient, "b": booking}).fetchone()[0])


def write_consultation(outputs: StackOutputs) -> ClinicalSentinel:
    rng = random.Random()
    write = functools.partial(write_through_uplinks, outputs)
    registered = write("/v1/patients", {"name": "恢复演练 restore drill", "id_number": resident_id(rng),
                                        "mobile": mobile(rng)})
    patient = registered["patient_id"]
    hired = write("/v1/doctors", {"name": "演练医生", "license_no": f"RD{uuid.uuid4().hex[:10]}", "department": "全科"},
                  session_for(outputs, ADMIN, ttl_s=300))
    doctor, dr = hired["doctor_id"], hired["session_token"]
    slot = dt.datetime(2031, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=15 * rng.randint(0, 500_000))
    booking = write("/v1/bookings", {"patient_id": patient, "doctor_id": doctor, "slot": slot.isoformat()},
                    registered["session_token"])["booking_id"]
    write(f"/v1/bookings/{booking}/confirm", {}, dr)
    consultation = write("/v1/consultations", {"booking_id": booking, "note": "恢复演练病历 drill note"},
                         dr)["consultation_id"]
    write(f"/v1/consultations/{consultation}/prescriptions",
          {"items": [{"drug": "维生素C", "dose": "100 mg", "days": 7}]}, dr)
    write(f"/v1/consultations/{consultation}/follow-ups",
          {"due_date": (dt.date.today() + dt.timedelta(days=30)).isoformat(), "reason": "随访"}, dr)
    return ClinicalSentinel(patient, booking, checksum(outputs, (patient, booking)))


def verify_consultation(outputs: StackOutputs, sentinel: ClinicalSentinel) -> tuple[bool, str]:
    """Records and audit trail as written (checksum), and the service shows the whole trail again."""
    if checksum(outputs, sentinel) != sentinel.checksum:
        return False, "the consultation's records or audit trail differ from what was written"
    status, trail = get_json(f"{outputs.uplinks[0].url}/v1/bookings/{sentinel.booking_id}/trail",
                             bearer(session_for(outputs, f"patient:{sentinel.patient_id}", ttl_s=120)),
                             ca=outputs.ca_cert_path)
    actions = tuple(s["action"] for s in trail.get("steps", []) if s["action"] in TRAIL)
    if status != 200 or actions != TRAIL:
        return False, f"the service's trail view answered {status} with {actions}"
    return True, f"consultation of booking {sentinel.booking_id}: records, audit trail and trail view intact"

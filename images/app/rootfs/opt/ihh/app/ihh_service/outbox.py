"""GD-3.2.1: what the supervision platform must receive, written in the event's own transaction.

A record is committed with its event or not at all, so the forwarder (``forwarder.py``) can upload
every committed event and nothing rolled back. The record ID is the platform's idempotency key.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def record(conn: psycopg.Connection, kind: str, patient_id: int | None, data: dict[str, Any]) -> None:
    """The record, after a lock on its patient: one patient's records then take outbox ids in the order their
    transactions commit, which is the order the forwarder uploads them in (concurrent writes for one patient,
    a booking beside a consultation, would otherwise take ids in one order and commit in the other)."""
    if patient_id is not None:
        conn.execute("SELECT 1 FROM patients WHERE id = %s FOR UPDATE", (patient_id,))
    conn.execute("INSERT INTO supervision_outbox (record_id, kind, patient_id, payload)"
                 " VALUES (gen_random_uuid(), %s, %s, %s)", (kind, patient_id, Jsonb(data)))


def parties(conn: psycopg.Connection, patient_id: int, doctor_id: int) -> dict[str, str]:
    """The patient's resident ID number and the doctor's licence and department, as the platform names them."""
    row = conn.execute("SELECT p.id_number, d.license_no, d.department FROM patients p, doctors d"
                       " WHERE p.id = %s AND d.id = %s", (patient_id, doctor_id)).fetchone()
    return {"patient_id_number": row[0], "doctor_license": row[1], "department": row[2]}

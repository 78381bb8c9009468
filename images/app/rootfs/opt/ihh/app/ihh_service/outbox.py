"""GD-3.2.1: what the supervision platform must receive, written in the event's own transaction.

A record is committed with its event or not at all, so the forwarder (``forwarder.py``) can upload
every committed event and nothing rolled back. The record ID is the platform's idempotency key.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def record(conn: psycopg.Connection, kind: str, patient_id: int | None, data: dict[str, Any]) -> None:
    conn.execute("INSERT INTO supervision_outbox (record_id, kind, patient_id, payload)"
                 " VALUES (gen_random_uuid(), %s, %s, %s)", (kind, patient_id, Jsonb(data)))


def parties(conn: psycopg.Connection, patient_id: int, doctor_id: int) -> dict[str, str]:
    """The patient's resident ID number and the doctor's licence and department, as the platform names them."""
    row = conn.execute("SELECT p.id_number, d.license_no, d.department FROM patients p, doctors d"
                       " WHERE p.id = %s AND d.id = %s", (patient_id, doctor_id)).fetchone()
    return {"patient_id_number": row[0], "doctor_license": row[1], "department": row[2]}

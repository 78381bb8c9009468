"""Each flow's error paths: a refused request names the field and the rule, with the right status."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from ihh_service import sessions, validation
from ihh_service.validation import InputError

from harness.core.service_sessions import mint

NOW = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)
PATIENT = {"name": "王芳", "id_number": "11010519491231002X", "mobile": "13800138000"}
BOOKING = {"patient_id": 1, "doctor_id": 2, "slot": "2026-12-01T09:30:00+08:00"}


def refused(parse: Any, body: Any, **kwargs: Any) -> InputError:
    with pytest.raises(InputError) as caught:
        parse(body, **kwargs)
    return caught.value


def test_patient_registration_accepts_and_normalises() -> None:
    assert validation.patient_registration({**PATIENT, "mobile": "+86 138 0013 8000"})["mobile"] == "13800138000"


@pytest.mark.parametrize(("body", "field", "rule"), [
    ({**PATIENT, "id_number": "110105194912310021"}, "id_number", "check digit is 1, GB 11643 gives X"),
    ({**PATIENT, "mobile": "23800138000"}, "mobile", "must be a mainland mobile number"),
    ({k: v for k, v in PATIENT.items() if k != "name"}, "name", "is required"),
    ({**PATIENT, "name": ""}, "name", "must be 1 to 64 characters"),
    ({**PATIENT, "email": "x@y"}, "email", "is not a known field"),
    (["not", "an", "object"], "body", "must be a JSON object"),
])
def test_patient_registration_errors(body: Any, field: str, rule: str) -> None:
    error = refused(validation.patient_registration, body)
    assert (error.field, error.status) == (field, 400)
    assert rule in error.rule


@pytest.mark.parametrize(("change", "field", "rule"), [
    ({"slot": "2026-12-01T09:30:00"}, "slot", "must carry a UTC offset"),
    ({"slot": "2026-12-01T09:31:00+08:00"}, "slot", "quarter hour"),
    ({"slot": "2025-01-01T09:30:00+08:00"}, "slot", "must be in the future"),
    ({"slot": "next tuesday"}, "slot", "ISO 8601"),
    ({"patient_id": 0}, "patient_id", "positive integer"),
    ({"doctor_id": "2"}, "doctor_id", "positive integer"),
    ({"doctor_id": True}, "doctor_id", "positive integer"),
])
def test_booking_errors(change: dict[str, Any], field: str, rule: str) -> None:
    error = refused(validation.booking, {**BOOKING, **change}, now=NOW)
    assert error.field == field
    assert rule in error.rule


def test_consultation_errors() -> None:
    assert refused(validation.consultation, {"booking_id": 3}).field == "note"
    assert refused(validation.consultation, {"booking_id": -1, "note": "x"}).field == "booking_id"
    assert refused(validation.consultation, {"booking_id": 3, "note": "x" * 4001}).field == "note"


@pytest.mark.parametrize(("items", "field"), [
    ([], "items"),
    ("aspirin", "items"),
    ([{"drug": "a", "dose": "1", "days": 0}], "items[0].days"),
    ([{"drug": "a", "dose": "1", "days": 91}], "items[0].days"),
    ([{"drug": "a", "dose": "1", "days": 3}, {"dose": "1", "days": 3}], "drug"),
    ([{"drug": "a", "dose": "1", "days": 3, "refills": 2}], "items[0].refills"),
    (["a"], "items[0]"),
    ([{"drug": "a", "dose": "1", "days": 1}] * 21, "items"),
])
def test_prescription_errors(items: Any, field: str) -> None:
    assert refused(validation.prescription, {"items": items}).field == field


def test_follow_up_errors() -> None:
    today = dt.date(2026, 11, 24)
    assert "after today" in refused(validation.follow_up, {"due_date": "2026-11-24", "reason": "r"}, today=today).rule
    assert "YYYY-MM-DD" in refused(validation.follow_up, {"due_date": "2026-13-01", "reason": "r"}, today=today).rule
    assert refused(validation.follow_up, {"due_date": "2026-12-01"}, today=today).field == "reason"


def test_av_session_needs_a_booking() -> None:
    assert refused(validation.av_session, {}).field == "booking_id"


KEY = "k" * 32
T0 = 1_900_000_000


def test_a_session_the_harness_mints_is_one_the_service_accepts() -> None:
    """The operator's tooling and the service share one token format: a drift would lock every drill out."""
    token = mint(KEY, "doctor:7", ttl_s=60, now=T0)
    assert sessions.verify(KEY, f"Bearer {token}", now=T0 + 59) == ("doctor", 7, T0 + 60)
    assert sessions.verify(KEY, f"Bearer {sessions.issue(KEY, 'patient:3', now=T0)}", now=T0)[:2] == ("patient", 3)


@pytest.mark.parametrize(("header", "rule"), [
    (None, "a session is required"),
    ("patient:1", "must be 'Bearer <session token>'"),
    ("Bearer nonsense", "is not a session token"),
    (f"Bearer {mint('other-key', 'patient:1', 60, now=T0)}", "signature does not verify"),
    (f"Bearer {mint(KEY, 'patient:1', 60, now=T0).replace('patient:1.', 'patient:2.')}", "signature does not"),
    (f"Bearer {mint(KEY, 'patient:1', 60, now=T0 - 61)}", "has expired"),
    ("Bearer nurse:4.1900000060.abc", "signature does not verify"),
])
def test_sessions_refused_name_the_header_and_the_rule(header: str | None, rule: str) -> None:
    with pytest.raises(InputError) as caught:
        sessions.verify(KEY, header, now=T0)
    assert caught.value.field == "Authorization" and caught.value.status == 401 and rule in caught.value.rule


def test_writes_need_a_well_formed_idempotency_key() -> None:
    assert validation.idempotency_key("0f8c2b7a-key") == "0f8c2b7a-key"
    for bad in (None, "short", "has space in it", "x" * 129):
        with pytest.raises(InputError) as caught:
            validation.idempotency_key(bad)
        assert caught.value.field == "Idempotency-Key"

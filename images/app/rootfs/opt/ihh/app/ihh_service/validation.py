"""Request bodies checked before any SQL runs: every error names the field and the rule it broke."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from ihh_service.identity import mobile_problem, normalise_mobile, resident_id_problem

ACTOR = re.compile(r"^(patient|doctor|admin):([1-9][0-9]{0,17})$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
MAX_PRESCRIPTION_ITEMS = 20


class InputError(ValueError):
    """A request the service refuses: HTTP status, the field at fault and the rule it broke."""

    def __init__(self, field: str, rule: str, status: int = 400) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"error": f"{self.field}: {self.rule}", "field": self.field, "rule": self.rule}


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputError("body", "must be a JSON object")
    return body


def _text(body: dict[str, Any], field: str, max_len: int, min_len: int = 1) -> str:
    value = body.get(field)
    if not isinstance(value, str):
        raise InputError(field, "is required and must be a string")
    value = value.strip()
    if not min_len <= len(value) <= max_len:
        raise InputError(field, f"must be {min_len} to {max_len} characters")
    return value


def _record_id(body: dict[str, Any], field: str) -> int:
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(field, "is required and must be a positive integer")
    return value


def _unknown(body: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise InputError(extra[0], f"is not a known field (known: {', '.join(sorted(allowed))})")


def idempotency_key(header: str | None) -> str:
    """Every write carries a key, so a client may retry it on the other uplink without doing it twice."""
    if not header:
        raise InputError("Idempotency-Key", "header is required on writes")
    if not IDEMPOTENCY_KEY.match(header):
        raise InputError("Idempotency-Key", "must be 8 to 128 characters of letters, digits, _ . : -")
    return header


def patient_registration(body: Any) -> dict[str, Any]:
    body = _require_object(body)
    _unknown(body, {"name", "id_number", "mobile"})
    name = _text(body, "name", 64)
    id_number = _text(body, "id_number", 18, 18).upper()
    problem = resident_id_problem(id_number)
    if problem:
        raise InputError("id_number", problem)
    mobile = _text(body, "mobile", 20)
    problem = mobile_problem(mobile)
    if problem:
        raise InputError("mobile", problem)
    return {"name": name, "id_number": id_number, "mobile": normalise_mobile(mobile)}


def doctor_registration(body: Any) -> dict[str, Any]:
    body = _require_object(body)
    _unknown(body, {"name", "license_no", "department"})
    license_no = _text(body, "license_no", 32, 6)
    if not license_no.isalnum():
        raise InputError("license_no", "must be letters and digits only")
    return {"name": _text(body, "name", 64), "license_no": license_no, "department": _text(body, "department", 64)}


def booking(body: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    body = _require_object(body)
    _unknown(body, {"patient_id", "doctor_id", "slot"})
    raw = _text(body, "slot", 40)
    try:
        slot = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError("slot", "must be an ISO 8601 date and time with a UTC offset") from exc
    if slot.tzinfo is None:
        raise InputError("slot", "must carry a UTC offset, e.g. 2026-12-01T09:30:00+08:00")
    if slot.minute % 15 or slot.second or slot.microsecond:
        raise InputError("slot", "must start on a quarter hour")
    if slot <= (now or dt.datetime.now(dt.UTC)):
        raise InputError("slot", "must be in the future")
    return {"patient_id": _record_id(body, "patient_id"), "doctor_id": _record_id(body, "doctor_id"), "slot": slot}


def consultation(body: Any) -> dict[str, Any]:
    body = _require_object(body)
    _unknown(body, {"booking_id", "note"})
    return {"booking_id": _record_id(body, "booking_id"), "note": _text(body, "note", 4000)}


def prescription(body: Any) -> dict[str, Any]:
    body = _require_object(body)
    _unknown(body, {"items"})
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_PRESCRIPTION_ITEMS:
        raise InputError("items", f"must be a list of 1 to {MAX_PRESCRIPTION_ITEMS} items")
    checked = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"items[{i}]", "must be an object with drug, dose and days")
        _unknown({f"items[{i}].{k}": v for k, v in item.items()},
                 {f"items[{i}].{k}" for k in ("drug", "dose", "days")})
        days = item.get("days")
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 90:
            raise InputError(f"items[{i}].days", "must be a whole number of days from 1 to 90")
        checked.append({"drug": _text(item, "drug", 128), "dose": _text(item, "dose", 64), "days": days})
    return {"items": checked}


def follow_up(body: Any, today: dt.date | None = None) -> dict[str, Any]:
    body = _require_object(body)
    _unknown(body, {"due_date", "reason"})
    raw = _text(body, "due_date", 10, 10)
    try:
        due = dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise InputError("due_date", "must be a date, YYYY-MM-DD") from exc
    if due <= (today or dt.date.today()):
        raise InputError("due_date", "must be after today")
    return {"due_date": due, "reason": _text(body, "reason", 500)}


def av_session(body: Any) -> dict[str, Any]:
    body = _require_object(body)
    _unknown(body, {"booking_id"})
    return {"booking_id": _record_id(body, "booking_id")}

"""Attestations: the hospital's signed word that an organisational part of a requirement is in place.

Software cannot show that a leak-reporting procedure exists or that a penetration test
was done; a person in a named role can attest it, pointing at a document by its SHA-256.
A requirement with such a part is ``partial`` until an unexpired attestation covers it.

File format (YAML list), validated like the check waivers:

    - requirement: EH-2.2.2
      part: Yearly penetration test by an authorised body
      attested_by: Li Wei
      role: Information security officer
      date: 2026-10-12
      document: reports/pentest-2026.pdf   # optional; relative to this file; hashed when present
      sha256: 3f1c...                      # the document's SHA-256
      expires: 2027-10-12
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.yaml_list import yaml_list_entries
from harness.evidence.catalogue import load_catalogue

FIELDS = {"requirement", "part", "attested_by", "role", "date", "document", "sha256", "expires"}
REQUIRED = ("requirement", "part", "attested_by", "role", "date", "sha256", "expires")
SNAPSHOT = "attestations.json"
"""Where a run keeps the attestations it was judged with (validated, documents' hashes checked)."""


class AttestationError(ValueError):
    """An attestation file entry is malformed; the message names the file, the line and the field."""


@dataclass(frozen=True)
class Attestation:
    requirement: str
    part: str
    attested_by: str
    role: str
    date: str
    sha256: str
    expires: str
    document: str = ""
    line: int = 0

    def expired_on(self, day: datetime.date) -> bool:
        return datetime.date.fromisoformat(self.expires) < day

    def describe(self) -> str:
        return (f"attested by {self.attested_by} ({self.role}) on {self.date}, document sha256 "
                f"{self.sha256[:12]}..., until {self.expires}")


def _date(entry: dict[str, Any], field: str, where: str) -> datetime.date:
    value = entry[field]
    if not isinstance(value, datetime.date):
        raise AttestationError(f"{where}: {field} must be a date (YYYY-MM-DD), got {value!r}")
    return value


def _entry(entry: Any, where: str, organisational: set[str], folder: Path, today: datetime.date) -> Attestation:
    if not isinstance(entry, dict):
        raise AttestationError(f"{where}: an attestation must be a mapping with {', '.join(REQUIRED)}")
    unknown = set(entry) - FIELDS
    if unknown:
        raise AttestationError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    for field in REQUIRED:
        if not entry.get(field):
            raise AttestationError(f"{where}: field {field!r} is required")
    if entry["requirement"] not in organisational:
        raise AttestationError(f"{where}: requirement {entry['requirement']!r} has no organisational part to "
                               f"attest; those that do: {', '.join(sorted(organisational))}")
    digest = str(entry["sha256"]).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise AttestationError(f"{where}: sha256 must be the document's SHA-256, 64 hex digits")
    date, expires = _date(entry, "date", where), _date(entry, "expires", where)
    if date > today:
        raise AttestationError(f"{where}: date {date} is in the future")
    if expires <= date:
        raise AttestationError(f"{where}: expires ({expires}) must come after date ({date})")
    document = str(entry.get("document") or "")
    if document:
        path = folder / document
        if not path.is_file():
            raise AttestationError(f"{where}: document {document} does not exist (relative to {folder})")
        if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise AttestationError(f"{where}: document {document} does not match its sha256")
    return Attestation(entry["requirement"], str(entry["part"]), str(entry["attested_by"]), str(entry["role"]),
                       date.isoformat(), digest, expires.isoformat(), document, 0)


def load_attestations(path: Path, today: datetime.date | None = None) -> list[Attestation]:
    """Every entry validated; the first bad one is an error naming its line. An absent file is no attestation."""
    today = today or datetime.date.today()
    organisational = {r.id for r in load_catalogue() if "organisational" in r.methods}
    attestations = []
    for where, entry in yaml_list_entries(path, AttestationError, "attestations"):
        found = _entry(entry, where, organisational, path.parent, today)
        attestations.append(Attestation(**{**found.__dict__, "line": int(where.rsplit(":", 1)[1])}))
    return attestations


def to_snapshot(attestations: list[Attestation], source: Path) -> dict[str, Any]:
    return {"source": str(source), "attestations": [a.__dict__ for a in attestations]}


def from_snapshot(data: dict[str, Any] | None) -> list[Attestation]:
    return [Attestation(**a) for a in (data or {}).get("attestations", [])]


def save_snapshot(source: Path, run_dir: Path) -> list[Attestation]:
    """Validate ``source`` and keep what it says in the run folder, where the report (and the bundle) reads it."""
    attestations = load_attestations(source)
    (run_dir / SNAPSHOT).write_text(json.dumps(to_snapshot(attestations, source), indent=2, ensure_ascii=False))
    return attestations

"""Attestation files: valid entries load; each malformed one is an error naming its line and field."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import pytest

from harness.core.paths import ATTESTATIONS
from harness.evidence.attestations import AttestationError, load_attestations

TODAY = datetime.date(2026, 11, 25)


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "attestations.yaml"
    path.write_text(body)
    return path


def entry(**changes: str) -> str:
    fields = {"requirement": "EH-2.2.2", "part": "Yearly penetration test by an authorised body",
              "attested_by": "Li Wei", "role": "Information security officer", "date": "2026-10-12",
              "sha256": "ab" * 32, "expires": "2027-10-12", **changes}
    return "- " + "\n  ".join(f"{k}: {v}" for k, v in fields.items() if v != "") + "\n"


def test_a_valid_attestation_loads_and_its_document_is_hashed(tmp_path: Path) -> None:
    report = tmp_path / "pentest.pdf"
    report.write_bytes(b"%PDF-1.7 pentest report")
    digest = hashlib.sha256(report.read_bytes()).hexdigest()
    [loaded] = load_attestations(write(tmp_path, entry(document="pentest.pdf", sha256=digest)), TODAY)
    assert loaded.requirement == "EH-2.2.2" and loaded.sha256 == digest and loaded.line == 1


@pytest.mark.parametrize(("changes", "message"), [
    ({"role": ""}, "field 'role' is required"),
    ({"requirement": "GD-1.2.5"}, "has no organisational part to attest"),
    ({"sha256": "1234"}, "sha256 must be the document's SHA-256"),
    ({"date": "2026-12-24"}, "is in the future"),
    ({"expires": "2026-10-01"}, "must come after date"),
    ({"document": "missing.pdf"}, "document missing.pdf does not exist"),
    ({"signed": "yes"}, "unknown field(s) signed"),
])
def test_a_malformed_attestation_is_refused_naming_its_line(tmp_path: Path, changes: dict, message: str) -> None:
    path = write(tmp_path, entry() + entry(**changes))
    with pytest.raises(AttestationError, match=f"{path}:8: .*{message.replace('(', '.').replace(')', '.')}"):
        load_attestations(path, TODAY)


def test_a_document_that_does_not_match_its_hash_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plan.pdf").write_bytes(b"the emergency plan")
    with pytest.raises(AttestationError, match="does not match its sha256"):
        load_attestations(write(tmp_path, entry(document="plan.pdf")), TODAY)


def test_the_committed_attestation_file_is_valid() -> None:
    assert load_attestations(ATTESTATIONS) == []

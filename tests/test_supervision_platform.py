"""The supervision platform simulator, run as the wan host runs it, on loopback: schema, receipts, modes, control."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness.core.waiting import wait_for
from infra.images import IMAGES_DIR

PROGRAM = IMAGES_DIR / "wan" / "rootfs" / "usr" / "local" / "sbin" / "ihh-supervision"
UPLOAD_TOKEN, CONTROL_TOKEN = "upload-t0ken-for-the-test", "control-t0ken-for-the-test"
VALID_ID = "11010519491231002X"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    return tmp / "cert.pem", tmp / "key.pem"


class Simulator:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        cert, key = self_signed(tmp)
        (tmp / "upload-token").write_text(UPLOAD_TOKEN)
        (tmp / "control-token").write_text(CONTROL_TOKEN)
        self.port, self.control = free_port(), free_port()
        self.config = {"listen": f"127.0.0.1:{self.port}", "control": f"127.0.0.1:{self.control}",
                       "cert_file": str(cert), "key_file": str(key), "token_file": str(tmp / "upload-token"),
                       "control_token_file": str(tmp / "control-token"), "store": str(tmp / "store" / "records.jsonl"),
                       "ready_file": str(tmp / "ready")}
        (tmp / "config.json").write_text(json.dumps(self.config))
        self.context = ssl.create_default_context(cafile=str(cert))
        self.start()

    def start(self) -> None:
        (self.tmp / "ready").unlink(missing_ok=True)
        self.process = subprocess.Popen([sys.executable, str(PROGRAM), str(self.tmp / "config.json")],
                                        stdout=subprocess.DEVNULL)
        wait_for("the simulator to be ready", lambda: (self.tmp / "ready").exists(), timeout=10, interval=0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def upload(self, records: object, token: str = UPLOAD_TOKEN, timeout: float = 10) -> tuple[int, dict]:
        request = urllib.request.Request(f"https://localhost:{self.port}/v1/records", method="POST",
                                         data=json.dumps({"records": records}).encode(),
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.context) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def control_call(self, method: str, path: str, body: object = None, token: str = CONTROL_TOKEN) -> tuple[int, dict]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.control}{path}", method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Simulator]:
    simulator = Simulator(tmp_path)
    yield simulator
    simulator.stop()


def consultation(patient: str = "p1", id_number: str = VALID_ID, department: str = "全科") -> dict:
    return {"record_id": uuid.uuid4().hex, "kind": "consultation", "patient_ref": patient,
            "occurred_at": "2026-11-26T10:00:00+00:00",
            "data": {"patient_id_number": id_number, "doctor_license": "LT000000000001", "department": department,
                     "consultation_id": 7, "booking_id": 9}}


def test_valid_records_are_accepted_once_and_a_resend_gets_the_same_receipt(platform: Simulator) -> None:
    first, second = consultation(), consultation(patient="p2")
    status, body = platform.upload([first, second])
    assert status == 200
    assert [r["status"] for r in body["receipts"]] == ["accepted", "accepted"]
    status, again = platform.upload([first])
    assert again["receipts"] == [{"record_id": first["record_id"], "status": "duplicate",
                                  "receipt": body["receipts"][0]["receipt"]}]
    _, held = platform.control_call("GET", "/control/records")
    assert [r["record_id"] for r in held["records"]] == [first["record_id"], second["record_id"]]
    assert [r["seq"] for r in held["records"]] == [1, 2] and held["resends"] == 1


@pytest.mark.parametrize(("change", "reason"), [
    ({"id_number": "110105194912310021"}, "data.patient_id_number: check character does not match (GB 11643)"),
    ({"department": "演练科室"}, "data.department: '演练科室' is not in the platform's department code table"),
])
def test_a_malformed_record_is_rejected_with_the_field_and_rule(platform: Simulator, change: dict,
                                                                 reason: str) -> None:
    good, bad = consultation(), consultation(**change)
    _, body = platform.upload([good, bad])
    assert [r["status"] for r in body["receipts"]] == ["accepted", "rejected"]
    assert body["receipts"][1]["reason"] == reason
    _, held = platform.control_call("GET", "/control/records")
    assert held["accepted"] == 1 and [r["reason"] for r in held["rejected"]] == [reason]


def test_a_missing_field_names_the_field(platform: Simulator) -> None:
    record = consultation()
    del record["data"]["doctor_license"]
    _, body = platform.upload([record])
    assert body["receipts"][0]["reason"] == "data.doctor_license: required for consultation"


def test_uploads_need_the_token_and_a_bounded_batch(platform: Simulator) -> None:
    assert platform.upload([consultation()], token="wrong")[0] == 401
    assert platform.upload([])[0] == 400
    status, body = platform.upload([consultation() for _ in range(1001)])
    assert status == 400 and body["error"].startswith("records:")
    assert platform.control_call("GET", "/control/records", token="wrong")[0] == 401


def test_modes_error_refuse_drop_and_slow(platform: Simulator) -> None:
    assert platform.control_call("PUT", "/control/mode", {"mode": "error", "status": 502})[0] == 200
    assert platform.upload([consultation()])[0] == 502
    platform.control_call("PUT", "/control/mode", {"mode": "refuse"})
    assert platform.upload([consultation()])[0] == 429
    platform.control_call("PUT", "/control/mode", {"mode": "drop"})
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        platform.upload([consultation()])
    platform.control_call("PUT", "/control/mode", {"mode": "slow", "delay_s": 0.3, "per_record_s": 0.1})
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        platform.upload([consultation(), consultation()], timeout=0.3)
    platform.control_call("DELETE", "/control/mode")
    assert platform.upload([consultation()])[0] == 200
    _, held = platform.control_call("GET", "/control/records")
    assert held["accepted"] == 3, "the slow upload was stored (the client gave up first), the others never were"


def test_a_bad_mode_is_refused_by_field(platform: Simulator) -> None:
    assert platform.control_call("PUT", "/control/mode", {"mode": "sleepy"}) == (
        400, {"error": "mode: must be one of normal, slow, error, refuse, drop"})
    assert platform.control_call("PUT", "/control/mode", {"mode": "slow", "delay_s": 100})[1]["error"].startswith(
        "delay_s:")


def test_what_was_accepted_outlives_a_restart(platform: Simulator) -> None:
    record = consultation()
    platform.upload([record])
    platform.stop()
    platform.start()
    _, body = platform.upload([record])
    assert body["receipts"][0]["status"] == "duplicate"
    assert platform.control_call("GET", "/control/records")[1]["accepted"] == 1

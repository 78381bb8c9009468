"""Sealing and verifying a bundle: every kind of tampering refused with its reason, the signer named or not.

The command line is what an assessor runs, so most cases go through ``harness verify-evidence
--json`` and its exit codes; the bundle is also verified with sha256sum and openssl alone.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.evidence.bundle import MANIFEST, PUBLIC_KEY, SIGNATURE, sign, verify, write_manifest
from harness.evidence.signing_key import SigningKey, fingerprint, public_pem_of

HARNESS = Path(sys.executable).with_name("harness")


def new_key() -> SigningKey:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return SigningKey(private, public_pem_of(key))


@pytest.fixture
def operator() -> SigningKey:
    return new_key()


@pytest.fixture
def bundle(tmp_path: Path, operator: SigningKey) -> Path:
    folder = tmp_path / "bundle"
    (folder / "chaos").mkdir(parents=True)
    (folder / "evidence.json").write_text('{"a": 1}')
    (folder / "chaos" / "journal.json").write_text("{}")
    sign(folder, operator)
    return folder


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    done = subprocess.run([str(HARNESS), "verify-evidence", "--json", *args], capture_output=True, text=True,
                          check=False, timeout=60, env={**os.environ, **(env or {})})
    return done.returncode, json.loads(done.stdout)


def fp(key: SigningKey) -> str:
    return key.fingerprint


def test_verified_only_against_a_key_the_reader_names(bundle: Path, operator: SigningKey, tmp_path: Path) -> None:
    public = tmp_path / "operator.pub.pem"
    public.write_text(operator.public_pem)
    code, by_key = cli(str(bundle), "--key", str(public))
    assert (code, by_key["status"]) == (0, "verified") and by_key["signer_fingerprint"] == fp(operator)
    code, by_fingerprint = cli(str(bundle), "--fingerprint", fp(operator).upper().replace("SHA256:", ""))
    assert (code, by_fingerprint["status"]) == (0, "verified"), by_fingerprint
    trust = tmp_path / "trusted"
    trust.write_text(f"# assessors' trust file\n{fp(operator)} Guangdong People's Hospital ops\n")
    code, by_trust = cli(str(bundle), "--trust", str(trust))
    assert (code, by_trust["status"]) == (0, "verified") and "Guangdong" in by_trust["signer"]


def test_without_a_named_key_the_bundle_is_intact_but_its_signer_unknown(bundle: Path) -> None:
    code, result = cli(str(bundle))
    assert (code, result["status"]) == (4, "signer_unknown")
    assert not result["problems"] and "anyone who re-signed it" in result["notes"][0]


@pytest.mark.parametrize("tamper", ["edit", "add", "remove", "re-sign", "outside", "symlink"])
def test_each_kind_of_tampering_is_refused_with_its_reason(bundle: Path, operator: SigningKey, tmp_path: Path,
                                                          tamper: str) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("not evidence")
    if tamper == "edit":
        (bundle / "evidence.json").write_text('{"a": 2}')
        reason = "evidence.json: modified after signing (SHA-256 differs)"
    elif tamper == "add":
        (bundle / "extra.txt").write_text("x")
        reason = "extra.txt: added after signing (not in the manifest)"
    elif tamper == "remove":
        (bundle / "chaos" / "journal.json").unlink()
        reason = "chaos/journal.json: listed in the manifest but missing"
    elif tamper == "re-sign":
        (bundle / "evidence.json").write_text('{"a": 2}')
        sign(bundle, new_key())
        reason = "re-signed by someone else"
    elif tamper == "outside":  # a manifest naming a file outside, signed by the operator: still not read
        manifest = bundle / MANIFEST
        manifest.write_text(manifest.read_text() + f"{'0' * 64}  ../outside.txt\n{'0' * 64}  /etc/hostname\n")
        key = serialization.load_pem_private_key(operator.private_pem.encode(), password=None)
        (bundle / SIGNATURE).write_text(base64.b64encode(key.sign(manifest.read_bytes())).decode())
        reason = "../outside.txt: outside the bundle or a symlink, so not read"
    else:
        (bundle / "linked.json").symlink_to(outside)
        reason = "linked.json: a symlink, which a bundle may not hold"
    code, result = cli(str(bundle), "--fingerprint", fp(operator))
    assert (code, result["status"]) == (1, "tampered"), result
    assert any(reason in p for p in result["problems"]), result["problems"]


def test_a_re_signed_bundle_fools_only_a_reader_who_names_no_key(bundle: Path, operator: SigningKey) -> None:
    (bundle / "evidence.json").write_text('{"a": 2}')
    forger = new_key()
    sign(bundle, forger)
    assert verify(bundle).status == "signer_unknown", "integrity holds under the forger's shipped key"
    code, result = cli(str(bundle), "--fingerprint", fp(operator))
    assert code == 1 and f"signed by {fp(forger)}" in result["problems"][0]


def test_bad_input_is_its_own_exit_code(tmp_path: Path, bundle: Path) -> None:
    code, result = cli(str(tmp_path / "missing"))
    assert (code, result["status"]) == (2, "bad_input")
    code, result = cli(str(bundle), "--fingerprint", "sha256:xyz")
    assert code == 2 and "--fingerprint" in result["problems"][0] and "64 hex digits" in result["problems"][0]


def test_the_bundle_verifies_with_sha256sum_and_openssl_alone(bundle: Path, operator: SigningKey,
                                                              tmp_path: Path) -> None:
    """The README's route for an assessor without the harness."""
    assert shutil.which("openssl") and shutil.which("sha256sum")
    subprocess.run(["sha256sum", "--quiet", "-c", MANIFEST], cwd=bundle, check=True, timeout=30)
    public = tmp_path / "signer.pub.pem"
    public.write_text(operator.public_pem)
    signature = tmp_path / "sig.bin"
    signature.write_bytes(base64.b64decode((bundle / SIGNATURE).read_text()))
    checked = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public), "-rawin",
                              "-in", str(bundle / MANIFEST), "-sigfile", str(signature)],
                             capture_output=True, text=True, check=False, timeout=30)
    assert checked.returncode == 0 and "Signature Verified Successfully" in checked.stdout, checked
    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(public), "-outform", "DER"], capture_output=True,
                         check=True, timeout=30).stdout
    digest = subprocess.run(["sha256sum"], input=der, capture_output=True, check=True, timeout=30).stdout.split()[0]
    assert "sha256:" + digest.decode() == fingerprint((bundle / PUBLIC_KEY).read_text()) == fp(operator)
    (bundle / "evidence.json").write_text('{"a": 2}')
    assert subprocess.run(["sha256sum", "--quiet", "-c", MANIFEST], cwd=bundle, capture_output=True,
                          check=False, timeout=30).returncode != 0
    write_manifest(bundle)  # an edited file with a rewritten manifest: the signature no longer holds
    forged = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public), "-rawin",
                             "-in", str(bundle / MANIFEST), "-sigfile", str(signature)],
                            capture_output=True, text=True, check=False, timeout=30)
    assert forged.returncode != 0

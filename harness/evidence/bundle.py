"""The bundle's integrity: a SHA-256 manifest of every file, signed with the operator's ed25519 key.

``verify`` checks the signature first, under a key the reader names (a public key, a
fingerprint, or a trust file), then every listed file's hash, and refuses entries outside
the bundle, symlinks and files added after signing. The public key shipped in the bundle
is a convenience: it proves nothing by itself, since whoever re-signs a bundle ships theirs.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.evidence.signing_key import SigningKey, fingerprint

MANIFEST = "manifest.sha256"
SIGNATURE = "manifest.sha256.sig"
PUBLIC_KEY = "signing-key.pub.pem"
UNSIGNED = {MANIFEST, SIGNATURE}


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _files(bundle: Path) -> list[Path]:
    return sorted(p for p in bundle.rglob("*") if p.is_file() and p.relative_to(bundle).as_posix() not in UNSIGNED)


def write_manifest(bundle: Path) -> Path:
    """``sha256sum``-compatible lines, one per file, paths relative to the bundle."""
    lines = [f"{_digest(p)}  {p.relative_to(bundle).as_posix()}" for p in _files(bundle)]
    path = bundle / MANIFEST
    path.write_text("\n".join(lines) + "\n")
    return path


def sign(bundle: Path, signing_key: SigningKey) -> None:
    key = serialization.load_pem_private_key(signing_key.private_pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the evidence signing key must be ed25519")
    (bundle / PUBLIC_KEY).write_text(signing_key.public_pem)
    manifest = write_manifest(bundle)
    signature = key.sign(manifest.read_bytes())
    (bundle / SIGNATURE).write_text(base64.b64encode(signature).decode() + "\n")


def unsign(bundle: Path) -> None:
    """Remove a manifest and signature that no longer describe the bundle (it was rebuilt without a key)."""
    for name in (MANIFEST, SIGNATURE, PUBLIC_KEY):
        (bundle / name).unlink(missing_ok=True)


Status = Literal["verified", "tampered", "signer_unknown", "bad_input"]
EXIT_CODES: dict[str, int] = {"verified": 0, "tampered": 1, "bad_input": 2, "signer_unknown": 4}
"""The harness's exit codes (0 success, 1 a failed verdict, 2 bad input, 3 could not run), and 4 for a bundle
that is intact but whose signer nothing named vouches for."""


@dataclass(frozen=True)
class Trust:
    """Whom the reader trusts: a public key they hold, fingerprints they named, or signers from a trust file.

    A mismatch with what the reader named explicitly is tampering; a signer merely absent
    from a trust file (or nothing named at all) leaves the signer unknown.
    """

    public_pem: str | None = None
    fingerprints: frozenset[str] = frozenset()
    trusted: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def explicit(self) -> bool:
        return self.public_pem is not None or bool(self.fingerprints)


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    files: int = 0
    signature_holds: bool = False
    signer_fingerprint: str = ""
    signer: str = ""
    """Who the signer is to the reader: the key or fingerprint they named, or the trust file's name for it."""
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        if self.problems or not self.signature_holds:
            return "tampered"
        return "verified" if self.signer else "signer_unknown"

    def fail(self, problem: str) -> None:
        self.problems.append(problem)

    def to_json(self, bundle: Path) -> dict[str, Any]:
        return {"bundle": str(bundle), "status": self.status, "exit_code": EXIT_CODES[self.status],
                "files": self.files, "signer_fingerprint": self.signer_fingerprint or None,
                "signer": self.signer or None, "problems": self.problems, "notes": self.notes}


def _inside(bundle: Path, name: str) -> bool:
    """A manifest entry names a regular file inside the bundle: relative, no ``..``, no symlink on the way."""
    if not name or name.startswith("/") or ".." in Path(name).parts:
        return False
    path, root = bundle / name, bundle.resolve()
    return not path.is_symlink() and path.resolve().is_relative_to(root)


def _holds(public_pem: str, signature: bytes, message: bytes) -> bool:
    key = serialization.load_pem_public_key(public_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _shipped_key(bundle: Path) -> str | None:
    shipped = bundle / PUBLIC_KEY
    if not shipped.is_file() or shipped.is_symlink():
        return None
    try:
        pem = shipped.read_text()
        fingerprint(pem)
    except ValueError:
        return None
    return pem


def _check_signature(bundle: Path, manifest: Path, trust: Trust, result: Verification) -> None:
    try:
        signature = base64.b64decode((bundle / SIGNATURE).read_text().strip(), validate=True)
    except FileNotFoundError:
        result.fail(f"{SIGNATURE} is missing: the bundle was never signed")
        return
    except ValueError:
        result.fail(f"{SIGNATURE} is not base64")
        return
    message, shipped = manifest.read_bytes(), _shipped_key(bundle)
    shipped_holds = shipped is not None and _holds(shipped, signature, message)
    if trust.public_pem is not None:
        named = fingerprint(trust.public_pem)
        if _holds(trust.public_pem, signature, message):
            result.signature_holds, result.signer_fingerprint, result.signer = True, named, trust.source
        elif shipped_holds and shipped is not None:
            result.fail(f"signed by {fingerprint(shipped)}, not by the key you named ({named}): "
                        "re-signed by someone else")
        else:
            result.fail(f"{SIGNATURE} does not match {MANIFEST} under the key you named ({named})")
        return
    if not shipped_holds or shipped is None:
        result.fail(f"{SIGNATURE} does not match {MANIFEST} under the bundle's {PUBLIC_KEY}" if shipped
                    else f"{PUBLIC_KEY} is missing or not a public key, and you named no key to check with")
        return
    result.signature_holds, result.signer_fingerprint = True, fingerprint(shipped)
    if trust.fingerprints:
        if result.signer_fingerprint in trust.fingerprints:
            result.signer = f"the fingerprint you named ({result.signer_fingerprint})"
        else:
            result.fail(f"signed by {result.signer_fingerprint}, not by the fingerprint you named "
                        f"({', '.join(sorted(trust.fingerprints))}): re-signed by someone else")
    elif result.signer_fingerprint in trust.trusted:
        result.signer = f"{trust.trusted[result.signer_fingerprint]} (trusted in {trust.source})"
    else:
        result.notes.append(
            f"the signature holds under the key the bundle ships ({result.signer_fingerprint}), which anyone who "
            "re-signed it would ship too" + (f"; that key is not in {trust.source}" if trust.source else "")
            + "; name the signer with --key or --fingerprint")


def verify(bundle: Path, trust: Trust | None = None) -> Verification:
    """The signature over the manifest first, then every listed file's hash; nothing outside the bundle is read."""
    result = Verification()
    manifest = bundle / MANIFEST
    if not manifest.is_file() or manifest.is_symlink():
        result.fail(f"{MANIFEST} is missing: the bundle was never sealed")
        return result
    _check_signature(bundle, manifest, trust or Trust(), result)
    listed: dict[str, str] = {}
    for line in manifest.read_text().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    result.files = len(listed)
    for name, digest in listed.items():
        path = bundle / name
        if not _inside(bundle, name):
            result.fail(f"{name}: outside the bundle or a symlink, so not read")
        elif not path.exists():
            result.fail(f"{name}: listed in the manifest but missing")
        elif _digest(path) != digest:
            result.fail(f"{name}: modified after signing (SHA-256 differs)")
    for path in sorted(bundle.rglob("*")):
        name = path.relative_to(bundle).as_posix()
        if path.is_symlink():
            if name not in listed:
                result.fail(f"{name}: a symlink, which a bundle may not hold")
        elif path.is_file() and name not in UNSIGNED and name not in listed:
            result.fail(f"{name}: added after signing (not in the manifest)")
    return result

"""The bundle's integrity: a SHA-256 manifest of every file, signed with the stack's ed25519 key.

``verify`` recomputes every hash, finds files added or removed since signing, and
checks the signature with the public key given (the stack's, from its outputs) or,
failing that, the one shipped in the bundle, saying which it used.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

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


@dataclass(frozen=True)
class SigningKey:
    """The ed25519 key a bundle is sealed with: the private half signs, the public half ships for reference."""

    private_pem: str
    public_pem: str

    def __repr__(self) -> str:  # never print the private half
        return "SigningKey(private_pem=[secret], public_pem=...)"


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


@dataclass
class Verification:
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    key_source: str = ""
    files: int = 0
    signer_verified: bool = False
    """The signature holds under a key the reader named, not merely under the key the bundle ships."""

    def fail(self, problem: str) -> None:
        self.ok = False
        self.problems.append(problem)


def _inside(bundle: Path, name: str) -> bool:
    """A manifest entry names a regular file inside the bundle: relative, no ``..``, no symlink on the way."""
    if not name or name.startswith("/") or ".." in Path(name).parts:
        return False
    path, root = bundle / name, bundle.resolve()
    return not path.is_symlink() and path.resolve().is_relative_to(root)


def _check_signature(bundle: Path, manifest: Path, public_key_pem: str | None, named_as: str,
                     result: Verification) -> None:
    if public_key_pem is None:
        shipped = bundle / PUBLIC_KEY
        if not shipped.exists() or shipped.is_symlink():
            result.fail(f"no public key given and {PUBLIC_KEY} is missing")
            return
        public_key_pem = shipped.read_text()
        result.key_source = f"the bundle's own {PUBLIC_KEY} (pass the signer's key to rule out a re-signed bundle)"
    else:
        result.key_source = named_as
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, Ed25519PublicKey):
        result.fail("the public key is not ed25519")
        return
    try:
        signature = base64.b64decode((bundle / SIGNATURE).read_text().strip())
        key.verify(signature, manifest.read_bytes())
        result.signer_verified = result.key_source == named_as
    except FileNotFoundError:
        result.fail(f"{SIGNATURE} is missing")
    except (InvalidSignature, ValueError):
        result.fail(f"{SIGNATURE} does not match {MANIFEST} under {result.key_source}")


def verify(bundle: Path, public_key_pem: str | None = None, named_as: str = "the stack's evidence key"
           ) -> Verification:
    """The signature over the manifest first, then every listed file's hash; nothing outside the bundle is read."""
    result = Verification()
    manifest = bundle / MANIFEST
    if not manifest.exists() or manifest.is_symlink():
        result.fail(f"{MANIFEST} is missing: the bundle was never sealed")
        return result
    _check_signature(bundle, manifest, public_key_pem, named_as, result)
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

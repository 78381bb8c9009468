"""The operator's evidence signing key: made once, kept outside the project, owner-only, never in a bundle.

A bundle must stay verifiable after the stack that produced it is gone, so the key that
seals it belongs to whoever runs the harness, not to a stack. Its fingerprint is the
SHA-256 of the public key's DER form, which an assessor can recompute with
``openssl pkey -pubin -outform DER | sha256sum``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from harness.core.paths import EVIDENCE_KEY, EVIDENCE_ROOT, EVIDENCE_TRUST, REPO_ROOT, STATE_ROOT

FINGERPRINT_PREFIX = "sha256:"


class SigningKeyError(ValueError):
    """The operator's key is missing, unsafe or malformed; the message says which and what to do."""


@dataclass(frozen=True)
class SigningKey:
    """The ed25519 key a bundle is sealed with: the private half signs, the public half ships for reference."""

    private_pem: str
    public_pem: str

    def __repr__(self) -> str:  # never print the private half
        return f"SigningKey({fingerprint(self.public_pem)})"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_pem)


def fingerprint(public_pem: str) -> str:
    """``sha256:<hex>`` of the public key's SubjectPublicKeyInfo DER; the same as openssl's DER piped to sha256sum."""
    key = serialization.load_pem_public_key(public_pem.encode())
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return FINGERPRINT_PREFIX + hashlib.sha256(der).hexdigest()


def public_pem_of(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _refuse_project_state(path: Path) -> None:
    resolved = path.expanduser().resolve()
    for forbidden, what in ((STATE_ROOT, "the stacks' state folder"), (EVIDENCE_ROOT, "the evidence folder"),
                            (REPO_ROOT / ".harness", "the project's state folder")):
        if resolved.is_relative_to(forbidden.resolve()):
            raise SigningKeyError(f"IHH_EVIDENCE_KEY={path}: the key may not live in {what} ({forbidden}): "
                                  "it must outlive every stack and never reach a bundle")


def init_key(path: Path = EVIDENCE_KEY) -> tuple[SigningKey, bool]:
    """The key at ``path``, created (0600, its folder 0700) if absent; True when it was created now."""
    _refuse_project_state(path)
    if path.exists():
        return load_key(path), False
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    public = public_pem_of(key)
    path.with_name(path.name.removesuffix(".pem") + ".pub.pem").write_text(public)
    return SigningKey(pem.decode(), public), True


def load_key(path: Path = EVIDENCE_KEY) -> SigningKey:
    """The operator's key; refused when missing, readable by others, inside the project's state, or not ed25519."""
    _refuse_project_state(path)
    if not path.exists():
        raise SigningKeyError(f"no evidence signing key at {path}: create it once with `harness keys init` "
                              "(or point IHH_EVIDENCE_KEY at the operator's key file)")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SigningKeyError(f"{path}: mode {mode:04o} lets others read the evidence signing key; "
                              f"run `chmod 600 {path}`")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise SigningKeyError(f"{path}: not a PEM private key without passphrase ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: the evidence signing key must be ed25519, not {type(key).__name__}")
    return SigningKey(path.read_text(), public_pem_of(key))


def read_public_key(path: Path) -> str:
    """A public key file the reader names (a private key file gives its public half); ed25519 only."""
    data = path.read_bytes()
    try:
        if b"PRIVATE KEY" in data:
            private = serialization.load_pem_private_key(data, password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise SigningKeyError(f"{path}: not an ed25519 key")
            return public_pem_of(private)
        public = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise SigningKeyError(f"{path}: not a PEM key ({exc})") from exc
    if not isinstance(public, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an ed25519 public key")
    return data.decode()


def normalise_fingerprint(text: str, field: str = "--fingerprint") -> str:
    """``sha256:<64 hex>`` (the prefix optional, case and colons between bytes ignored), or a clear error."""
    value = text.strip().lower().removeprefix(FINGERPRINT_PREFIX).replace(":", "")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise SigningKeyError(f"{field}: {text!r} is not a SHA-256 fingerprint (64 hex digits, "
                              f"optionally prefixed {FINGERPRINT_PREFIX})")
    return FINGERPRINT_PREFIX + value


def trusted_signers(path: Path = EVIDENCE_TRUST) -> dict[str, str]:
    """Fingerprint -> name from a trust file (``sha256:<hex> name`` a line, # comments); {} when there is none."""
    if not path.exists():
        return {}
    signers: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        value, _, name = line.partition(" ")
        signers[normalise_fingerprint(value, f"{path}:{number}")] = name.strip() or "(unnamed)"
    return signers

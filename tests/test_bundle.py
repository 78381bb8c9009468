"""The bundle's manifest and signature: a modified, added or removed file and a bad signature are caught."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from harness.evidence.bundle import SIGNATURE, SigningKey, sign, verify


def keypair() -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def sealed(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "evidence.json").write_text('{"a": 1}')
    (tmp_path / "chaos").mkdir()
    (tmp_path / "chaos" / "journal.json").write_text("{}")
    private, public = keypair()
    sign(tmp_path, SigningKey(private, public))
    return tmp_path, public


def test_a_sealed_bundle_verifies_with_the_stack_key(tmp_path: Path) -> None:
    bundle, public = sealed(tmp_path)
    result = verify(bundle, public)
    assert result.ok, result.problems
    assert result.files == 3 and result.key_source == "the stack's evidence key" and result.signer_verified


def test_a_modified_file_is_named(tmp_path: Path) -> None:
    bundle, public = sealed(tmp_path)
    (bundle / "chaos" / "journal.json").write_text('{"verdict": "pass"}')
    result = verify(bundle, public)
    assert not result.ok
    assert result.problems == ["chaos/journal.json: modified after signing (SHA-256 differs)"]


def test_added_and_removed_files_are_named(tmp_path: Path) -> None:
    bundle, public = sealed(tmp_path)
    (bundle / "extra.txt").write_text("x")
    (bundle / "evidence.json").unlink()
    problems = verify(bundle, public).problems
    assert "evidence.json: listed in the manifest but missing" in problems
    assert "extra.txt: added after signing (not in the manifest)" in problems


def test_a_bad_signature_and_a_foreign_key_are_caught(tmp_path: Path) -> None:
    bundle, public = sealed(tmp_path)
    _other_private, other_public = keypair()
    assert not verify(bundle, other_public).ok
    (bundle / SIGNATURE).write_text("AAAA" + (bundle / SIGNATURE).read_text()[4:])
    result = verify(bundle, public)
    assert not result.ok and "does not match" in result.problems[0]


def test_a_re_signed_bundle_passes_only_its_own_key(tmp_path: Path) -> None:
    """Someone who edits a file and re-signs with their own key fools the bundle's key, not the stack's."""
    bundle, public = sealed(tmp_path)
    (bundle / "evidence.json").write_text('{"a": 2}')
    forger_private, forger_public = keypair()
    sign(bundle, SigningKey(forger_private, forger_public))
    assert verify(bundle).ok and "bundle's own" in verify(bundle).key_source
    assert not verify(bundle).signer_verified, "the bundle's own key proves integrity, not who signed"
    assert not verify(bundle, public).ok


def test_entries_outside_the_bundle_and_symlinks_are_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "bundle").mkdir()
    bundle, public = sealed(tmp_path / "bundle")
    secret = tmp_path / "outside.txt"
    secret.write_text("not evidence")
    manifest = bundle / "manifest.sha256"
    manifest.write_text(manifest.read_text() + f"{'0' * 64}  ../outside.txt\n{'0' * 64}  /etc/hostname\n")
    (bundle / "linked.json").symlink_to(secret)
    result = verify(bundle, public)
    assert not result.ok
    assert "../outside.txt: outside the bundle or a symlink, so not read" in result.problems
    assert "/etc/hostname: outside the bundle or a symlink, so not read" in result.problems
    assert "linked.json: a symlink, which a bundle may not hold" in result.problems
    assert any("does not match" in p for p in result.problems), "the edited manifest breaks the signature first"

"""The operator's evidence key: created once, owner-only, refused when others can read it or it sits in state."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.paths import REPO_ROOT
from harness.evidence.signing_key import SigningKeyError, init_key, load_key, normalise_fingerprint, trusted_signers

HARNESS = Path(sys.executable).with_name("harness")


def test_init_creates_an_owner_only_key_once(tmp_path: Path) -> None:
    path = tmp_path / "ihh" / "evidence-signing-key.pem"
    key, created = init_key(path)
    assert created and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    again, created_again = init_key(path)
    assert not created_again and again.fingerprint == key.fingerprint, "init keeps the key it made"
    assert load_key(path).fingerprint == key.fingerprint and "PRIVATE" not in repr(key)


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    init_key(path)
    path.chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_key(path)


def test_a_key_inside_the_projects_state_is_refused() -> None:
    with pytest.raises(SigningKeyError, match="may not live in"):
        init_key(REPO_ROOT / ".harness" / "stacks" / "local" / "evidence.pem")


def test_a_missing_key_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(SigningKeyError, match="harness keys init"):
        load_key(tmp_path / "none.pem")


def test_fingerprints_and_trust_files_are_validated(tmp_path: Path) -> None:
    assert normalise_fingerprint("AB" * 32) == "sha256:" + "ab" * 32
    with pytest.raises(SigningKeyError, match="64 hex digits"):
        normalise_fingerprint("sha256:1234")
    trust = tmp_path / "trusted"
    trust.write_text(f"sha256:{'cd' * 32}  ops team\n\nnot-a-fingerprint someone\n")
    with pytest.raises(SigningKeyError, match=f"{trust}:3"):
        trusted_signers(trust)


def test_keys_init_and_show_from_the_command_line(tmp_path: Path) -> None:
    env = {"IHH_EVIDENCE_KEY": str(tmp_path / "k.pem"), "PATH": "/usr/bin:/bin"}
    made = subprocess.run([str(HARNESS), "keys", "init"], capture_output=True, text=True, check=False, env=env,
                          timeout=60)
    assert made.returncode == 0 and "created" in made.stdout and "fingerprint sha256:" in made.stdout
    shown = subprocess.run([str(HARNESS), "keys", "show"], capture_output=True, text=True, check=False, env=env,
                           timeout=60)
    assert shown.returncode == 0 and made.stdout.split("fingerprint ")[1][:71] in shown.stdout
    assert "BEGIN PUBLIC KEY" in shown.stdout and "PRIVATE" not in shown.stdout

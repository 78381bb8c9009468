"""SSH connects retry a garbled handshake a bounded number of times, and never a key problem."""

from __future__ import annotations

import paramiko
import pytest

from harness.core import ssh


def _flaky(failures: list[Exception]):
    calls: list[str] = []

    def connect_once(outputs, name, timeout_s):
        calls.append(name)
        if failures:
            raise failures.pop(0)
        return "session"
    return connect_once, calls


def test_a_garbled_handshake_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    once, calls = _flaky([paramiko.SSHException("Invalid packet blocking"), EOFError()])
    monkeypatch.setattr(ssh, "_connect_once", once)
    assert ssh.connect(None, "db-1") == "session"
    assert calls == ["db-1"] * 3


def test_retries_are_bounded_and_the_error_names_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    once, calls = _flaky([paramiko.SSHException("Invalid packet blocking")] * 5)
    monkeypatch.setattr(ssh, "_connect_once", once)
    with pytest.raises(paramiko.SSHException, match="ssh to db-1: handshake failed 3 times"):
        ssh.connect(None, "db-1")
    assert len(calls) == ssh.HANDSHAKE_ATTEMPTS


@pytest.mark.parametrize("error", [
    paramiko.AuthenticationException("key refused"),
    paramiko.BadHostKeyException("db-1", paramiko.RSAKey.generate(1024), paramiko.RSAKey.generate(1024)),
])
def test_key_problems_are_never_retried(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    once, calls = _flaky([error])
    monkeypatch.setattr(ssh, "_connect_once", once)
    with pytest.raises(type(error)):
        ssh.connect(None, "db-1")
    assert calls == ["db-1"]

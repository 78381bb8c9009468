"""SSH connects retry a garbled handshake a bounded number of times, and never a key problem."""

from __future__ import annotations

import io

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


class _Channel:
    def __init__(self, out: bytes) -> None:
        self.out = out

    def settimeout(self, timeout: float) -> None:
        self.timeout = timeout

    def exec_command(self, command: bytes) -> None:
        self.command = command

    def shutdown_write(self) -> None:
        pass

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self.out)

    def makefile_stderr(self, mode: str) -> io.BytesIO:
        return io.BytesIO()

    def recv_exit_status(self) -> int:
        return 0

    def close(self) -> None:
        pass


class _Transport:
    def __init__(self, alive: bool) -> None:
        self.alive = alive

    def is_active(self) -> bool:
        return self.alive

    def open_session(self, timeout: float | None = None) -> _Channel:
        if not self.alive:
            raise paramiko.SSHException("SSH session not active")
        return _Channel(b"ok\n")


class _Client:
    def __init__(self, alive: bool) -> None:
        self.transport = _Transport(alive)

    def get_transport(self) -> _Transport:
        return self.transport


def test_testinfra_reconnects_through_the_verified_client_not_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """testinfra rebuilds a dropped client with WarningPolicy (any host key); ours must come back instead."""
    from checks import hosts
    from harness.core.outputs import StackOutputs
    from tests.helpers import outputs_record

    clients = [_Client(alive=False), _Client(alive=True)]
    made: list[str] = []

    def verified(outputs, name):
        made.append(name)
        return clients.pop(0)

    monkeypatch.setattr(hosts, "connect", verified)
    monkeypatch.setattr(paramiko, "SSHClient", lambda: pytest.fail("testinfra built its own client"))
    host = hosts.testinfra_host(StackOutputs.parse("t", outputs_record()), "db-1")
    assert host.run("true").stdout == "ok\n"
    assert made == ["db-1", "db-1"], "the dead client was replaced by a verified one"


def test_a_replaced_ca_file_is_trusted_at_once(tmp_path) -> None:
    """down + up writes a new CA to the same path; a context cached by path would keep trusting the old one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from harness.core.http_json import tls_context

    def ca_pem(name: str) -> str:
        import datetime

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM).decode()

    path = tmp_path / "ca.crt"
    path.write_text(ca_pem("first CA"))
    first = tls_context(path)
    path.write_text(ca_pem("second CA"))
    second = tls_context(path)
    assert first is not second
    assert [c["subject"] for c in second.get_ca_certs()] == [((("commonName", "second CA"),),)]

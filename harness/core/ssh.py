"""SSH to a stack host with the stack's key, verifying the host key the stack generated.

Strict host-key checking with keys from the outputs: no trust-on-first-use, so a
check never talks to an impostor and never needs a known_hosts file.
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass

import paramiko

from harness.core.outputs import StackOutputs
from harness.core.progress import say
from infra.drill_access import WRAPPER


class RemoteCommandError(RuntimeError):
    """A command on a host exited non-zero; carries host, command, exit code and stderr."""


class RemoteCommandTimeoutError(RemoteCommandError):
    """A command on a host did not finish within its deadline: it hangs, or the host stopped answering."""


@dataclass(frozen=True)
class Result:
    """What a remote command printed and how it exited."""

    host: str
    command: str
    exit_code: int
    stdout: str
    stderr: str


HANDSHAKE_ATTEMPTS = 3
# paramiko prints a traceback of its own for every failed handshake (a host still starting after a drill):
# connect() retries and reports those in one line, and raises with the cause when it gives up
logging.getLogger("paramiko.transport").setLevel(logging.CRITICAL)


def connect(outputs: StackOutputs, name: str, timeout_s: float = 10.0) -> paramiko.SSHClient:
    """An authenticated SSH session to host ``name`` as the ops user.

    A handshake garbled in transit ("Invalid packet blocking", seen once in a CI run under load)
    is retried up to HANDSHAKE_ATTEMPTS times; a wrong host key or a refused key never is.
    """
    for attempt in range(1, HANDSHAKE_ATTEMPTS + 1):
        try:
            return _connect_once(outputs, name, timeout_s)
        except (paramiko.BadHostKeyException, paramiko.AuthenticationException):
            raise
        except (paramiko.SSHException, EOFError, ConnectionResetError) as exc:
            if attempt == HANDSHAKE_ATTEMPTS:
                raise paramiko.SSHException(f"ssh to {name}: handshake failed {attempt} times, last: {exc}") from exc
            say(f"ssh to {name}: handshake failed ({exc}); attempt {attempt + 1} of {HANDSHAKE_ATTEMPTS}")
    raise AssertionError("unreachable")


def _connect_once(outputs: StackOutputs, name: str, timeout_s: float) -> paramiko.SSHClient:
    host = outputs.host(name)
    address, port = host.ssh_endpoint
    key_type, key_b64 = host.ssh_host_key.split()[:2]
    client = paramiko.SSHClient()
    client.get_host_keys().add(f"[{address}]:{port}", key_type, paramiko.Ed25519Key(data=base64.b64decode(key_b64)))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        client.connect(
            address,
            port=port,
            username=outputs.ssh_user,
            pkey=paramiko.Ed25519Key.from_private_key_file(str(outputs.ssh_key_path)),
            timeout=timeout_s,
            banner_timeout=timeout_s,
            auth_timeout=timeout_s,
            allow_agent=False,
            look_for_keys=False,
        )
    except BaseException:
        client.close()
        raise
    return client


def transport_of(client: paramiko.SSHClient, host: str) -> paramiko.Transport:
    """The client's transport, or SSHException when its session is closed."""
    transport = client.get_transport()
    if transport is None:
        raise paramiko.SSHException(f"ssh to {host}: the session is closed")
    return transport


def exchange(transport: paramiko.Transport, host: str, command: str | bytes, timeout_s: float,
             stdin: str | None = None) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of ``command``, all of it within ``timeout_s`` or RemoteCommandTimeoutError.

    paramiko's own waits for the command's start and for its exit status have no deadline: a host that stops
    answering mid-command (its network cut, its container frozen) would hold the caller forever. A timer closes
    the channel at the deadline, which wakes every one of those waits. Both outputs are read before the exit
    status, so an output larger than the channel's window cannot stall the command.
    """
    channel = transport.open_session(timeout=timeout_s)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        channel.close()

    timer = threading.Timer(timeout_s, expire)
    timer.daemon = True
    timer.start()
    try:
        channel.settimeout(timeout_s)
        channel.exec_command(command)
        if stdin is not None:
            channel.sendall(stdin.encode())
        channel.shutdown_write()
        stdout = channel.makefile("rb").read()
        stderr = channel.makefile_stderr("rb").read()
        exit_code = channel.recv_exit_status()
        if not expired.is_set():  # finished before the deadline (the timer may fire between here and cancel)
            return exit_code, stdout, stderr
    except (OSError, paramiko.SSHException) as exc:  # socket.timeout is an OSError
        if not expired.is_set() and not isinstance(exc, TimeoutError):
            raise
    finally:
        timer.cancel()
    channel.close()
    shown = command.decode(errors="replace") if isinstance(command, bytes) else command
    raise RemoteCommandTimeoutError(f"{host}: `{shown}` did not finish within {timeout_s:g} s (the command hangs, "
                                    "or the host stopped answering)")


def run(client: paramiko.SSHClient, host: str, command: str, timeout_s: float = 120.0, check: bool = True,
        stdin: str | None = None) -> Result:
    """Run ``command`` (fed ``stdin``, when given) within ``timeout_s``; with ``check`` a non-zero exit raises
    RemoteCommandError."""
    exit_code, stdout, stderr = exchange(transport_of(client, host), host, command, timeout_s, stdin)
    result = Result(host, command, exit_code, stdout.decode(errors="replace"), stderr.decode(errors="replace"))
    if check and exit_code != 0:
        raise RemoteCommandError(f"{host}: `{command}` exited {exit_code}: {result.stderr.strip()[-800:]}")
    return result


def as_root(command: str) -> str:
    """``command`` (one of the drills' own, spelled as a shell would split it) run as root through the wrapper."""
    return f"sudo -n {WRAPPER} {command}"


def then(*commands: str) -> str:
    """Commands the wrapper runs one after another in one call (a shell's ``;``)."""
    return " ';' ".join(commands)


class Sessions:
    """SSH sessions to the stack's hosts, opened on first use, closed together (a drill talks to many)."""

    def __init__(self, outputs: StackOutputs) -> None:
        self.outputs = outputs
        self._open: dict[str, paramiko.SSHClient] = {}

    def run(self, host: str, command: str, timeout_s: float = 600, check: bool = True, root: bool = True) -> str:
        """``command`` on ``host`` as root (through the drill wrapper); its standard output."""
        return self.result(host, command, timeout_s, check, root=root).stdout

    def result(self, host: str, command: str, timeout_s: float = 600, check: bool = False,
               stdin: str | None = None, root: bool = True) -> Result:
        """``command`` on ``host``, with its exit code and both outputs: as root through the drill wrapper
        (the one command the ops account may sudo, which refuses anything but the drills' own commands), or,
        with ``root=False``, as the ops account itself.

        A session whose connection has gone (the host restarted, say) is opened again first.
        """
        transport = self._open[host].get_transport() if host in self._open else None
        if transport is None or not transport.is_active():
            self.forget(host)
            self._open[host] = connect(self.outputs, host)
        line = as_root(command) if root else command
        try:
            return run(self._open[host], host, line, timeout_s=timeout_s, check=check, stdin=stdin)
        except RemoteCommandTimeoutError:
            self.forget(host)  # a session that stopped answering is not reused
            raise

    def forget(self, host: str) -> None:
        """Close ``host``'s session (it broke, say); the next command opens a new one."""
        client = self._open.pop(host, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        for client in self._open.values():
            client.close()
        self._open.clear()

    def __enter__(self) -> Sessions:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""A remote command ends within its deadline, whatever the host does: against a real SSH server (paramiko's) that
never answers the command, never ends it, or sends more output than the channel's window."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import paramiko
import pytest

from harness.core.ssh import RemoteCommandTimeoutError, exchange

Behaviour = Callable[[paramiko.Channel, bytes], None]


class _Server(paramiko.ServerInterface):
    def __init__(self, behaviour: Behaviour, released: threading.Event) -> None:
        self.behaviour, self.released = behaviour, released

    def get_allowed_auths(self, username: str) -> str:
        return "none"

    def check_auth_none(self, username: str) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        if command == b"no answer":  # the host stops answering once the command is sent
            self.released.wait(30)
            return False
        threading.Thread(target=self.behaviour, args=(channel, command), daemon=True).start()
        return True


def _hangs(channel: paramiko.Channel, command: bytes) -> None:
    """Started, never ends: no output, no exit status."""


def _floods(channel: paramiko.Channel, command: bytes) -> None:
    """Three times paramiko's default window of output on stdout, some on stderr, then exit status 3."""
    channel.sendall(b"x" * (3 * paramiko.common.DEFAULT_WINDOW_SIZE))
    channel.sendall_stderr(b"done\n")
    channel.send_exit_status(3)
    channel.close()


@pytest.fixture
def session(request: pytest.FixtureRequest) -> Iterator[paramiko.Transport]:
    """A client transport authenticated to a paramiko server on loopback acting as ``request.param`` says."""
    listener = socket.create_server(("127.0.0.1", 0))
    released = threading.Event()
    servers: list[paramiko.Transport] = []

    def serve() -> None:
        conn, _ = listener.accept()
        server = paramiko.Transport(conn)
        server.add_server_key(paramiko.RSAKey.generate(1024))
        servers.append(server)
        server.start_server(server=_Server(request.param, released))

    threading.Thread(target=serve, daemon=True).start()
    client = paramiko.Transport(socket.create_connection(listener.getsockname(), timeout=5))
    client.start_client(timeout=10)
    client.auth_none("ops")
    yield client
    released.set()
    client.close()
    for server in servers:
        server.close()
    listener.close()


@pytest.mark.parametrize(("session", "command"), [(_hangs, "never ends"), (_hangs, "no answer")],
                         indirect=["session"])
def test_a_command_that_never_ends_or_is_never_answered_times_out(session: paramiko.Transport, command: str) -> None:
    started = time.monotonic()
    with pytest.raises(RemoteCommandTimeoutError, match=rf"db-1: `{command}` did not finish within 1\.5 s"):
        exchange(session, "db-1", command, timeout_s=1.5)
    assert time.monotonic() - started < 5, "the deadline bounds the whole exchange"


@pytest.mark.parametrize("session", [_floods], indirect=True)
def test_output_beyond_the_window_is_read_whole_with_its_exit_code(session: paramiko.Transport) -> None:
    code, stdout, stderr = exchange(session, "db-1", "cat big", timeout_s=30)
    assert (code, len(stdout), stderr) == (3, 3 * paramiko.common.DEFAULT_WINDOW_SIZE, b"done\n")

"""testinfra hosts for a stack's hosts, over paramiko, with the host key the stack generated.

testinfra's paramiko backend builds its own client with ``WarningPolicy`` (any host key
accepted), and rebuilds it that way whenever a command fails on a dead connection. Here the
backend's client is always one that verified the key from the outputs, on the first
connection and on every reconnection. Its sudo is the drill wrapper's: the ops account may
run nothing else as root, so every check's command is one the wrapper lists (read-only ones).
"""

from __future__ import annotations

import functools
from typing import Any

import paramiko
from testinfra.backend.paramiko import ParamikoBackend
from testinfra.host import Host

from harness.core.outputs import StackOutputs
from harness.core.ssh import as_root, connect, exchange, transport_of

COMMAND_TIMEOUT_S = 60.0
"""A check's command that has not finished by then fails its check: it hangs, or the host stopped answering."""


class VerifiedParamikoBackend(ParamikoBackend):
    """testinfra's paramiko backend whose client, first or rebuilt after a drop, is the project's verified one."""

    def __init__(self, outputs: StackOutputs, name: str, **kwargs: Any) -> None:
        address, port = outputs.host(name).ssh_endpoint
        super().__init__(f"{outputs.ssh_user}@{address}:{port}", sudo=True, **kwargs)
        self._outputs, self._name = outputs, name

    def get_sudo_command(self, command: str, sudo_user: str | None) -> str:
        return as_root(command)

    @functools.cached_property
    def client(self) -> paramiko.SSHClient:  # type: ignore[override]
        return connect(self._outputs, self._name)

    def _exec_command(self, command: bytes) -> tuple[int, bytes, bytes]:
        """testinfra's own exchange waits without a deadline for the command's start and its exit status."""
        return exchange(transport_of(self.client, self._name), self._name, command, COMMAND_TIMEOUT_S)


def testinfra_host(outputs: StackOutputs, name: str) -> Host:
    """A testinfra Host for ``name`` that runs commands with sudo over a strictly verified session."""
    return Host(VerifiedParamikoBackend(outputs, name))

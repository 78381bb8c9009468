"""How drills reach each host: its network from inside over SSH, or from the local engine's side.

Chosen per host from the outputs (``Host.drill_target``): every host of a real platform is reached
over SSH, and so may the local stack's containers be (``--target ssh``), which is how the SSH path is
proven here. The engine stays the local platform's power switch (``LocalContainers``), nothing more.
"""

from __future__ import annotations

from harness.core.containers import LocalContainers
from harness.core.netns import HostNetwork, SshNetwork
from harness.core.outputs import Host, StackOutputs
from harness.core.ssh import Sessions


class HostAccess:
    """The hosts of one stack as drills reach them; SSH sessions kept until ``close``."""

    def __init__(self, outputs: StackOutputs, containers: LocalContainers | None) -> None:
        self.outputs, self.containers = outputs, containers
        self._ssh: Sessions | None = None

    @property
    def ssh(self) -> Sessions:
        if self._ssh is None:
            self._ssh = Sessions(self.outputs)
        return self._ssh

    def network(self, host: Host) -> HostNetwork:
        """Where iptables and tc commands for ``host`` run."""
        if host.drill_target == "ssh":
            return SshNetwork(host.name, self.ssh)
        if self.containers is None:
            raise RuntimeError(f"host {host.name} is reached through the container engine (target docker), "
                               "and no engine was given: drill it with --target ssh")
        return self.containers.netns(host)

    def close(self) -> None:
        if self._ssh is not None:
            self._ssh.close()
            self._ssh = None

    def __enter__(self) -> HostAccess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The local platform's power switch: the stack's containers killed, started and inspected.

On the local stack a host is a container, so losing power is ``docker kill`` and the
way into a host's network namespace is the container's PID. This is the only module
outside provisioning that speaks to the Docker API; drills reach it through here.
"""

from __future__ import annotations

import threading

import docker
import docker.errors

from harness.core.netns import NetworkNamespace
from harness.core.outputs import Host
from harness.core.waiting import wait_for

STACK_LABEL = "ihh.stack"


class LocalContainers:
    """The containers of one local stack, addressed by the hosts of its outputs."""

    def __init__(self, client: docker.DockerClient, stack: str) -> None:
        self.client, self.stack = client, stack

    @staticmethod
    def _name(host: Host) -> str:
        if not host.container:
            raise ValueError(f"host {host.name} has no container: it is not a host of the local platform")
        return host.container

    def kill(self, hosts: list[Host]) -> None:
        """SIGKILL every host's container at once (threads, so a site loses power in one instant)."""
        threads = [threading.Thread(target=self.client.api.kill, args=(self._name(h),)) for h in hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    def start(self, hosts: list[Host], timeout_s: float = 60) -> None:
        """Start (or unpause) every host's container and wait until each runs."""
        names = [self._name(h) for h in hosts]
        for name in names:
            container = self.client.containers.get(name)
            if container.status == "paused":
                container.unpause()
            elif container.status != "running":
                container.start()
        wait_for(f"{len(names)} container(s) running again",
                 lambda: all(self.client.containers.get(n).status == "running" for n in names), timeout=timeout_s)

    def restart_stopped(self) -> dict[str, str]:
        """Every container of the stack is meant to run: start the stopped, unpause the paused; what was done,
        by container name."""
        undone = {}
        for container in self.client.containers.list(all=True, filters={"label": f"{STACK_LABEL}={self.stack}"}):
            if container.status == "paused":
                container.unpause()
                undone[container.name] = f"unpaused {container.name}"
            elif container.status != "running":
                container.start()
                undone[container.name] = f"started {container.name}"
        return undone

    def netns(self, host: Host) -> NetworkNamespace:
        """The host's network namespace, entered from the control machine (nothing privileged inside)."""
        pid = int(self.client.api.inspect_container(self._name(host))["State"]["Pid"])
        if not pid:
            raise RuntimeError(f"host {host.name}: its container is not running, so it has no network namespace")
        return NetworkNamespace(host.name, pid)

    def log_tail(self, host: Host, lines: int = 25) -> str:
        """A host's last log lines, Patroni's idle heartbeats ("no action.") left out."""
        try:
            recent = self.client.api.logs(self._name(host), tail=600).decode(errors="replace").splitlines()
        except docker.errors.APIError as exc:
            return f"--- no logs of {host.name}: {exc} ---"
        telling = [line for line in recent if "no action." not in line][-lines:]
        return "\n".join([f"--- last {len(telling)} log lines of {host.name} (idle heartbeats left out) ---",
                          *telling])

"""Each host's power switch, as the outputs say: the engine for a local container, the ECS API for a cloud
instance. Power loss is the one fault with no in-host form; every other action reaches a host over SSH.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.core.containers import LocalContainers
from harness.core.ecs_power import RUNNING, STOPPED, EcsPower, by_region
from harness.core.outputs import Host


class NoPowerSwitchError(RuntimeError):
    """A host with neither a container nor a cloud instance: nothing here can cut its power."""


class HostPower:
    """Cuts and restores the power of hosts of any platform; ECS clients made per region on first use."""

    def __init__(self, containers: LocalContainers | None) -> None:
        self.containers = containers
        self._ecs: dict[str, EcsPower] = {}

    def ecs(self, region: str) -> EcsPower:
        if region not in self._ecs:
            self._ecs[region] = EcsPower(region)
        return self._ecs[region]

    @staticmethod
    def how(host: Host) -> str:
        """In words, how ``host`` loses its power: for descriptions and journals."""
        if host.instance_id:
            return f"ECS StopInstances ForceStop {host.instance_id}"
        if host.container:
            return f"SIGKILL container {host.container}"
        return "no power switch (neither a container nor a cloud instance)"

    def switches(self, hosts: list[Host]) -> tuple[list[Host], dict[str, list[str]]]:
        """(hosts the engine powers, ECS instance IDs by region); raises when a host has no switch here."""
        unswitchable = [h.name for h in hosts if not h.instance_id and not h.container]
        if unswitchable:
            raise NoPowerSwitchError(f"no power switch for {', '.join(unswitchable)}: the outputs give neither a "
                                     "container nor a cloud instance (instance_id), and power loss has no form "
                                     "over SSH")
        if any(not h.instance_id for h in hosts) and self.containers is None:
            raise NoPowerSwitchError("local containers lose power through the engine, and none was given")
        instances = by_region((h.region, h.instance_id) for h in hosts if h.instance_id)
        return [h for h in hosts if not h.instance_id], instances

    def cut(self, hosts: list[Host]) -> None:
        """Every host off at once; returns when each is off (an ECS instance Stopped)."""
        self._switch(hosts, EcsPower.force_stop, LocalContainers.kill, STOPPED)

    def restore(self, hosts: list[Host]) -> None:
        """Every host on again; returns when each runs."""
        self._switch(hosts, EcsPower.start, LocalContainers.start, RUNNING)

    def _switch(self, hosts: list[Host], ecs_call: Callable[[EcsPower, list[str]], None],
                engine_call: Callable[[LocalContainers, list[Host]], None], status: str) -> None:
        """The API calls first (they return at once), then the engine's, then wait for every instance."""
        containers, instances = self.switches(hosts)
        for region, ids in instances.items():
            ecs_call(self.ecs(region), ids)
        if containers:
            engine_call(self.containers, containers)  # type: ignore[arg-type]
        for region, ids in instances.items():
            self.ecs(region).wait_status(ids, status)

    def restart_stopped_instances(self, hosts: list[Host]) -> dict[str, str]:
        """Every cloud instance of the stack is meant to run: start those found Stopped (what a killed power-loss
        drill leaves); what was done, by instance ID."""
        undone = {}
        for region, ids in by_region((h.region, h.instance_id) for h in hosts if h.instance_id).items():
            stopped = [i for i, status in self.ecs(region).statuses(ids).items() if status == STOPPED]
            if stopped:
                self.ecs(region).start(stopped)
                self.ecs(region).wait_status(stopped, RUNNING)
                undone |= {i: f"started ECS instance {i} ({region})" for i in stopped}
        return undone

"""Make one host unreachable from others for the length of a drill, and always undo it.

On the local platform each host is a container; the rule goes into the source
containers' network namespaces (nsenter + iptables, tagged with a comment), so nothing
inside the containers needs privileges. The rules are removed in ``finally``, and
``remove_leftovers`` deletes any tagged rule a killed drill left behind.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import docker

from harness.core.outputs import StackOutputs
from harness.core.progress import say
from harness.core.ssh import connect, run

TAG = "ihh-drill"


def _pid(client: docker.DockerClient, container: str) -> int:
    return int(client.api.inspect_container(container)["State"]["Pid"])


def _iptables(pid: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", "-t", str(pid), "-n", "iptables", *args], capture_output=True, text=True,
                          check=False)


def _addresses(outputs: StackOutputs, from_host: str, target: str) -> list[str]:
    """The target's addresses as the source host resolves them (its shared segments)."""
    client = connect(outputs, from_host)
    try:
        result = run(client, from_host, f"getent ahostsv4 {target}", check=False)
    finally:
        client.close()
    return sorted({line.split()[0] for line in result.stdout.splitlines() if line.strip()})


def _container(outputs: StackOutputs, name: str) -> str:
    return next(h["container"] for h in outputs["hosts"] if h["name"] == name)


@contextmanager
def unreachable(
    client: docker.DockerClient, outputs: StackOutputs, target: str, from_hosts: list[str]
) -> Iterator[None]:
    """Drop every packet from ``from_hosts`` to ``target`` until the block ends."""
    applied: list[tuple[int, list[str]]] = []
    try:
        for source in from_hosts:
            pid = _pid(client, _container(outputs, source))
            for address in _addresses(outputs, source, target):
                rule = ["OUTPUT", "-d", address, "-j", "REJECT", "-m", "comment", "--comment", f"{TAG}:{target}"]
                result = _iptables(pid, "-I", *rule)
                if result.returncode != 0:
                    raise RuntimeError(f"cannot isolate {target} from {source}: {result.stderr.strip()}")
                applied.append((pid, rule))
        say(f"{target} is unreachable from {', '.join(from_hosts)}")
        yield
    finally:
        for pid, rule in applied:
            _iptables(pid, "-D", *rule)
        if applied:
            say(f"{target} is reachable again")


def remove_leftovers(client: docker.DockerClient, outputs: StackOutputs) -> int:
    """Delete every rule tagged by a drill in any host of the stack; returns how many went."""
    removed = 0
    for host in outputs["hosts"]:
        pid = _pid(client, host["container"])
        listing = _iptables(pid, "-S", "OUTPUT").stdout.splitlines()
        for line in listing:
            if f"{TAG}:" in line and line.startswith("-A "):
                _iptables(pid, "-D", *line.split()[1:])
                removed += 1
    return removed

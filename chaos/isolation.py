"""Make one host unreachable from others for the length of a drill, and always undo it.

On the local platform each host is a container; the rule goes into the source hosts'
network namespaces (``harness.core.netns``: nsenter + iptables, tagged with a comment),
so nothing inside the hosts needs privileges. The rules are removed in ``finally``;
``chaos.cleanup`` deletes any tagged rule a killed drill left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from harness.core.containers import LocalContainers
from harness.core.netns import TAG, NetworkNamespace
from harness.core.outputs import Host, StackOutputs
from harness.core.progress import say
from harness.core.ssh import Sessions


def _addresses(ssh: Sessions, source: Host, target: str) -> list[str]:
    """The target's addresses as the source host resolves them (its shared segments)."""
    listing = ssh.run(source.name, f"getent ahostsv4 {target}", check=False)
    return sorted({line.split()[0] for line in listing.splitlines() if line.strip()})


@contextmanager
def unreachable(containers: LocalContainers, outputs: StackOutputs, target: str,
                sources: list[Host]) -> Iterator[None]:
    """Reject every packet from ``sources`` to ``target`` until the block ends."""
    applied: list[tuple[NetworkNamespace, list[str]]] = []
    try:
        with Sessions(outputs) as ssh:
            for source in sources:
                ns = containers.netns(source)
                for address in _addresses(ssh, source, target):
                    rule = ["OUTPUT", "-d", address, "-j", "REJECT", "-m", "comment", "--comment", f"{TAG}:{target}"]
                    result = ns.run("iptables", "-I", *rule, check=False)
                    if result.returncode != 0:
                        raise RuntimeError(f"cannot isolate {target} from {source.name}: {result.stderr.strip()}")
                    applied.append((ns, rule))
        say(f"{target} is unreachable from {', '.join(s.name for s in sources)}")
        yield
    finally:
        for ns, rule in applied:
            ns.run("iptables", "-D", *rule, check=False)
        if applied:
            say(f"{target} is reachable again")

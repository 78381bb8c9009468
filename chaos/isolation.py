"""Make one host unreachable from others for the length of a drill, and always undo it.

The rules go into the source hosts' own firewalls (iptables, tagged with a comment), reached the way
``harness.core.host_access`` says: over SSH, or into a local container's namespace from the engine's
side. The rules are removed in ``finally``; ``chaos.cleanup`` deletes any tagged rule a killed drill
left behind.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager

from harness.core.host_access import HostAccess
from harness.core.netns import HostNetwork
from harness.core.outputs import Host
from harness.core.progress import say
from harness.core.ssh import Sessions
from infra.drill_access import RULE_TAG


def _addresses(ssh: Sessions, source: Host, target: str) -> list[str]:
    """The target's addresses as the source host resolves them (its shared segments)."""
    listing = ssh.run(source.name, f"getent ahostsv4 {target}", check=False)
    return sorted({line.split()[0] for line in listing.splitlines() if line.strip()})


def _own_addresses(ssh: Sessions, host: Host) -> list[str]:
    """Every IPv4 address the host holds, on every segment: a name resolves to one of them only, and a
    partition that leaves a second segment open is no partition (Patroni found db-2 through db-2.db)."""
    addresses = sorted(set(ssh.run(host.name, "hostname -I").split()) - {"127.0.0.1"})
    addresses = [a for a in addresses if ":" not in a]
    if not addresses:
        raise RuntimeError(f"{host.name}: `hostname -I` named no IPv4 address to cut")
    return addresses


@contextmanager
def unreachable(access: HostAccess, target: str, sources: list[Host]) -> Iterator[None]:
    """Reject every packet from ``sources`` to ``target`` until the block ends."""
    planned = [(source, address, target) for source in sources for address in _addresses(access.ssh, source, target)]
    with _rules(access, planned, "REJECT", target):
        say(f"{target} is unreachable from {', '.join(s.name for s in sources)}")
        yield


@contextmanager
def partitioned(access: HostAccess, host: Host, peers: list[Host], action: str) -> Iterator[None]:
    """Cut ``host`` off from ``peers`` both ways until the block ends; every other host still reaches it.

    Every address of either side is cut, not only those its name resolves to.
    ``DROP`` makes the packets vanish (a cable cut, a silent firewall: connections hang until their
    timeouts), ``REJECT`` answers them with an ICMP error (connections fail at once). Every address
    is resolved before the first rule goes in, so the partition cannot hide a name.
    """
    if action not in ("DROP", "REJECT"):
        raise ValueError(f"partition action must be DROP or REJECT, got {action!r}")
    own = {h.name: _own_addresses(access.ssh, h) for h in [host, *peers]}
    planned = [(host, address, peer.name) for peer in peers for address in own[peer.name]]
    planned += [(peer, address, host.name) for peer in peers for address in own[host.name]]
    with _rules(access, planned, action, host.name):
        say(f"{host.name} is partitioned from {', '.join(p.name for p in peers)} ({action})")
        yield


@contextmanager
def line_cut(access: HostAccess, ingress: Host, ports: tuple[int, ...], line: str) -> Iterator[None]:
    """A provider's line gone dead, as its users meet it: every packet arriving on the ingress host's public
    ports dropped (connections hang, nothing answers), established ones included; undone afterwards."""
    rules = [["INPUT", "-p", "tcp", "--dport", str(port), "-j", "DROP", "-m", "comment", "--comment",
              f"{RULE_TAG}:line-{line}"] for port in ports]
    with _applied(access, {ingress.name: (ingress, rules)}, f"line {line}"):
        say(f"line {line} is dead at {ingress.name}: ports {', '.join(map(str, ports))} drop every packet")
        yield


@contextmanager
def _rules(access: HostAccess, planned: list[tuple[Host, str, str]], action: str, what: str) -> Iterator[None]:
    """OUTPUT rules, (source, address) each: one ``iptables-restore --noflush`` per namespace, so each side's
    cut lands at one instant; every rule is removed afterwards, whatever happens."""
    by_source: dict[str, tuple[Host, list[list[str]]]] = {}
    for source, address, target in planned:
        rule = ["OUTPUT", "-d", address, "-j", action, "-m", "comment", "--comment", f"{RULE_TAG}:{target}"]
        by_source.setdefault(source.name, (source, []))[1].append(rule)
    with _applied(access, by_source, what):
        yield


@contextmanager
def _applied(access: HostAccess, by_source: dict[str, tuple[Host, list[list[str]]]], what: str) -> Iterator[None]:
    """Each host's rules in one ``iptables-restore --noflush`` (one instant per host); all removed afterwards."""
    applied: list[tuple[HostNetwork, list[list[str]]]] = []
    try:
        for source, rules in by_source.values():
            ns = access.network(source)
            result = ns.run("iptables-restore", "--noflush", stdin=_batch("-I", rules), check=False)
            if result.returncode != 0:
                raise RuntimeError(f"cannot cut {what} off from {source.name}: {result.stderr.strip()}")
            applied.append((ns, rules))
        yield
    finally:
        _remove(applied, what)


def _remove(applied: list[tuple[HostNetwork, list[list[str]]]], what: str) -> None:
    """Every host's rules removed, each host tried even when another fails (a host that restarted meanwhile has
    lost its rules and its old session); the first failure raised after all were tried."""
    failed: list[str] = []
    for ns, rules in applied:
        try:
            if ns.run("iptables-restore", "--noflush", stdin=_batch("-D", rules), check=False).returncode != 0:
                for rule in rules:  # one already gone fails the batch: the rest one by one
                    ns.run("iptables", "-D", *rule, check=False)
        except Exception as exc:  # noqa: BLE001 - every other host's rules must still go; raised below
            failed.append(f"{ns.host}: {type(exc).__name__}: {exc}")
    if applied:
        say(f"{what}: {sum(len(r) for _, r in applied)} iptables rules removed"
            + (f", except on {'; '.join(failed)}" if failed else ""))
    if failed:
        raise RuntimeError(f"rules cutting {what} off could not be removed from {'; '.join(failed)}; "
                           "`harness chaos --cleanup` finds them by their tag")


def _batch(verb: str, rules: list[list[str]]) -> str:
    return "*filter\n" + "".join(f"{verb} {shlex.join(rule)}\n" for rule in rules) + "COMMIT\n"

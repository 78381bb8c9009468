"""Fault providers: each injects one kind of failure and always takes it back.

A provider is a context manager: the fault holds inside the ``with`` block and is
removed in ``finally``, whatever ends the block (an error, Ctrl-C, SIGTERM). What a
killed harness could not remove, ``chaos.cleanup`` finds by its marks: toxics named
``ihh-drill-*``, iptables rules commented ``ihh-drill:*``, qdiscs with handle
``1ab:``, and stack containers that are not running.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import docker

from chaos.cluster import leader
from chaos.isolation import TAG, unreachable
from harness.core.outputs import StackOutputs
from harness.core.toxiproxy import Toxiproxy, proxy_disabled, toxic
from harness.core.waiting import wait_for

QDISC_HANDLE = "1ab:"
TOXICS = {"latency", "bandwidth", "reset_peer", "timeout", "slicer", "slow_close", "limit_data"}


class FaultUnavailableError(RuntimeError):
    """This machine cannot make the fault (a kernel feature is missing); the journal says so."""


@dataclass
class FaultContext:
    outputs: StackOutputs
    client: docker.DockerClient
    notes: list[str] = field(default_factory=list)
    """What the fault found out while it held (the archive gap, the killed leader): goes into the journal."""


def _uplink(outputs: StackOutputs, ref: Any) -> dict[str, Any]:
    uplinks = outputs["uplinks"]
    if isinstance(ref, int) and 0 <= ref < len(uplinks):
        return uplinks[ref]
    for uplink in uplinks:
        if uplink["name"] == ref:
            return uplink
    raise KeyError(f"uplink {ref!r}: not an index or name of {[u['name'] for u in uplinks]}")


def _host(outputs: StackOutputs, args: dict[str, Any]) -> dict[str, Any]:
    """A host by ``host`` name, or the ``index``-th host of ``role``."""
    hosts = outputs["hosts"]
    if "host" in args:
        for host in hosts:
            if host["name"] == args["host"]:
                return host
        raise KeyError(f"host {args['host']!r} is not in the stack outputs")
    role = args.get("role")
    matching = [h for h in hosts if role in h["roles"]]
    index = int(args.get("index", 0))
    if not matching or index >= len(matching):
        raise KeyError(f"no {role!r} host number {index} in the stack outputs")
    return matching[index]


def _pid(client: docker.DockerClient, container: str) -> int:
    return int(client.api.inspect_container(container)["State"]["Pid"])


def netns(pid: int, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """A command in a container's network namespace, from the control machine (no privilege inside)."""
    result = subprocess.run(["nsenter", "-t", str(pid), "-n", *command], capture_output=True, text=True,
                            check=False, timeout=15)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} in netns of pid {pid}: {result.stderr.strip()}")
    return result


def interfaces(pid: int) -> list[str]:
    out = netns(pid, "ip", "-o", "link", "show").stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
    return [n for n in names if n != "lo"]


def _start(client: docker.DockerClient, containers: list[str]) -> None:
    for name in containers:
        container = client.containers.get(name)
        if container.status == "paused":
            container.unpause()
        elif container.status != "running":
            container.start()


def describe(ctx: FaultContext, fault: str, args: dict[str, Any]) -> str:
    """What would be injected where, for --dry-run: resolved through the outputs, nothing touched."""
    o = ctx.outputs
    if fault == "uplink-cut":
        u = _uplink(o, args.get("uplink", 0))
        return f"disable Toxiproxy proxy {u['toxiproxy_proxy']} ({u['provider']}) at {o['toxiproxy_api']}"
    if fault == "uplink-toxic":
        u = _uplink(o, args.get("uplink", 0))
        return f"add {args.get('toxic')} toxic {args.get('attributes', {})} to proxy {u['toxiproxy_proxy']}"
    if fault == "container-kill":
        return f"SIGKILL container {_host(o, args)['container']}, start it again afterwards"
    if fault == "database-primary-kill":
        return "SIGKILL the container of the current Patroni leader (resolved when injected), start it afterwards"
    if fault == "site-power-loss":
        site = o["primary_site"]["name"] if args.get("site", "primary") == "primary" else args["site"]
        names = [h["container"] for h in o["hosts"] if h["site"] == site]
        return f"SIGKILL at once every container of site {site}: {', '.join(names)}; start them afterwards"
    if fault == "host-unreachable":
        return f"REJECT traffic to {_target(o, args)} from every {args.get('from_role', 'database')} host (iptables)"
    if fault in ("udp-loss", "udp-rate", "udp-delay"):
        return f"{fault} {args} inside the network namespace of {_host(o, args)['container']}"
    return "no fault: hold while the probes and the load run"


def _target(outputs: StackOutputs, args: dict[str, Any]) -> str:
    if "backup_site" in args:
        return outputs["backup_sites"][int(args["backup_site"])]["host"]
    return str(args["target"])


@contextmanager
def inject(ctx: FaultContext, fault: str, args: dict[str, Any]) -> Iterator[None]:
    """Hold ``fault`` for the length of the block; undo it on the way out, always."""
    handlers = {
        "uplink-cut": _uplink_cut, "uplink-toxic": _uplink_toxic, "container-kill": _container_kill,
        "database-primary-kill": _primary_kill, "site-power-loss": _power_loss, "host-unreachable": _unreachable,
        "udp-loss": _udp_loss, "udp-rate": _udp_rate, "udp-delay": _udp_delay, "none": _nothing,
    }
    with handlers[fault](ctx, args):
        yield


@contextmanager
def _nothing(ctx: FaultContext, args: dict[str, Any]) -> Iterator[None]:
    yield


@contextmanager
def _uplink_cut(ctx: FaultContext, args: dict[str, Any]) -> Iterator[None]:
    uplink = _uplink(ctx.outputs, args.get("uplink", 0))
    with proxy_disabled(Toxiproxy(ctx.outputs["toxiproxy_api"]), uplink["toxiproxy_proxy"]):
        yield


@contextmanager
def _uplink_toxic(ctx: FaultContext, args: dict[str, Any]) -> Iterator[None]:
    uplink = _uplink(ctx.outputs, args.get("uplink", 0))
    kind = args.get("toxic")
    if kind not in TOXICS:
        raise ValueError(f"uplink-toxic: toxic must be one of {', '.join(sorted(TOXICS))}, got {kind!r}")
    with toxic(Toxiproxy(ctx.outputs["toxiproxy_api"]), uplink["toxiproxy_proxy"], f"{kind}-{uplink['name']}",
               kind, dict(args.get("attributes", {})), str(args.get("stream", "downstream")),
               float(args.get("toxicity", 1.0))):
        yield


@contextmanager
def _killed(ctx: FaultContext, containers: list[str]) -> Iterator[None]:
    """SIGKILL every container at once (threads, so a site loses power in one instant); start them after."""
    try:
        threads = [threading.Thread(target=ctx.client.api.kill, args=(name,)) for name in containers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        yield
    finally:
        _start(ctx.client, containers)
        wait_for(f"{len(containers)} container(s) running again",
                 lambda: all(ctx.client.containers.get(n).status == "running" for n in containers), timeout=60)


@contextmanager
def _container_kill(ctx: FaultContext, args: dict[str, Any]) -> Iterator[None]:
    host = _host(ctx.outputs, args)
    ctx.notes.append(f"killed {host['name']}")
    with _killed(ctx, [host["container"]]):
        yield


@contextmanager
def _primary_kill(ctx: FaultContext, args: dict[str, Any]) -> Iterator[None]:
    name = leader(ctx.outputs)
    host = _host(ctx.outputs, {"host": name})
    ctx.notes.append(f"killed the primary {name}")
    with _killed(ctx, [host["container"]]):
        yield


@contextmanager
def _power_loss(ctx: FaultContext, args: dict[str, Any]) -> Iterator[None]:
    site = ctx.outputs["primary_site"]["name"] if args.get("site", "primary") == "primary" else args["site"]
    containers = [h["container"] for h in ctx.outputs["hosts"] if h["site"] == site]
    if not containers:
        raise KeyError(f"site-power-loss: no host of site {site!r} in the stack outputs")
    ctx.notes.append(f"power lost at {site}: {len(containers)} hosts")
    with _killed(ctx, containers):
        yield


@contextmanager
def _unreachable(ctx: FaultContext, args: dict[str, Any]) -> Iterator[None]:
    target = _target(ctx.outputs, args)
    sources = [h["name"] for h in ctx.outputs["hosts"] if args.get("from_role", "database") in h["roles"]]
    with unreachable(ctx.client, ctx.outputs, target, sources):
        yield
        if "backup_site" in args:
            ctx.notes.append(archive_gap(ctx.outputs))


def archive_gap(outputs: StackOutputs) -> str:
    """How far each copy's archived WAL reaches: the gap a cut-off site must catch up."""
    from chaos.restore_drill import Sessions, repo_info

    ssh = Sessions(outputs)
    try:
        reach = {}
        for site in outputs["backup_sites"]:
            try:
                archive = repo_info(ssh, site).get("archive") or []
                reach[site["name"]] = max((a.get("max") or "" for a in archive), default="")
            except RuntimeError as exc:
                reach[site["name"]] = f"unreadable ({exc})"
    finally:
        ssh.close()
    newest = max(v for v in reach.values())
    behind = {k: _segments_between(v, newest) for k, v in reach.items()}
    return "archive reach: " + ", ".join(f"{k} {v or 'none'} ({behind[k]} segments behind)" for k, v in reach.items())


def _segments_between(older: str, newer: str) -> int | str:
    try:
        def number(segment: str) -> int:
            return int(segment[8:16], 16) * 256 + int(segment[16:24], 16)
        return number(newer) - number(older)
    except ValueError:
        return "?"


@contextmanager
def _udp_loss(ctx: FaultContext, args: dict[str, Any]) -> Iterator[None]:
    """Random loss of inbound UDP (iptables statistic match, as Pumba's iptables mode): no netem needed."""
    host = _host(ctx.outputs, args)
    probability = float(args.get("probability", 0.3))
    if not 0 < probability <= 1:
        raise ValueError(f"udp-loss: probability must be in (0, 1], got {probability}")
    pid = _pid(ctx.client, host["container"])
    rule = ["INPUT", "-p", "udp", *(["--dport", str(args["port"])] if "port" in args else []), "-m", "statistic",
            "--mode", "random", "--probability", str(probability), "-j", "DROP",
            "-m", "comment", "--comment", f"{TAG}:udp-loss"]
    netns(pid, "iptables", "-I", *rule)
    try:
        yield
    finally:
        netns(pid, "iptables", "-D", *rule, check=False)


@contextmanager
def _udp_rate(ctx: FaultContext, args: dict[str, Any]) -> Iterator[None]:
    """Egress squeezed with a token bucket (tbf) on every interface of the host."""
    host = _host(ctx.outputs, args)
    rate = int(args.get("rate_kbit", 256))
    pid = _pid(ctx.client, host["container"])
    applied = []
    try:
        for dev in interfaces(pid):
            netns(pid, "tc", "qdisc", "add", "dev", dev, "root", "handle", QDISC_HANDLE, "tbf", "rate",
                  f"{rate}kbit", "burst", "16kb", "latency", "100ms")
            applied.append(dev)
        yield
    finally:
        for dev in applied:
            netns(pid, "tc", "qdisc", "del", "dev", dev, "root", "handle", QDISC_HANDLE, check=False)


@contextmanager
def _udp_delay(ctx: FaultContext, args: dict[str, Any]) -> Iterator[None]:
    """Delay needs netem; where the kernel lacks it the fault is reported unavailable, never faked."""
    host = _host(ctx.outputs, args)
    pid = _pid(ctx.client, host["container"])
    devs = interfaces(pid)
    delay = f"{int(args.get('delay_ms', 100))}ms"
    applied = []
    try:
        for dev in devs:
            result = netns(pid, "tc", "qdisc", "add", "dev", dev, "root", "handle", QDISC_HANDLE, "netem", "delay",
                           delay, check=False)
            if result.returncode != 0:
                raise FaultUnavailableError(f"UDP delay needs the netem qdisc, which this kernel lacks: "
                                       f"tc said {result.stderr.strip()!r}")
            applied.append(dev)
        yield
    finally:
        for dev in applied:
            netns(pid, "tc", "qdisc", "del", "dev", dev, "root", "handle", QDISC_HANDLE, check=False)

"""Fault providers: each injects one kind of failure and always takes it back.

A provider is a context manager: the fault holds inside the ``with`` block and is
removed in ``finally``, whatever ends the block (an error, Ctrl-C, SIGTERM). What a
killed harness could not remove, ``chaos.cleanup`` finds by its marks: toxics named
``ihh-drill-*``, iptables rules commented ``ihh-drill:*``, qdiscs with handle
``1ab:``, and stack containers that are not running.

Each provider registers itself in ``FAULTS`` with the sentence ``--dry-run`` prints; the
experiment validator, the dry run and the runner all read that one table.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from chaos.isolation import line_cut, partitioned, unreachable
from harness.core import services
from harness.core.containers import LocalContainers
from harness.core.database import connect, member_writable
from harness.core.host_access import HostAccess
from harness.core.http_json import write_through_uplinks
from harness.core.media_line import IMPAIRMENTS, MediaLine, impaired
from harness.core.netns import HostNetwork
from harness.core.outputs import Host, StackOutputs
from harness.core.patroni import Patroni
from harness.core.pgbackrest import PgBackRest, switch_wal
from harness.core.postgres_shell import psql
from harness.core.power import HostPower, NoPowerSwitchError
from harness.core.registry import Registry
from harness.core.service_sessions import ADMIN, session_for
from harness.core.ssh import RemoteCommandError, Sessions, then
from harness.core.supervision import MODES, SimulatorControl, forwarder_holder
from harness.core.toxiproxy import Toxiproxy, proxy_disabled, toxic
from harness.core.waiting import wait_for
from harness.core.wal_disk import (
    DEVICES_COMMAND,
    MAX_WAL_COMMAND,
    STATFS_COMMAND,
    WAL_HEADROOM_FACTOR,
    DiskUsage,
    alarm_free_bytes,
    on_own_disk,
    parse_statfs,
)
from infra.database import MAX_LAG_ON_FAILOVER
from infra.drill_access import FILLER, QDISC_HANDLE, QDISC_LEAF_HANDLE, RULE_TAG
from infra.uplinks import INGRESS_PORT, PLAIN_HTTP_PORT

TOXICS = {"latency", "bandwidth", "reset_peer", "timeout", "slicer", "slow_close", "limit_data"}
Args = dict[str, Any]


class FaultUnavailableError(RuntimeError):
    """This machine cannot make the fault (a kernel feature is missing); the journal says so."""


@dataclass
class FaultContext:
    outputs: StackOutputs
    containers: LocalContainers | None
    notes: list[str] = field(default_factory=list)
    """What the fault found out while it held (the archive gap, the killed leader): goes into the journal."""
    in_effect_at: float | None = None
    """When the fault was set off, where the fault knows it before it has finished checking that it took (a kill
    sent over SSH, then the services' status read back): the drill measures from here, so round trips to the
    host after the fault never shorten a measured outage."""
    _access: HostAccess | None = None

    @property
    def access(self) -> HostAccess:
        """The hosts' networks as the outputs say to reach them (SSH, or the local engine's side)."""
        if self._access is None:
            self._access = HostAccess(self.outputs, self.containers)
        return self._access

    def close(self) -> None:
        if self._access is not None:
            self._access.close()
            self._access = None

    def toxiproxy(self) -> Toxiproxy:
        if not self.outputs.toxiproxy_api:
            raise FaultUnavailableError(
                f"stack {self.outputs.stack!r} (platform {self.outputs.platform}) has no WAN simulator (Toxiproxy) "
                "in front of its lines: a real provider's line can be cut (at its ingress host) but not shaped "
                "from here")
        return Toxiproxy(self.outputs.toxiproxy_api)

    def simulator(self) -> SimulatorControl:
        """The supervision platform simulator's control API; a real platform cannot be told to misbehave."""
        supervision = self.outputs.supervision
        if supervision is None or not supervision.control_api:
            raise FaultUnavailableError(
                f"stack {self.outputs.stack!r} (platform {self.outputs.platform}) uploads to a real supervision "
                "platform (or none): only the local simulator can be made slow, failing or refusing")
        return SimulatorControl(supervision.control_api, self.outputs.secret("supervision_control_token"))

    def media_line(self) -> MediaLine:
        if not self.outputs.media_line_api:
            raise FaultUnavailableError(
                f"stack {self.outputs.stack!r} (platform {self.outputs.platform}) has no media line simulator in "
                "front of its TURN nodes: a real client's path cannot be impaired from here")
        return MediaLine(self.outputs.media_line_api, self.outputs.secret("media_line_token"))


@dataclass(frozen=True)
class Fault:
    """One kind of fault: how to hold it, and what it would do, in words, for a dry run."""

    name: str
    hold: Callable[[FaultContext, Args], AbstractContextManager[None]]
    describe: Callable[[StackOutputs, Args], str]


FAULTS: Registry[Fault] = Registry("fault")
LINE_PORTS = (INGRESS_PORT, PLAIN_HTTP_PORT)
"""Where a provider's line arrives at its ingress host (HTTPS, and the plain-HTTP redirect): a real line is cut
there, where no simulator stands in front of it."""


def fault(name: str, describe: Callable[[StackOutputs, Args], str]) -> Callable[[Callable[..., Iterator[None]]],
                                                                                 Callable[..., Any]]:
    """Register a generator as the context manager that holds fault ``name``."""
    def register(generator: Callable[..., Iterator[None]]) -> Callable[..., Any]:
        hold = contextmanager(generator)
        FAULTS.add(name, Fault(name, hold, describe))
        return hold
    return register


def describe(ctx: FaultContext, name: str, args: Args) -> str:
    """What would be injected where, for --dry-run: resolved through the outputs, nothing touched."""
    return FAULTS.get(name).describe(ctx.outputs, args)


@contextmanager
def inject(ctx: FaultContext, name: str, args: Args) -> Iterator[None]:
    """Hold fault ``name`` for the length of the block; undo it on the way out, always."""
    with FAULTS.get(name).hold(ctx, args):
        yield


# ----- what the arguments name ---------------------------------------------------------------------
def _host(outputs: StackOutputs, args: Args) -> Host:
    """A host by ``host`` name, or the ``index``-th host of ``role``."""
    if "host" in args:
        return outputs.host(str(args["host"]))
    role, index = args.get("role"), int(args.get("index", 0))
    matching = outputs.hosts(role=role)
    if index >= len(matching):
        raise KeyError(f"no {role!r} host number {index} in the stack outputs "
                       f"({len(matching)} host(s) have that role)")
    return matching[index]


def _site(outputs: StackOutputs, args: Args) -> str:
    site = args.get("site", "primary")
    return outputs.primary_site.name if site == "primary" else str(site)


def _target(outputs: StackOutputs, args: Args) -> str:
    if "backup_site" in args:
        return outputs.backup_sites[int(args["backup_site"])].host
    return str(args["target"])


def _sources(outputs: StackOutputs, args: Args) -> list[Host]:
    return outputs.hosts(role=str(args.get("from_role", "database")))


# ----- faults ----------------------------------------------------------------------------------------
@fault("none", describe=lambda o, a: "no fault: hold while the probes and the load run")
def _nothing(ctx: FaultContext, args: Args) -> Iterator[None]:
    yield


def _describe_cut(outputs: StackOutputs, args: Args) -> str:
    uplink = outputs.uplink(args.get("uplink", 0))
    if outputs.toxiproxy_api:
        return f"disable Toxiproxy proxy {uplink.toxiproxy_proxy} ({uplink.provider}) at {outputs.toxiproxy_api}"
    return (f"drop every packet arriving on {uplink.ingress_host}'s ports "
            f"{', '.join(map(str, LINE_PORTS))} (iptables INPUT): {uplink.provider}'s line dead")


@fault("uplink-cut", describe=_describe_cut)
def _uplink_cut(ctx: FaultContext, args: Args) -> Iterator[None]:
    """The line's simulator disables its proxy; a real line (no simulator) dies at its ingress host instead."""
    uplink = ctx.outputs.uplink(args.get("uplink", 0))
    if ctx.outputs.toxiproxy_api:
        with proxy_disabled(ctx.toxiproxy(), str(uplink.toxiproxy_proxy)):
            yield
        return
    if not uplink.ingress_host:
        raise FaultUnavailableError(f"uplink {uplink.name} names no ingress host to cut its line at")
    ingress = ctx.outputs.host(uplink.ingress_host)
    with line_cut(ctx.access, ingress, LINE_PORTS, uplink.name):
        ctx.notes.append(f"line {uplink.name} cut at {ingress.name} ({ingress.drill_target})")
        yield


@fault("uplink-toxic", describe=lambda o, a: (
    f"add {a.get('toxic')} toxic {a.get('attributes', {})} to proxy {o.uplink(a.get('uplink', 0)).toxiproxy_proxy}"))
def _uplink_toxic(ctx: FaultContext, args: Args) -> Iterator[None]:
    uplink = ctx.outputs.uplink(args.get("uplink", 0))
    kind = args.get("toxic")
    if kind not in TOXICS:
        raise ValueError(f"uplink-toxic: toxic must be one of {', '.join(sorted(TOXICS))}, got {kind!r}")
    with toxic(ctx.toxiproxy(), str(uplink.toxiproxy_proxy), f"{kind}-{uplink.name}", kind,
               dict(args.get("attributes", {})), str(args.get("stream", "downstream")),
               float(args.get("toxicity", 1.0))):
        yield


@contextmanager
def _powered_off(ctx: FaultContext, hosts: list[Host]) -> Iterator[None]:
    """Every host loses power in one instant; all are powered on again afterwards, whatever happened."""
    power = HostPower(ctx.containers)
    try:
        power.switches(hosts)  # a host nothing here can power off: not possible, and nothing done
    except NoPowerSwitchError as exc:
        raise FaultUnavailableError(str(exc)) from exc
    try:
        power.cut(hosts)
        yield
    finally:
        power.restore(hosts)


@contextmanager
def _crashed(ctx: FaultContext, hosts: list[Host]) -> Iterator[None]:
    """Every host's software killed in one go and held down; started again afterwards, whatever happened.

    Reached over SSH, a host's services get SIGKILL (``harness.core.services``), as on a real server; a local
    container reached from the engine's side is killed whole, which is the same to everything outside it.
    """
    by_ssh = [h for h in hosts if h.drill_target == "ssh"]
    by_engine = [h for h in hosts if h.drill_target != "ssh"]
    try:
        sent_at = time.time()
        if by_engine:
            ctx.containers.kill(by_engine)
        ssh_sent_at = services.crash(ctx.access.ssh, by_ssh)
        ctx.in_effect_at = ssh_sent_at if ssh_sent_at and not by_engine else sent_at
        yield
    finally:
        try:
            services.start(ctx.access.ssh, by_ssh)
        finally:
            if by_engine:
                ctx.containers.start(by_engine)


def _killed_as(hosts: list[Host], by_ssh: str, by_engine: str) -> str:
    return by_ssh if any(h.drill_target == "ssh" for h in hosts) else by_engine


def _kill_words(host: Host) -> str:
    """What killing ``host`` means on its target, for descriptions."""
    if host.drill_target == "ssh":
        return (f"SIGKILL every process of {host.name}'s services "
                f"({', '.join(s.name for s in host.services) or 'none listed'}) over SSH, held stopped")
    return f"SIGKILL container {host.container}"


@fault("container-kill", describe=lambda o, a: f"{_kill_words(_host(o, a))}; start it again afterwards")
def _container_kill(ctx: FaultContext, args: Args) -> Iterator[None]:
    host = _host(ctx.outputs, args)
    ctx.notes.append(f"killed {host.name} ({host.drill_target})")
    with _crashed(ctx, [host]):
        yield


@fault("database-primary-kill", describe=lambda o, a: (
    "SIGKILL the current Patroni leader (resolved when injected: "
    f"{_killed_as(o.hosts(role='database'), 'its services over SSH', 'its container')}), "
    "start it afterwards"))
def _primary_kill(ctx: FaultContext, args: Args) -> Iterator[None]:
    name = Patroni(ctx.outputs).leader()
    ctx.notes.append(f"killed the primary {name} ({ctx.outputs.host(name).drill_target})")
    with _crashed(ctx, [ctx.outputs.host(name)]):
        yield


def _dcs_majority(outputs: StackOutputs) -> list[Host]:
    members = outputs.hosts(role="dcs")
    return members[: len(members) // 2 + 1]


@fault("dcs-quorum-loss", describe=lambda o, a: (
    f"SIGKILL a majority of the etcd members at once ({', '.join(h.name for h in _dcs_majority(o))}: "
    f"{_killed_as(_dcs_majority(o), 'their services over SSH', 'their containers')}"
    "), start them afterwards"))
def _dcs_quorum_loss(ctx: FaultContext, args: Args) -> Iterator[None]:
    majority = _dcs_majority(ctx.outputs)
    ctx.notes.append(f"killed {', '.join(h.name for h in majority)} of {len(ctx.outputs.hosts(role='dcs'))} "
                     "etcd members: no quorum")
    with _crashed(ctx, majority):
        yield


@fault("dcs-quorum-partition", describe=lambda o, a: (
    f"DROP every packet between each of a majority of the etcd members "
    f"({', '.join(h.name for h in _dcs_majority(o))}) and every other etcd member and database host, both ways; "
    "the members keep running, cut off"))
def _dcs_quorum_partition(ctx: FaultContext, args: Args) -> Iterator[None]:
    majority = _dcs_majority(ctx.outputs)
    others = [*ctx.outputs.hosts(role="dcs"), *ctx.outputs.hosts(role="database")]
    ctx.notes.append(f"partitioned {', '.join(h.name for h in majority)} of {len(ctx.outputs.hosts(role='dcs'))} "
                     "etcd members from the cluster (DROP): no quorum, and every call to them hangs to its timeout")
    with ExitStack() as cuts:
        for member in majority:
            cuts.enter_context(partitioned(ctx.access, member,
                                           [h for h in others if h.name != member.name], "DROP"))
        yield


def _clock_step_s(args: Args) -> int:
    step = int(args.get("step_s", 300))
    if not 1 <= abs(step) <= 86400:
        raise ValueError(f"clock-step: arguments.step_s must be 1 to 86400 seconds either way, got {step}")
    return step


def _clock_step_member(args: Args) -> str:
    member = str(args.get("member", "leader"))
    if member not in ("leader", "standby"):
        raise ValueError(f"clock-step: arguments.member must be leader or standby, got {member!r}")
    return member


@fault("clock-step", describe=lambda o, a: (
    f"step the clock of the current Patroni {_clock_step_member(a)}'s host by {_clock_step_s(a):+d} s "
    "(date over SSH), and back by as much afterwards; only where the host owns its clock"))
def _clock_step(ctx: FaultContext, args: Args) -> Iterator[None]:
    step, member = _clock_step_s(args), _clock_step_member(args)
    leader = Patroni(ctx.outputs).leader()
    if member == "leader":
        name = leader
    else:
        name = next(h.name for h in ctx.outputs.hosts(role="database") if h.name != leader)
    if ctx.outputs.host(name).container:
        raise FaultUnavailableError(
            f"{name} is a container: it shares this machine's kernel clock with every host and the harness, so "
            "stepping it would step them all; the drill needs hosts that own their clock (real hosts over SSH)")
    with Sessions(ctx.outputs) as ssh:
        # the mark goes first, so `--cleanup` after a SIGKILL finds the step (it undoes it only when the
        # host's clock is indeed off by it: a kill between mark and step leaves a clock to keep)
        ssh.run(name, f"ihh-clock-step {step}")  # the wrapper writes the mark, then steps
        ctx.notes.append(f"stepped {name}'s clock by {step:+d} s")
        try:
            yield
        finally:
            ssh.run(name, then(f"ihh-clock-step {-step}", "ihh-clock-unmark"))


FULL_MARGIN = 65536  # less than a WAL segment, so the next segment PostgreSQL needs cannot be made
FILL_TRIES = 5


def fill_to_full(ssh: Sessions, host: str, free_bytes: Callable[[], int]) -> int:
    """Fill ``host``'s WAL disk with the second filler to all but FULL_MARGIN; returns the tries it took.

    PostgreSQL makes a WAL segment whenever it needs one: made between the measure and the fill, it takes
    the room the fill was sized for, and the fill fails with no space left. Then the partial filler goes and
    the disk is measured again, a few times; any other failure is raised at once.
    """
    for tries in range(1, FILL_TRIES + 1):
        rest = free_bytes() - FULL_MARGIN
        if rest <= 0:
            return tries
        try:
            ssh.run(host, f"fallocate -l {rest} {FILLER}-2")
            return tries
        except RemoteCommandError as exc:
            if "No space left on device" not in str(exc):
                raise
        ssh.run(host, f"rm -f {FILLER}-2")
    raise RemoteCommandError(f"{host}: the WAL disk had no room for a fill sized to it {FILL_TRIES} times in a row "
                             "(PostgreSQL took the room each time): it is not full")


def _alarm_stage_s(args: Args) -> float:
    stage = float(args.get("alarm_stage_s", 5))
    if not 0 <= stage <= 600:
        raise ValueError(f"wal-disk-full: arguments.alarm_stage_s must be 0 to 600 seconds, got {stage:g}")
    return stage


@fault("wal-disk-full", describe=lambda o, a: (
    f"fill the current Patroni leader's WAL disk (a file beside pg_wal, over SSH) to below its alarm level "
    f"({WAL_HEADROOM_FACTOR} x max_wal_size free) for {_alarm_stage_s(a):g} s, then to full and switch WAL, so "
    "PostgreSQL needs a segment it cannot write; delete the file afterwards"))
def _wal_disk_full(ctx: FaultContext, args: Args) -> Iterator[None]:
    stage = _alarm_stage_s(args)
    leader = Patroni(ctx.outputs).leader()
    with Sessions(ctx.outputs) as ssh:
        def usage() -> DiskUsage:
            return parse_statfs(ssh.run(leader, STATFS_COMMAND))[0]

        if not on_own_disk(ssh.run(leader, DEVICES_COMMAND)):
            raise FaultUnavailableError(
                f"{leader}'s pg_wal shares the filesystem of its data: filling it would fill the data volume (and "
                "whatever else is on it); the drill needs a WAL disk of its own, as the reference topology has")
        try:
            before = usage()
            max_wal = int(ssh.run(leader, MAX_WAL_COMMAND))
            alarm_free = alarm_free_bytes(max_wal) * 4 // 5  # well inside the alarm, still room for WAL
            ssh.run(leader, f"fallocate -l {max(4096, before.free_bytes - alarm_free)} {FILLER}")
            ctx.notes.append(f"{leader}'s WAL disk filled from {before} to {usage()}: below the alarm level")
            threading.Event().wait(stage)  # the alarm stage is a span of the fault, not a wait for anything
            writable = member_writable(ctx.outputs, leader, timeout_s=2)
            ctx.notes.append(f"after {stage:g} s below the alarm level {leader} "
                             f"{'still took writes' if writable else 'took no writes'}")
            tries = fill_to_full(ssh, leader, lambda: usage().free_bytes)
            if tries > 1:
                ctx.notes.append(f"the disk filled on try {tries}: PostgreSQL took room between a measure and a fill")
            ssh.run(leader, psql("select pg_switch_wal()"), check=False)
            ctx.notes.append(f"{leader}'s WAL disk full ({usage()}); WAL switched")
            yield  # injected from here: writes lost and back are measured from the full disk
        finally:
            ssh.run(leader, f"rm -f {FILLER} {FILLER}-2")


def _partition_action(args: Args) -> str:
    action = str(args.get("action", "DROP")).upper()
    if action not in ("DROP", "REJECT"):
        raise ValueError(f"primary-partition: arguments.action must be DROP or REJECT, got {args.get('action')!r}")
    return action


def _partition_peers(outputs: StackOutputs, leader: str) -> list[Host]:
    """Whom a partitioned primary loses: every etcd member and every other database member."""
    return [*outputs.hosts(role="dcs"), *(h for h in outputs.hosts(role="database") if h.name != leader)]


@fault("primary-partition", describe=lambda o, a: (
    f"{_partition_action(a)} every packet between the current Patroni leader (resolved when injected) and every "
    "etcd member and other database member, both ways (iptables in each namespace); the app servers, the "
    "backup copies and the harness still reach it"))
def _primary_partition(ctx: FaultContext, args: Args) -> Iterator[None]:
    action = _partition_action(args)
    leader = Patroni(ctx.outputs).leader()
    peers = _partition_peers(ctx.outputs, leader)
    ctx.notes.append(f"partitioned the primary {leader} from {', '.join(h.name for h in peers)} ({action})")
    with partitioned(ctx.access, ctx.outputs.host(leader), peers, action):
        yield


def _lag_bytes(members: list[dict[str, Any]], name: str) -> int | None:
    lag = next((m.get("lag") for m in members if m.get("name") == name), None)
    return lag if isinstance(lag, int) else None


@fault("lagging-standby-primary-kill", describe=lambda o, a: (
    "REJECT the replication between the current Patroni leader and its standbys (resolved when injected), and "
    "the standbys' way to the backup copies' WAL archive, until "
    f"a standby lags beyond maximum_lag_on_failover ({MAX_LAG_ON_FAILOVER} bytes; WAL switched on the leader "
    "until it does), then SIGKILL the leader; start it, then heal, afterwards"))
def _lagging_standby_primary_kill(ctx: FaultContext, args: Args) -> Iterator[None]:
    patroni = Patroni(ctx.outputs)
    leader = patroni.leader()
    standbys = [h for h in ctx.outputs.hosts(role="database") if h.name != leader]
    with ExitStack() as cuts, Sessions(ctx.outputs) as ssh:
        cuts.enter_context(partitioned(ctx.access, ctx.outputs.host(leader), standbys, "REJECT"))
        # a standby with restore_command replays archived WAL when streaming stops: the drill's standby is
        # one that is behind, so the archive is cut off from it too
        for site in ctx.outputs.backup_sites:
            cuts.enter_context(unreachable(ctx.access, site.host, standbys))
        def lagging() -> int | None:
            members = patroni.members()
            lags = [_lag_bytes(members, h.name) for h in standbys]
            if all(lag is not None and lag > MAX_LAG_ON_FAILOVER for lag in lags):
                return min(lag for lag in lags if lag is not None)
            switch_wal(ssh, leader)  # a new segment moves the leader's position on; the standbys stay behind
            return None

        lag = wait_for(f"every standby lagging more than {MAX_LAG_ON_FAILOVER} bytes behind {leader}", lagging,
                       timeout=float(args.get("lag_within_s", 90)), interval=2.0)
        ctx.notes.append(f"standbys {', '.join(h.name for h in standbys)} at least {lag} bytes behind {leader}, "
                         f"then killed the primary {leader}")
        with _crashed(ctx, [ctx.outputs.host(leader)]):
            yield


@fault("site-power-loss", describe=lambda o, a: (
    f"power off at once every host of site {_site(o, a)}: "
    f"{'; '.join(f'{h.name}: {HostPower.how(h)}' for h in o.hosts(site=_site(o, a)))}; power them on afterwards"))
def _power_loss(ctx: FaultContext, args: Args) -> Iterator[None]:
    site = _site(ctx.outputs, args)
    hosts = ctx.outputs.hosts(site=site)
    if not hosts:
        raise KeyError(f"site-power-loss: no host of site {site!r} in the stack outputs")
    ctx.notes.append(f"power lost at {site}: {len(hosts)} hosts")
    with _powered_off(ctx, hosts):
        yield


@fault("host-unreachable", describe=lambda o, a: (
    f"REJECT traffic to {_target(o, a)} from every {a.get('from_role', 'database')} host (iptables)"))
def _unreachable(ctx: FaultContext, args: Args) -> Iterator[None]:
    with unreachable(ctx.access, _target(ctx.outputs, args), _sources(ctx.outputs, args)):
        yield
        if "backup_site" in args:
            ctx.notes.append(archive_gap(ctx.outputs))


def archive_gap(outputs: StackOutputs) -> str:
    """How far each copy's archived WAL reaches: the gap a cut-off site must catch up."""
    reach = {}
    with Sessions(outputs) as ssh:
        pgbackrest = PgBackRest(outputs, ssh)
        for site in outputs.backup_sites:
            try:
                reach[site.name] = pgbackrest.archive_reach(site)
            except RuntimeError as exc:
                reach[site.name] = f"unreadable ({exc})"
    newest = max(reach.values())
    behind = {k: _segments_between(v, newest) for k, v in reach.items()}
    return "archive reach: " + ", ".join(f"{k} {v or 'none'} ({behind[k]} segments behind)" for k, v in reach.items())


def _segments_between(older: str, newer: str) -> int | str:
    try:
        def number(segment: str) -> int:
            return int(segment[8:16], 16) * 256 + int(segment[16:24], 16)
        return number(newer) - number(older)
    except ValueError:
        return "?"


def _in_netns(o: StackOutputs, a: Args, name: str) -> str:
    host = _host(o, a)
    return f"{name} {a} in the network of {host.name} (reached by {host.drill_target})"


@fault("udp-loss", describe=lambda o, a: _in_netns(o, a, "udp-loss"))
def _udp_loss(ctx: FaultContext, args: Args) -> Iterator[None]:
    """Random loss of inbound UDP (iptables statistic match, as Pumba's iptables mode): no netem needed."""
    probability = float(args.get("probability", 0.3))
    if not 0 < probability <= 1:
        raise ValueError(f"udp-loss: probability must be in (0, 1], got {probability}")
    ns = ctx.access.network(_host(ctx.outputs, args))
    rule = ["INPUT", "-p", "udp", *(["--dport", str(args["port"])] if "port" in args else []), "-m", "statistic",
            "--mode", "random", "--probability", str(probability), "-j", "DROP",
            "-m", "comment", "--comment", f"{RULE_TAG}:udp-loss"]
    ns.run("iptables", "-I", *rule)
    try:
        yield
    finally:
        ns.run("iptables", "-D", *rule, check=False)


@contextmanager
def _root_qdiscs(ctx: FaultContext, args: Args, *qdisc: str,
                 under: Callable[[HostNetwork, str], None] | None = None) -> Iterator[None]:
    """One root qdisc with the drill's handle on every interface of the host (and, ``under`` it, what the fault
    hangs below); all removed afterwards, the root taking its classes, filters and leaves with it."""
    ns = ctx.access.network(_host(ctx.outputs, args))
    applied = []
    try:
        for dev in ns.interfaces():
            result = ns.run("tc", "qdisc", "add", "dev", dev, "root", "handle", QDISC_HANDLE, *qdisc, check=False)
            if result.returncode != 0:
                if "unknown" in result.stderr.lower():
                    raise FaultUnavailableError(f"the {qdisc[0]} qdisc is missing from this kernel: "
                                                f"tc said {result.stderr.strip()!r}")
                raise RuntimeError(f"{ns.host}: tc qdisc add {qdisc[0]} on {dev}: {result.stderr.strip()}")
            applied.append(dev)
            if under is not None:
                under(ns, dev)
        yield
    finally:
        for dev in applied:
            ns.remove_qdisc(dev)


UNSHAPED_MINOR = "1"
"""The htb root's default class: everything the squeeze does not sort out passes it unshaped."""
UNSHAPED_CLASS, UDP_CLASS = f"{QDISC_HANDLE}{UNSHAPED_MINOR}", f"{QDISC_HANDLE}2"


def _udp_squeezed(rate_kbit: int) -> Callable[[HostNetwork, str], None]:
    """Below an htb root whose default class passes everything unshaped: UDP sorted (u32, IP protocol 17) into a
    class whose token bucket squeezes it to ``rate_kbit``."""
    def add(ns: HostNetwork, dev: str) -> None:
        ns.run("tc", "class", "add", "dev", dev, "parent", QDISC_HANDLE, "classid", UNSHAPED_CLASS,
               "htb", "rate", "10gbit")
        ns.run("tc", "class", "add", "dev", dev, "parent", QDISC_HANDLE, "classid", UDP_CLASS, "htb", "rate", "10gbit")
        ns.run("tc", "qdisc", "add", "dev", dev, "parent", UDP_CLASS, "handle", QDISC_LEAF_HANDLE,
               "tbf", "rate", f"{rate_kbit}kbit", "burst", "16kb", "latency", "100ms")
        ns.run("tc", "filter", "add", "dev", dev, "parent", QDISC_HANDLE, "protocol", "ip", "prio", "1",
               "u32", "match", "ip", "protocol", "17", "0xff", "flowid", UDP_CLASS)
    return add


@fault("udp-rate", describe=lambda o, a: _in_netns(o, a, "udp-rate"))
def _udp_rate(ctx: FaultContext, args: Args) -> Iterator[None]:
    """The host's outgoing UDP (the media it relays) squeezed by a token bucket on every interface. Only UDP: a
    squeeze of everything also squeezed the drill's own SSH to the host, whose commands then waited seconds on
    retransmissions behind the media (p50 2.2 s, one in twenty 22 s)."""
    with _root_qdiscs(ctx, args, "htb", "default", UNSHAPED_MINOR,
                      under=_udp_squeezed(int(args.get("rate_kbit", 256)))):
        yield


@fault("udp-delay", describe=lambda o, a: _in_netns(o, a, "udp-delay"))
def _udp_delay(ctx: FaultContext, args: Args) -> Iterator[None]:
    """Delay needs netem; where the kernel lacks it the fault is reported unavailable, never faked."""
    with _root_qdiscs(ctx, args, "netem", "delay", f"{int(args.get('delay_ms', 100))}ms"):
        yield


def _media_link(outputs: StackOutputs, args: Args) -> str:
    """The TURN node whose media line is impaired: ``node`` by name or position in the outputs."""
    ref = args.get("node", 0)
    nodes = outputs.av_nodes
    if isinstance(ref, int) and not isinstance(ref, bool):
        if not 0 <= ref < len(nodes):
            raise KeyError(f"no TURN node number {ref} in the stack outputs ({len(nodes)} node(s))")
        return nodes[ref].name
    return outputs.av_node(str(ref)).name


def _impairment(args: Args) -> dict[str, float]:
    values = {k: float(args[k]) for k in IMPAIRMENTS if k in args}
    if not values:
        raise ValueError(f"media-impair: give at least one of {', '.join(IMPAIRMENTS)}")
    return values


@fault("media-impair", describe=lambda o, a: (
    f"impair the media line in front of TURN node {_media_link(o, a)} (the wan host's UDP impairer, both "
    f"directions): {_impairment(a)}"))
def _media_impair(ctx: FaultContext, args: Args) -> Iterator[None]:
    """Delay, jitter, loss, duplication or a rate cap on the UDP path to one TURN node, without netem."""
    link, values = _media_link(ctx.outputs, args), _impairment(args)
    with impaired(ctx.media_line(), link, values):
        yield


# ----- the supervision platform (GD-3.2.1) -----------------------------------------------------------
def _egress_proxies(outputs: StackOutputs) -> list[str]:
    supervision = outputs.supervision
    return list(supervision.egress_proxies) if supervision else []


@fault("supervision-unreachable", describe=lambda o, a: (
    f"disable the proxies carrying uploads to the supervision platform over every line "
    f"({', '.join(_egress_proxies(o)) or 'none: no simulator'}); enable them afterwards"))
def _supervision_unreachable(ctx: FaultContext, args: Args) -> Iterator[None]:
    """The platform unreachable from the hospital, as during its maintenance or a provincial network fault."""
    proxies = _egress_proxies(ctx.outputs)
    if not proxies:
        raise FaultUnavailableError("no line simulator carries the uploads here: the platform is reached as the "
                                    "servers reach the internet, which no drill cuts")
    with ExitStack() as held:
        for proxy in proxies:
            held.enter_context(proxy_disabled(ctx.toxiproxy(), proxy))
        yield


def _platform_mode(args: Args) -> dict[str, Any]:
    mode = args.get("mode")
    if mode not in MODES or mode == "normal":
        raise ValueError(f"supervision-mode: mode must be one of {', '.join(MODES[1:])}, got {mode!r}")
    settings = {k: args[k] for k in ("delay_s", "per_record_s", "status") if k in args}
    return {"mode": mode, **settings}


@fault("supervision-mode", describe=lambda o, a: (
    f"tell the supervision platform simulator to misbehave: {_platform_mode(a)}; back to normal afterwards"))
def _supervision_mode(ctx: FaultContext, args: Args) -> Iterator[None]:
    """Slow (seconds per record), 5xx, refusing (429) or dropping connections unanswered."""
    settings = _platform_mode(args)
    control = ctx.simulator()
    control.set_mode(settings.pop("mode"), **settings)
    try:
        yield
    finally:
        control.normal()


MALFORMED_DEPARTMENT = "演练科室 drill"
"""A department the platform's code table lacks: the record reporting this doctor's registration is rejected."""


@fault("supervision-malformed-record", describe=lambda o, a: (
    f"register a doctor in department {MALFORMED_DEPARTMENT!r}, which the platform's code table lacks: its record "
    "must be rejected and dead-lettered with the platform's reason, the rest uploaded"))
def _supervision_malformed(ctx: FaultContext, args: Args) -> Iterator[None]:
    """A record the platform rejects, made as a hospital makes one: data its own rules allow, the platform's not."""
    body = {"name": "演练医生 drill doctor", "license_no": f"MR{uuid.uuid4().hex[:10]}",
            "department": MALFORMED_DEPARTMENT}
    answer = write_through_uplinks(ctx.outputs, "/v1/doctors", body, session_for(ctx.outputs, ADMIN, ttl_s=300))
    ctx.notes.append(f"doctor {answer['doctor_id']} registered in {MALFORMED_DEPARTMENT!r}: its record must be "
                     "dead-lettered")
    yield  # nothing to take back: the registration is the hospital's data, its rejected record stays on record


@fault("forwarder-kill", describe=lambda o, a: (
    "SIGKILL the app server whose forwarder holds the upload lease (resolved when injected; the first app server "
    "where no forwarder uploads), start it afterwards"))
def _forwarder_kill(ctx: FaultContext, args: Args) -> Iterator[None]:
    """An app server killed mid-batch: the one uploading to the supervision platform, the worst one to lose."""
    apps, node = ctx.outputs.hosts(role="app"), None
    if ctx.outputs.supervision is not None:
        with connect(ctx.outputs) as conn:
            node = forwarder_holder(conn)
    holder = next((h for h in apps if node in (h.name, h.container)), None)  # a container's hostname is its name
    if node and holder is None:
        raise RuntimeError(f"the upload lease is held by {node!r}, which is none of the app servers "
                           f"({', '.join(h.name for h in apps)})")
    host = holder or apps[0]
    unconfigured = " (the stack configures no supervision platform)" if ctx.outputs.supervision is None else ""
    why = ("whose forwarder held the upload lease" if holder else
           f"the first app server: no forwarder held the upload lease{unconfigured}")
    ctx.notes.append(f"killed {host.name}, {why} ({host.drill_target})")  # how it was reached, last, as every kill
    with _crashed(ctx, [host]):
        yield

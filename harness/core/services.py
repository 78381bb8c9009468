"""A host's services crashed and started again over SSH, under whichever manager the host runs.

A drill that kills a host's software (not its power) does it the way it happens on a real server: every
process of the service gets SIGKILL, at once, and the service stays down until the drill ends. The host
says which manager it has: systemd on a real server, supervisord in the local images.
"""

from __future__ import annotations

import shlex
import time
from concurrent.futures import ThreadPoolExecutor

from harness.core.outputs import Host, Service
from harness.core.ssh import Sessions, then

DETECT = "ihh-manager"
"""Prints systemd, supervisord or none (the drill wrapper looks)."""


class ServiceError(RuntimeError):
    """A host whose services cannot be crashed or started as asked; the message names the host."""


def manager(ssh: Sessions, host: Host) -> str:
    """``systemd`` or ``supervisord``: what runs the host's services."""
    found = ssh.run(host.name, DETECT).strip()
    if found not in ("systemd", "supervisord"):
        raise ServiceError(f"{host.name}: neither systemd nor supervisord runs its services; a crash drill cannot "
                           "stop and start them")
    return found


def _services(host: Host) -> tuple[Service, ...]:
    if not host.services:
        raise ServiceError(f"host {host.name}: the outputs list no services for it (hosts[].services); "
                           "re-run `harness up` (or declare them in the inventory)")
    return host.services


def crash_commands(kind: str, services: tuple[Service, ...]) -> list[str]:
    """SIGKILL to every process of each service (and of its user), then the service held stopped: the manager
    would restart it at once otherwise (supervisord's autorestart, systemd's Restart=). The held services are
    marked first (``infra.drill_access.HELD_MARK``), so `harness chaos --cleanup` starts them after a SIGKILL
    of the drill."""
    commands = [f"ihh-hold {' '.join(shlex.quote(s.name) for s in services)}"]
    names = " ".join(shlex.quote(s.systemd if kind == "systemd" else s.supervisor) for s in services)
    commands.append(f"systemctl kill --signal=SIGKILL --kill-whom=all {names}" if kind == "systemd"
                    else f"supervisorctl signal KILL {names}")  # one call: every service in the same instant
    commands += [f"pkill -KILL -u {shlex.quote(s.user)}" for s in services if s.user]
    commands.append(f"systemctl stop {names}" if kind == "systemd" else f"supervisorctl stop {names}")
    if any(s.user for s in services):  # a process the manager restarted in between goes too
        commands += [f"pkill -KILL -u {shlex.quote(s.user)}" for s in services if s.user]
    return commands


def start_command(kind: str, services: tuple[Service, ...]) -> str:
    names = " ".join(shlex.quote(s.systemd if kind == "systemd" else s.supervisor) for s in services)
    return f"systemctl start {names}" if kind == "systemd" else f"supervisorctl start {names}"


def stopped_command(kind: str, services: tuple[Service, ...]) -> str:
    """Prints the services that are not running, one per line (one status call for all)."""
    pairs = " ".join(shlex.quote(f"{s.systemd if kind == 'systemd' else s.supervisor}={s.name}") for s in services)
    return f"ihh-stopped {kind} {pairs}"


def crash(ssh: Sessions, hosts: list[Host]) -> float | None:
    """Every service of every host killed: each host in one SSH command, the hosts at once (a quorum lost in
    one instant, as when the engine kills their containers). Returns when the kill commands were sent (None: no
    host): the kill lands after that and before they return, so an outage measured from it is never shorter
    than the real one (the services' state is read back after, to confirm it)."""
    if not hosts:
        return None
    with ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        kinds = dict(zip([h.name for h in hosts], pool.map(lambda h: manager(ssh, h), hosts), strict=True))
        sent_at = time.time()
        list(pool.map(lambda h: ssh.run(h.name, then(*crash_commands(kinds[h.name], _services(h))), timeout_s=60,
                                        check=False), hosts))
    for host in hosts:
        down = ssh.run(host.name, stopped_command(kinds[host.name], _services(host)), check=False).split()
        if len(down) != len(_services(host)):
            raise ServiceError(f"{host.name}: after the crash, still running: "
                               f"{', '.join(s.name for s in _services(host) if s.name not in down)}")
    return sent_at


def start(ssh: Sessions, hosts: list[Host]) -> None:
    """Every service of every host started again (those already running left alone)."""
    for host in hosts:
        kind = manager(ssh, host)
        down = ssh.run(host.name, stopped_command(kind, _services(host)), check=False).split()
        stopped = tuple(s for s in _services(host) if s.name in down)
        if stopped:
            ssh.run(host.name, start_command(kind, stopped), timeout_s=120)
        ssh.run(host.name, "ihh-release")


def held(ssh: Sessions, host: Host) -> list[str]:
    """The services a crash marked as held stopped on ``host`` (none: no mark)."""
    return ssh.run(host.name, "ihh-held", timeout_s=30, check=False).split()

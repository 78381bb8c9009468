"""``harness chaos --cleanup``: remove every fault the harness may have left, even after a SIGKILL.

Nothing here trusts the harness's own memory: faults are found by their marks on the
running stack (see ``chaos.faults``), so a cleanup after a killed run finds what the
run had no chance to undo.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from harness.core import services
from harness.core.containers import LocalContainers
from harness.core.host_access import HostAccess
from harness.core.media_line import MediaLine
from harness.core.outputs import Host, StackOutputs
from harness.core.patroni import Patroni
from harness.core.power import HostPower
from harness.core.ssh import Sessions
from harness.core.supervision import SimulatorControl
from harness.core.toxiproxy import CONTRACT_PREFIX, Toxiproxy
from harness.core.waiting import wait_for


def restore_contract(api: Toxiproxy, outputs: StackOutputs) -> list[str]:
    """Put back the contracted bandwidth toxics if a comparison run was killed while they were lifted."""
    undone = []
    proxies = api.proxies()
    for uplink in outputs.uplinks:
        name = str(uplink.toxiproxy_proxy)
        present = {t["name"] for t in proxies.get(name, {}).get("toxics", [])}
        for stream in ("downstream", "upstream"):
            toxic = f"{CONTRACT_PREFIX}{stream}"
            if name in proxies and toxic not in present:
                api.put_toxic(name, {"name": toxic, "type": "bandwidth", "stream": stream, "toxicity": 1.0,
                                     "attributes": {"rate": uplink.bandwidth_mbps * 1000 // 8}})
                undone.append(f"contract shaping {toxic} restored on {name}")
    return undone


def reset_simulated_platform(outputs: StackOutputs) -> list[str]:
    """The supervision platform simulator back to normal, if a drill was killed while it misbehaved."""
    supervision = outputs.supervision
    if supervision is None or not supervision.control_api:
        return []
    control = SimulatorControl(supervision.control_api, outputs.secret("supervision_control_token"))
    wait_for("the supervision platform simulator's control API", control.answers, timeout=60)
    mode = control.mode()
    if mode.get("mode", "normal") == "normal":
        return []
    control.normal()
    return [f"supervision platform simulator: mode {mode} set back to normal"]


def remove_network_faults(access: HostAccess) -> list[str]:
    """Tagged iptables rules in every chain, and the harness's qdiscs, on every host (however it is reached)."""
    def on(host: Host) -> list[str]:
        ns, undone = access.network(host), []
        for rule in ns.tagged_rules():
            ns.run("iptables", "-D", *rule, check=False)
            undone.append(f"iptables rule removed on {host.name}: -A {' '.join(rule)}")
        for dev in ns.drill_qdisc_devices():
            ns.remove_qdisc(dev)
            undone.append(f"qdisc removed on {host.name}:{dev}")
        return undone

    with ThreadPoolExecutor(max_workers=8) as pool:  # the hosts at once: over SSH each is a round trip or two
        return [line for lines in pool.map(on, access.outputs.hosts()) for line in lines]


def start_stopped_services(access: HostAccess, restarted: set[str], marked_only_over_ssh: bool = False) -> list[str]:
    """Services a crash drill over SSH held stopped (the drill was killed before it started them: found by its
    mark), whatever target this cleanup reaches the hosts by; a container ``restarted`` just now starts its own.
    ``marked_only_over_ssh``: between the drills of one series, where only a drill that reached a host over SSH
    can have marked it (the series' first cleanup looked at every host, for what an earlier run left)."""
    hosts = [h for h in access.outputs.hosts() if h.container not in restarted and h.instance_id not in restarted
             and (h.drill_target == "ssh" or not marked_only_over_ssh)]
    with ThreadPoolExecutor(max_workers=8) as pool:  # one command a host, the hosts at once
        down = dict(zip([h.name for h in hosts], pool.map(lambda h: _held(access, h), hosts), strict=True))
    undone = []
    for host in hosts:
        if down[host.name]:
            services.start(access.ssh, [host])
            undone.append(f"started {', '.join(down[host.name])} on {host.name}")
    return undone


def _held(access: HostAccess, host: Host) -> list[str]:
    """The host's held-stopped mark, once it answers SSH: a container a drill has just started again (the
    app server of app-server-kill, say) takes seconds to accept connections."""
    return wait_for(f"SSH on {host.name}", lambda: (services.held(access.ssh, host),),
                    timeout=SSH_BACK_WITHIN_S)[0]


SSH_BACK_WITHIN_S = 120
"""How long a database host cleanup has (re)started may take to answer SSH before cleanup gives up on it."""
CLOCK_TOLERANCE_S = 30
"""How far a marked host's clock may be from the step (plus the harness's clock) to be stepped back."""


def undo_clock_steps(ssh: Sessions, hosts: list[str]) -> list[str]:
    """Hosts that own their clock and carry the clock-step mark: stepped back when still off by the step."""
    undone = []
    for name in hosts:
        mark = ssh.result(name, "ihh-clock-mark")
        if mark.exit_code != 0:
            continue
        step = int(mark.stdout.strip())
        offset = int(ssh.run(name, "date +%s").strip()) - time.time()
        if abs(offset - step) <= CLOCK_TOLERANCE_S:
            ssh.run(name, f"ihh-clock-step {-step}")
            undone.append(f"clock of {name} stepped back by {-step:+d} s (was {offset:+.0f} s off)")
        else:
            undone.append(f"clock-step mark removed on {name}: its clock is {offset:+.0f} s off, not the "
                          f"marked {step:+d} s, so it was left alone")
        ssh.run(name, "ihh-clock-unmark")
    return undone


def remove_wal_fillers(ssh: Sessions, hosts: list[str]) -> list[str]:
    """The wal-disk-full drill's filler files: the file is its own mark."""
    undone = []
    for name in hosts:
        found = ssh.run(name, "ihh-wal-fillers").split()
        if found:
            ssh.run(name, f"rm -f {' '.join(found)}")
            undone.append(f"WAL disk filler removed on {name}: {', '.join(found)}")
    return undone


def cleanup(containers: LocalContainers | None, outputs: StackOutputs, within_series: bool = False) -> list[str]:
    """Every leftover fault removed; returns what was undone (empty when the stack was clean). ``containers``:
    the engine's side of a local stack, None for servers. ``within_series``: between two drills of one run,
    whose hosts reached from the engine's side carry no held-stopped mark this run could have left."""
    started = containers.restart_stopped() if containers is not None else {}
    if any(h.instance_id for h in outputs.hosts()):  # a power-loss drill killed mid-fault leaves instances off
        started |= HostPower(containers).restart_stopped_instances(outputs.hosts())
    undone, restarted = list(started.values()), set(started)
    if outputs.toxiproxy_api:
        api = Toxiproxy(outputs.toxiproxy_api)
        wait_for("the Toxiproxy API", lambda: api.proxies() is not None, timeout=60)
        upload_lines = set(outputs.supervision.egress_proxies) if outputs.supervision else set()
        undone += api.remove_leftovers({str(u.toxiproxy_proxy) for u in outputs.uplinks} | upload_lines)
        undone += restore_contract(api, outputs)
    if outputs.media_line_api:
        line = MediaLine(outputs.media_line_api, outputs.secret("media_line_token"))
        wait_for("the media line's API", line.answers, timeout=60)
        undone += line.clear_all()
    undone += reset_simulated_platform(outputs)
    with HostAccess(outputs, containers) as access:
        undone += start_stopped_services(access, restarted, marked_only_over_ssh=within_series)
        undone += remove_network_faults(access)
    databases = outputs.hosts(role="database")
    with Sessions(outputs) as ssh:
        for host in databases:  # a host started just above answers SSH some seconds later
            wait_for(f"SSH on {host.name}",
                     lambda name=host.name: ssh.result(name, "true", timeout_s=10).exit_code == 0,
                     timeout=SSH_BACK_WITHIN_S)
        undone += remove_wal_fillers(ssh, [h.name for h in databases])
        undone += undo_clock_steps(ssh, [h.name for h in databases if not h.container])
    if Patroni(outputs).resume_if_paused():
        undone.append("Patroni resumed (was paused)")
    return undone

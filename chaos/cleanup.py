"""``harness chaos --cleanup``: remove every fault the harness may have left, even after a SIGKILL.

Nothing here trusts the harness's own memory: faults are found by their marks on the
running stack (see ``chaos.faults``), so a cleanup after a killed run finds what the
run had no chance to undo.
"""

from __future__ import annotations

from harness.core.containers import LocalContainers
from harness.core.outputs import StackOutputs
from harness.core.patroni import Patroni
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


def remove_netns_faults(containers: LocalContainers, outputs: StackOutputs) -> list[str]:
    """Tagged iptables rules in every chain, and the harness's qdiscs, in every host's namespace."""
    undone = []
    for host in outputs.hosts():
        ns = containers.netns(host)
        for rule in ns.tagged_rules():
            ns.run("iptables", "-D", *rule, check=False)
            undone.append(f"iptables rule removed on {host.name}: -A {' '.join(rule)}")
        for dev in ns.interfaces():
            if ns.has_drill_qdisc(dev):
                ns.remove_qdisc(dev)
                undone.append(f"qdisc removed on {host.name}:{dev}")
    return undone


def cleanup(containers: LocalContainers, outputs: StackOutputs) -> list[str]:
    """Every leftover fault removed; returns what was undone (empty when the stack was clean)."""
    undone = containers.restart_stopped()
    if outputs.toxiproxy_api:
        api = Toxiproxy(outputs.toxiproxy_api)
        wait_for("the Toxiproxy API", lambda: api.proxies() is not None, timeout=60)
        undone += api.remove_leftovers({str(u.toxiproxy_proxy) for u in outputs.uplinks})
        undone += restore_contract(api, outputs)
    undone += remove_netns_faults(containers, outputs)
    if Patroni(outputs).resume_if_paused():
        undone.append("Patroni resumed (was paused)")
    return undone

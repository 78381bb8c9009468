"""``harness chaos --cleanup``: remove every fault the harness may have left, even after a SIGKILL.

Nothing here trusts the harness's own memory: faults are found by their marks on the
running stack (see ``chaos.faults``), so a cleanup after a killed run finds what the
run had no chance to undo.
"""

from __future__ import annotations

import json
import urllib.request

import docker

from chaos.faults import QDISC_HANDLE, interfaces, netns
from chaos.isolation import TAG
from harness.core.outputs import StackOutputs
from harness.core.toxiproxy import CONTRACT_PREFIX, Toxiproxy


def restart_stopped(client: docker.DockerClient, stack: str) -> list[str]:
    """Every container of the stack is meant to run: start the stopped, unpause the paused."""
    undone = []
    for container in client.containers.list(all=True, filters={"label": f"ihh.stack={stack}"}):
        if container.status == "paused":
            container.unpause()
            undone.append(f"unpaused {container.name}")
        elif container.status != "running":
            container.start()
            undone.append(f"started {container.name}")
    return undone


def restore_contract(api: Toxiproxy, outputs: StackOutputs) -> list[str]:
    """Put back the contracted bandwidth toxics if a comparison run was killed while they were lifted."""
    undone = []
    proxies = api.proxies()
    for uplink in outputs["uplinks"]:
        name = uplink["toxiproxy_proxy"]
        present = {t["name"] for t in proxies.get(name, {}).get("toxics", [])}
        for stream in ("downstream", "upstream"):
            toxic = f"{CONTRACT_PREFIX}{stream}"
            if name in proxies and toxic not in present:
                api.put_toxic(name, {"name": toxic, "type": "bandwidth", "stream": stream, "toxicity": 1.0,
                                     "attributes": {"rate": uplink["bandwidth_mbps"] * 1000 // 8}})
                undone.append(f"contract shaping {toxic} restored on {name}")
    return undone


def remove_netns_faults(client: docker.DockerClient, outputs: StackOutputs) -> list[str]:
    """Tagged iptables rules in every chain, and the harness's qdiscs, in every host's namespace."""
    undone = []
    for host in outputs["hosts"]:
        container = client.api.inspect_container(host["container"])
        pid = int(container["State"]["Pid"])
        if not pid:
            continue
        for line in netns(pid, "iptables", "-S", check=False).stdout.splitlines():
            if f"{TAG}:" in line and line.startswith("-A "):
                netns(pid, "iptables", "-D", *_split_rule(line[3:]), check=False)
                undone.append(f"iptables rule removed on {host['name']}: {line}")
        for dev in interfaces(pid):
            qdiscs = netns(pid, "tc", "qdisc", "show", "dev", dev, check=False).stdout
            if f"qdisc tbf {QDISC_HANDLE}" in qdiscs or f" {QDISC_HANDLE} " in qdiscs:
                netns(pid, "tc", "qdisc", "del", "dev", dev, "root", "handle", QDISC_HANDLE, check=False)
                undone.append(f"qdisc {QDISC_HANDLE} removed on {host['name']}:{dev}")
    return undone


def _split_rule(rule: str) -> list[str]:
    """iptables -S quotes comments; split the way a shell would."""
    import shlex

    return shlex.split(rule)


def resume_patroni(outputs: StackOutputs) -> list[str]:
    """A drill killed while Patroni was paused leaves the cluster without automatic failover: resume it."""
    for member in outputs["database"]["members"]:
        try:
            with urllib.request.urlopen(f"http://{member['patroni']}/config", timeout=3) as response:
                config = json.loads(response.read())
        except OSError:
            continue
        if not config.get("pause"):
            return []
        request = urllib.request.Request(f"http://{member['patroni']}/config", method="PATCH",
                                         data=json.dumps({"pause": False}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            return ["Patroni resumed (was paused)"]
    return []


def cleanup(client: docker.DockerClient, outputs: StackOutputs) -> list[str]:
    """Every leftover fault removed; returns what was undone (empty when the stack was clean)."""
    undone = restart_stopped(client, outputs.stack)
    api = Toxiproxy(outputs["toxiproxy_api"]) if outputs["toxiproxy_api"] else None
    if api is not None:
        from harness.core.waiting import wait_for

        wait_for("the Toxiproxy API", lambda: api.proxies() is not None, timeout=60)
        undone += api.remove_leftovers({u["toxiproxy_proxy"] for u in outputs["uplinks"]})
        undone += restore_contract(api, outputs)
    undone += remove_netns_faults(client, outputs)
    undone += resume_patroni(outputs)
    return undone

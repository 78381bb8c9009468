"""A failed live test's last word: disk, containers, Patroni members and the database hosts' log tails."""

from __future__ import annotations

import docker

from chaos.cluster import database_log_tail, describe_members, patroni_cluster
from harness.core.outputs import StackOutputs
from harness.provisioning.engine import docker_free_gib


def stack_diagnostics(client: docker.DockerClient, stack: str) -> str:
    """Everything here is read, nothing changed; each part reports its own failure instead of raising."""
    lines = []
    try:
        root, free = docker_free_gib(client)
        lines.append(f"free under {root}: {free:.1f} GiB")
    except (docker.errors.DockerException, OSError) as exc:
        lines.append(f"free space unknown: {exc}")
    containers = client.containers.list(all=True, filters={"label": f"ihh.stack={stack}"})
    for c in sorted(containers, key=lambda c: c.name):
        health = (c.attrs["State"].get("Health") or {}).get("Status", "-")
        lines.append(f"{c.name}: {c.status}, health {health}, restarts {c.attrs.get('RestartCount', 0)}")
    try:
        outputs = StackOutputs.load(stack)
    except Exception as exc:  # noqa: BLE001 - a diagnostic reports what it could not read
        return "\n".join([*lines, f"no stack outputs: {type(exc).__name__}: {exc}"])
    try:
        lines.append("patroni: " + describe_members(patroni_cluster(outputs)["members"]))
    except Exception as exc:  # noqa: BLE001 - a diagnostic reports what it could not read
        lines.append(f"patroni: {type(exc).__name__}: {exc}")
    lines += [database_log_tail(client, h) for h in outputs["hosts"] if "database" in h["roles"]]
    return "\n".join(lines)

"""A failed live session's last word: disk, containers, Patroni members and the database hosts' log tails."""

from __future__ import annotations

import shutil

import docker


def stack_diagnostics(client: docker.DockerClient, stack: str) -> str:
    """Everything here is read, nothing changed; each part reports its own failure instead of raising."""
    lines = []
    try:
        root = client.info().get("DockerRootDir", "/var/lib/docker")
        lines.append(f"free under {root}: {shutil.disk_usage(root).free / 2**30:.1f} GiB")
    except (docker.errors.DockerException, OSError) as exc:
        lines.append(f"free space unknown: {exc}")
    containers = client.containers.list(all=True, filters={"label": f"ihh.stack={stack}"})
    for c in sorted(containers, key=lambda c: c.name):
        health = (c.attrs["State"].get("Health") or {}).get("Status", "-")
        lines.append(f"{c.name}: {c.status}, health {health}, restarts {c.attrs.get('RestartCount', 0)}")
    try:
        from chaos.cluster import describe_members, patroni_cluster
        from harness.outputs import StackOutputs

        lines.append("patroni: " + describe_members(patroni_cluster(StackOutputs.load(stack))["members"]))
    except Exception as exc:  # noqa: BLE001 - a diagnostic reports what it could not read
        lines.append(f"patroni: {type(exc).__name__}: {exc}")
    for c in sorted(containers, key=lambda c: c.name):
        if "-db-" in c.name:
            recent = c.logs(tail=600).decode(errors="replace").splitlines()
            telling = [line for line in recent if "no action." not in line][-25:]  # Patroni's idle heartbeat
            lines.append(f"--- last {len(telling)} log lines of {c.name} (idle heartbeats left out) ---")
            lines.extend(telling)
    return "\n".join(lines)

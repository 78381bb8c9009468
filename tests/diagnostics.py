"""A failed live test's last word: disk, containers, Patroni members and the database hosts' log tails."""

from __future__ import annotations

import docker

from harness.core.containers import LocalContainers
from harness.core.outputs import StackOutputs
from harness.core.patroni import Patroni, describe_members
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
        lines.append("patroni: " + describe_members(Patroni(outputs).members()))
    except Exception as exc:  # noqa: BLE001 - a diagnostic reports what it could not read
        lines.append(f"patroni: {type(exc).__name__}: {exc}")
    lines += [LocalContainers(client, stack).log_tail(h) for h in outputs.hosts(role="database")]
    return "\n".join(lines)

"""From a host, which (name, TCP port) pairs answer: the segmentation checks try them from inside a tier."""

from __future__ import annotations

import json
import shlex
from typing import Any

from harness.core.outputs import StackOutputs
from infra.database import ETCD_CLIENT_PORT, ETCD_PEER_PORT, PATRONI_PORT, PGBACKREST_TLS_PORT, POSTGRES_PORT
from infra.host_probes import TCP_PROBE


def database_tier_targets(outputs: StackOutputs) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(PostgreSQL on each member, every other port of the database tier: Patroni, pgBackRest, SSH, etcd)."""
    members = [h.name for h in outputs.hosts(role="database")]
    postgres = [(m, POSTGRES_PORT) for m in members]
    others = [(m, p) for m in members for p in (PATRONI_PORT, PGBACKREST_TLS_PORT, 22)]
    others += [(f"{m}.db", PATRONI_PORT) for m in members]
    others += [(h.name, p) for h in outputs.hosts(role="dcs") for p in (ETCD_CLIENT_PORT, ETCD_PEER_PORT)]
    return postgres, others


def reach(host: Any, targets: list[tuple[str, int]]) -> dict[str, str]:
    """Each target's answer from ``host``: open, refused, unresolved, or the error that ended the attempt."""
    argument = shlex.quote(json.dumps(targets))
    return json.loads(host.check_output(f"python3 -c {shlex.quote(TCP_PROBE)} {argument}"))

"""Converge Patroni's dynamic configuration with the stack config on every ``up``.

``bootstrap.dcs`` only applies when a cluster is first created; afterwards the timing
lives in the DCS. Without this step, changing ``ihh:database.failover`` on a running
stack would change nothing, silently.
"""

from __future__ import annotations

from typing import Any

from harness.core.outputs import StackOutputs
from harness.core.patroni import Patroni
from harness.core.progress import say
from harness.core.waiting import wait_for
from infra.config import DatabaseConfig
from infra.database import FAILSAFE_MODE, PRIMARY_START_TIMEOUT_S, REPLICATION_PARAMETERS


def wanted(config: DatabaseConfig) -> dict[str, Any]:
    timing = config.failover
    return {"ttl": timing.ttl, "loop_wait": timing.loop_wait, "retry_timeout": timing.retry_timeout,
            "synchronous_mode": config.synchronous, "failsafe_mode": FAILSAFE_MODE,
            "primary_start_timeout": PRIMARY_START_TIMEOUT_S,
            "postgresql": {"parameters": dict(REPLICATION_PARAMETERS)}}


def differences(current: dict[str, Any], wanted: dict[str, Any], prefix: str = "") -> dict[str, tuple[Any, Any]]:
    """Dotted key -> (current, wanted) for every wanted leaf the current config does not hold."""
    found: dict[str, tuple[Any, Any]] = {}
    for key, value in wanted.items():
        have = current.get(key) if isinstance(current, dict) else None
        if isinstance(value, dict):
            found |= differences(have if isinstance(have, dict) else {}, value, f"{prefix}{key}.")
        elif have != value:
            found[f"{prefix}{key}"] = (have, value)
    return found


def converge(outputs: StackOutputs, config: DatabaseConfig) -> dict[str, Any]:
    """Write the configured timing through the leader's REST API; returns what differed (empty when nothing)."""
    patroni = Patroni(outputs)
    name = wait_for("a Patroni leader to converge the failover timing through",
                    lambda: patroni.leader(timeout_s=2), timeout=120)
    current = patroni.config(name)
    # A member's GET /config is its cached view of the DCS, up to loop_wait old: the wanted values are
    # always written (PATCH is idempotent), and what differed from that view is reported.
    target = wanted(config)
    changes = differences(current, target)
    patroni.patch_config(name, target)
    if changes:
        say("Patroni dynamic config converged: " + ", ".join(f"{k} {have} -> {want}"
                                                              for k, (have, want) in changes.items()))
    return changes

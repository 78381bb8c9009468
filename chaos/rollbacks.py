"""Rollback steps an experiment may add after its faults are undone: waits until the stack is whole again.

Each registers itself in ``ROLLBACKS``, the table the experiment validator and the runner read.
"""

from __future__ import annotations

from collections.abc import Callable

from harness.core.containers import LocalContainers
from harness.core.http_json import ready_on_every_uplink
from harness.core.outputs import StackOutputs
from harness.core.patroni import wait_cluster_whole
from harness.core.registry import Registry
from harness.core.waiting import wait_for

Rollback = Callable[[StackOutputs, LocalContainers | None], None]
ROLLBACKS: Registry[Rollback] = Registry("rollback step")


@ROLLBACKS.register("wait-cluster-whole")
def cluster_whole(outputs: StackOutputs, containers: LocalContainers | None) -> None:
    wait_cluster_whole(outputs, "every standby streaming again, one of them synchronous",
                       log_tail=containers and containers.log_tail)


@ROLLBACKS.register("wait-ready")
def service_ready(outputs: StackOutputs, containers: LocalContainers | None, timeout_s: float = 180) -> None:
    wait_for("the service ready on every uplink", lambda: ready_on_every_uplink(outputs),
             timeout=timeout_s)

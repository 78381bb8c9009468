"""Bring the reference service's schema up to date on a running cluster at every ``up``.

Patroni's post-bootstrap applies ``schema.sql`` once, when a cluster is created; a table added later
(the supervision outbox, say) would otherwise reach only new clusters. The schema is idempotent and
applied as its owner role through the drill wrapper's ``ihh-apply-schema``, on the leader.
"""

from __future__ import annotations

from harness.core.outputs import StackOutputs
from harness.core.patroni import Patroni
from harness.core.ssh import Sessions
from harness.core.waiting import wait_for

SCHEMA_WITHIN_S = 120
"""How long a new cluster may take to finish its bootstrap (which creates the database) before this gives up."""


def apply_service_schema(outputs: StackOutputs) -> str:
    """Apply the schema on the current leader; returns the leader's name."""
    patroni = Patroni(outputs)
    with Sessions(outputs) as ssh:
        def applied() -> str:
            leader = patroni.leader()
            result = ssh.result(leader, "ihh-apply-schema")
            if result.exit_code != 0:  # kept as the wait's last observation: what a timeout reports
                raise RuntimeError(f"ihh-apply-schema on {leader} exited {result.exit_code}: "
                                   f"{(result.stderr or result.stdout).strip()[-500:]}")
            return leader
        return wait_for("the service schema applied on the leader (a new cluster bootstraps first)", applied,
                        timeout=SCHEMA_WITHIN_S, interval=2)

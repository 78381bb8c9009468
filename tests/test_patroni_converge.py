"""What `up` writes into Patroni's dynamic configuration, and what it reports as having differed."""

from __future__ import annotations

from harness.provisioning.patroni_config import differences, wanted
from infra.config import DatabaseConfig
from infra.database import REPLICATION_PARAMETERS


def test_nested_parameters_are_compared_leaf_by_leaf() -> None:
    want = wanted(DatabaseConfig())
    current = {**want, "ttl": 30, "postgresql": {"parameters": {**REPLICATION_PARAMETERS, "wal_keep_size": "256MB"},
                                                 "use_slots": True}}
    assert differences(current, want) == {"ttl": (30, want["ttl"]),
                                          "postgresql.parameters.wal_keep_size": ("256MB", "64MB")}
    assert differences(want, want) == {}
    assert differences({"postgresql": "garbage"}, {"postgresql": {"parameters": {"a": 1}}}) == {
        "postgresql.parameters.a": (None, 1)}

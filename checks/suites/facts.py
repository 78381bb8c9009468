"""Assertions several suites make, each failing with '<host>: <rule>: <what was found>'."""

from __future__ import annotations

from typing import Any

from harness.core.outputs import Host


def assert_owner_only(host: Any, target: Host, path: str, owner: str, rule: str) -> None:
    """``path`` exists, belongs to ``owner`` and no one else may read or write it."""
    secret = host.file(path)
    assert secret.exists, f"{target.name}: {rule}: {path} is missing"
    assert secret.user == owner and secret.mode & 0o077 == 0, (
        f"{target.name}: {rule}: {path} is {oct(secret.mode)} owned by {secret.user}"
    )

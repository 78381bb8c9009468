"""Assertions several suites make, each failing with '<host>: <rule>: <what was found>'."""

from __future__ import annotations

import json
import shlex
from typing import Any

from harness.core.outputs import Host
from infra.host_probes import HTTP_PROBE


def assert_owner_only(host: Any, target: Host, path: str, owner: str, rule: str) -> None:
    """``path`` exists, belongs to ``owner`` and no one else may read or write it."""
    secret = host.file(path)
    assert secret.exists, f"{target.name}: {rule}: {path} is missing"
    assert secret.user == owner and secret.mode & 0o077 == 0, (
        f"{target.name}: {rule}: {path} is {oct(secret.mode)} owned by {secret.user}"
    )




def http_answers(host: Any, asks: list[dict[str, Any]]) -> dict[str, Any]:
    """Each request's answer, made from ``host`` itself: an HTTP status, a TLS version, or the error's name.

    A request is ``{"name", "url", "method", "headers", "ca", "cert": [crt, key], "check_hostname"}``, or
    ``{"name", "tls_only": [host, port], "ca", ...}`` for a bare handshake.
    """
    argument = shlex.quote(json.dumps(asks))
    return json.loads(host.check_output(f"python3 -c {shlex.quote(HTTP_PROBE)} {argument}"))

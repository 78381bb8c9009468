"""Commands a database host runs as its postgres user, over SSH: one spelling for drills, probes and checks."""

from __future__ import annotations

import shlex

from infra.drill_access import PATRONI_CONFIG

AS_POSTGRES = "runuser -u postgres --"
PATRONICTL = f"{AS_POSTGRES} patronictl -c {PATRONI_CONFIG}"


def psql(query: str) -> str:
    """The shell command that runs one query through the local socket and prints bare values."""
    return f"{AS_POSTGRES} psql -XAtqc {shlex.quote(query)}"

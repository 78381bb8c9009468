"""Commands a database host runs as its postgres user, over SSH: one spelling for drills, probes and checks."""

from __future__ import annotations

import shlex

AS_POSTGRES = "runuser -u postgres --"
PG_BIN = "/usr/lib/postgresql/15/bin"
PATRONICTL = f"{AS_POSTGRES} patronictl -c /etc/patroni/patroni.yml"


def psql(query: str) -> str:
    """The shell command that runs one query through the local socket and prints bare values."""
    return f"{AS_POSTGRES} psql -XAtqc {shlex.quote(query)}"

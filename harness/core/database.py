"""Connections to the stack's database from the control machine, through the outputs only.

libpq's multi-host strings make "the primary" and "a standby" endpoints of their own:
``target_session_attrs=read-write`` lands on whichever member Patroni promoted.
Every connection verifies the server certificate against the stack's CA.
"""

from __future__ import annotations

from typing import Literal

import psycopg

from harness.core.outputs import StackOutputs

Target = Literal["read-write", "standby", "any"]

DEAD_PEER_S = 10
"""A member that stops answering mid-query (cut off, its host gone) ends the query with an error after about this
long, instead of holding the harness until the kernel gives up on the connection (~15 minutes)."""


def conninfo(outputs: StackOutputs, target: Target = "read-write", timeout_s: int = 3,
             members: list[str] | None = None, application_name: str = "ihh-harness") -> str:
    """A libpq connection string to the members' published ports (all, or those named) with the given target."""
    chosen = [outputs.member(name) for name in members] if members else outputs.database.members
    endpoints = [m.postgres_endpoint for m in chosen]
    return psycopg.conninfo.make_conninfo(
        host=",".join(h for h, _ in endpoints),
        port=",".join(str(p) for _, p in endpoints),
        dbname=outputs.database.dbname,
        user=outputs.database.user,
        password=outputs.secret("db_app_password"),
        sslmode="verify-full",
        sslrootcert=str(outputs.ca_cert_path),
        target_session_attrs=target,
        connect_timeout=timeout_s,
        application_name=application_name,
        keepalives=1,  # an idle connection to a vanished member: 4 + 3 x 2 s
        keepalives_idle=4,
        keepalives_interval=2,
        keepalives_count=3,
        tcp_user_timeout=DEAD_PEER_S * 1000,  # a query sent that the member never acknowledges
    )


def member_writable(outputs: StackOutputs, member: str, timeout_s: int = 1) -> bool | None:
    """Whether ``member``'s own PostgreSQL accepts writes now (True), is a standby (False), or is unreachable (None).

    Asked of the member directly, not through Patroni: Patroni's view is what a split brain gets wrong.
    """
    info = conninfo(outputs, "any", timeout_s, members=[member], application_name="ihh-harness-writable-probe")
    try:
        with psycopg.connect(info, autocommit=True) as conn:
            row = conn.execute("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"
                               ).fetchone()
    except psycopg.OperationalError:
        return None
    return not row[0]


def connect(outputs: StackOutputs, target: Target = "read-write") -> psycopg.Connection:
    """An autocommit connection to the primary (default) or a standby."""
    return psycopg.connect(conninfo(outputs, target), autocommit=True)

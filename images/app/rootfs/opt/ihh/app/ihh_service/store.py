"""The service's way to the writable primary: a small pool of TLS connections and retried transactions.

libpq's multi-host string with ``target_session_attrs=read-write`` finds whichever
host Patroni has promoted. A transaction whose connection breaks is retried once on
a fresh connection: writes carry idempotency keys stored in the same transaction,
so a retry can never apply a write twice.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psycopg

T = TypeVar("T")


class DatabaseUnavailableError(RuntimeError):
    """No writable primary answered within the request's budget."""


def conninfo(db: dict[str, Any]) -> str:
    password = Path(db["password_file"]).read_text().strip()
    return psycopg.conninfo.make_conninfo(
        host=",".join(db["hosts"]),
        port=",".join(str(db["port"]) for _ in db["hosts"]),
        dbname=db["dbname"],
        user=db["user"],
        password=password,
        sslmode="verify-full",
        sslrootcert=db["sslrootcert"],
        target_session_attrs="read-write",
        connect_timeout=2,
        application_name=f"ihh-service@{socket.gethostname()}",
        options="-c statement_timeout=5000 -c idle_in_transaction_session_timeout=10000",
    )


class Pool:
    """At most ``size`` connections; a broken one is dropped, not handed out again."""

    def __init__(self, dsn: str, size: int) -> None:
        self._dsn = dsn
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def _take(self, timeout: float) -> psycopg.Connection:
        if not self._slots.acquire(timeout=timeout):
            raise DatabaseUnavailableError("every pooled connection is busy")
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            try:
                conn = psycopg.connect(self._dsn)
            except psycopg.Error:
                self._slots.release()
                raise
        return conn

    def _give_back(self, conn: psycopg.Connection) -> None:
        if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.close()
        else:
            self._idle.put(conn)
        self._slots.release()

    def transaction(self, work: Callable[[psycopg.Connection], T], budget: float = 4.0) -> T:
        """Run ``work`` in one transaction on the primary, once more on a new connection if the link breaks."""
        deadline = time.monotonic() + budget
        attempt = 0
        while True:
            attempt += 1
            try:
                conn = self._take(max(0.1, deadline - time.monotonic()))
            except psycopg.OperationalError as exc:
                if attempt >= 2 or time.monotonic() >= deadline:
                    raise DatabaseUnavailableError(f"no writable primary: {type(exc).__name__}") from exc
                continue
            try:
                with conn.transaction():
                    return work(conn)
            except (psycopg.OperationalError, psycopg.errors.ReadOnlySqlTransaction) as exc:
                conn.close()
                if attempt >= 2 or time.monotonic() >= deadline:
                    raise DatabaseUnavailableError(f"primary lost mid-transaction: {type(exc).__name__}") from exc
            finally:
                self._give_back(conn)


class SchemaMissingError(RuntimeError):
    """The database tier has not created the schema yet (it does at bootstrap, as the schema's owner)."""


def check_schema(pool: Pool) -> None:
    """The schema is there and this role may write the audit trail; the service never owns or alters it.

    The database tier applies ``schema.sql`` at bootstrap as a separate owner role, so the service's
    role cannot truncate, update or delete the audit trail: a compromised app server cannot erase it.
    """
    def work(conn: psycopg.Connection) -> bool:
        row = conn.execute("SELECT to_regclass('public.audit_trail') IS NOT NULL"
                           " AND has_table_privilege('public.audit_trail', 'INSERT')").fetchone()
        return bool(row and row[0])

    if not pool.transaction(work, budget=30.0):
        raise SchemaMissingError("the audit trail is not there yet, or this role may not insert into it")

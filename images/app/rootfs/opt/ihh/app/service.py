#!/usr/bin/python3
"""Placeholder internet-hospital service: liveness, and readiness that proves the writable primary answers.

It connects with libpq's multi-host string and target_session_attrs=read-write, so
whichever database host Patroni has promoted is the one it reaches, over TLS with
the stack's CA verified (sslmode=verify-full).
"""
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg

CONFIG = json.loads(Path(sys.argv[1]).read_text())
NODE = socket.gethostname()


def conninfo() -> str:
    db = CONFIG["db"]
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
        application_name=f"ihh-service@{NODE}",
    )


class Primary:
    """One lazily (re)opened connection to the writable primary, shared under a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None

    def check(self) -> dict:
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = psycopg.connect(conninfo(), autocommit=True)
                row = self._conn.execute(
                    "select inet_server_addr()::text, pg_is_in_recovery(), now()"
                ).fetchone()
            except psycopg.Error as exc:
                print(f"readiness: primary not reachable: {type(exc).__name__}: {exc}", flush=True)
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                return {"ready": False, "error": type(exc).__name__}
        return {"ready": not row[1], "server": row[0], "checked_at": row[2].isoformat()}


PRIMARY = Primary()


class Handler(BaseHTTPRequestHandler):
    server_version = "ihh-service/0.1"

    def _send(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/health/live":
            self._send(200, {"live": True, "node": NODE})
        elif self.path == "/health/ready":
            state = PRIMARY.check()
            self._send(200 if state["ready"] else 503, {**state, "node": NODE})
        else:
            self._send(404, {"error": "not found", "path": self.path})

    def log_message(self, fmt: str, *args: object) -> None:
        sys.stdout.write(f"{self.address_string()} {fmt % args}\n")


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple) -> None:
        """A client that hangs up early (a load balancer's probe) is not a server error."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def main() -> None:
    server = Server(("0.0.0.0", int(CONFIG["listen_port"])), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()

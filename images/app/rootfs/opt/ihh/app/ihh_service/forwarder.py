"""GD-3.2.1: upload the outbox to the provincial supervision platform, in order, exactly once as the platform sees it.

Every app server runs a forwarder; one at a time works, the holder of a lease in the database (renewed
while it works, taken over when it lapses: a killed app server holds it ``LEASE_S`` at most, a failed-over
database carries it with everything else). The working forwarder reads the oldest records not yet sent,
uploads them as one batch through the platform's endpoints in turn, and in one transaction, fenced by its
lease, marks what the platform accepted (or already held: a resend) and moves what it rejected to the
dead-letter table with the platform's reason. A failed upload is retried, the same records in the same
order, after a backoff that doubles up to a ceiling; a timeout also halves the batch, so a slow platform
still moves. Records of one patient are sent in the order they were committed, since the oldest unsent
always goes first.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg.types.json import Jsonb

from ihh_service.store import DatabaseUnavailableError, Pool

LEASE_S = 10.0
RENEW_WITHIN_S = 5.0
"""The lease is renewed when less than this is left of it."""
POLL_S = 0.2
"""How often an idle forwarder looks for new records: the floor of the upload lag."""
BACKOFF_FIRST_S, BACKOFF_CEILING_S = 0.5, 10.0
BATCH_MAX = 200
REQUEST_TIMEOUT_S = 10.0


class UploadError(RuntimeError):
    """No endpoint took the batch: unreachable, too slow, or it answered other than 200."""

    def __init__(self, message: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


class _Relayed(http.client.HTTPSConnection):
    """HTTPS whose certificate is checked against the platform's name, where the URL's host is a relay."""

    def __init__(self, host: str, port: int | None, server_name: str | None, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self.server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self.server_name or self.host)


class Platform:
    """The platform's upload API, reached through its endpoints in turn."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.endpoints: list[str] = config["endpoints"]
        self.server_name: str | None = config.get("server_name")
        self.context = ssl.create_default_context(cafile=config.get("ca_file"))
        self.token_file = Path(config["token_file"])
        self.current = 0

    def upload(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The platform's receipts for ``records``; UploadError when no endpoint answered 200."""
        token = self.token_file.read_text().strip()  # read each time: operations may rotate it
        body = json.dumps({"records": records}, ensure_ascii=False).encode()
        problems, timed_out = [], False
        for _ in range(len(self.endpoints)):
            url = urlsplit(self.endpoints[self.current])
            try:
                return self._post(url.hostname or "", url.port, url.path.rstrip("/") + "/v1/records", body, token,
                                  len(records))
            except TimeoutError:
                timed_out = True
                problems.append(f"{url.netloc}: no answer within {REQUEST_TIMEOUT_S:g} s")
            except (OSError, http.client.HTTPException, UploadError, ValueError) as exc:
                problems.append(f"{url.netloc}: {exc}")
            self.current = (self.current + 1) % len(self.endpoints)
        raise UploadError("; ".join(problems), timed_out)

    def _post(self, host: str, port: int | None, path: str, body: bytes, token: str,
              count: int) -> list[dict[str, Any]]:
        conn = _Relayed(host, port, self.server_name, context=self.context, timeout=REQUEST_TIMEOUT_S)
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            answer = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise UploadError(f"answered {response.status}")
        receipts = json.loads(answer)["receipts"]
        if len(receipts) != count:
            raise ValueError("the platform answered a different number of receipts")
        return receipts


class Forwarder:
    """The loop one app server runs; it works only while it holds the lease."""

    def __init__(self, config: dict[str, Any], pool: Pool, node: str) -> None:
        self.platform = Platform(config)
        self.pool = pool
        self.holder = f"{node}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_until = 0.0
        self.batch = BATCH_MAX
        self.backoff = BACKOFF_FIRST_S
        self.stop = threading.Event()

    def run(self) -> None:
        print(f"forwarder {self.holder}: uploading to {', '.join(self.platform.endpoints)}", flush=True)
        while not self.stop.is_set():
            try:
                wait = self.step()
            except (DatabaseUnavailableError, psycopg.Error) as exc:
                self.lease_until = 0.0  # the lease is re-read on the (new) primary
                print(f"forwarder: database unavailable: {type(exc).__name__}: {exc}", flush=True)
                wait = 1.0
            self.stop.wait(wait)

    def step(self) -> float:
        """One round: hold the lease, upload the oldest unsent batch; returns how long to wait before the next."""
        if not self.hold_lease():
            return 1.0
        rows = self.pool.transaction(lambda conn: conn.execute(
            "SELECT id, record_id, kind, patient_id, payload, committed_at FROM supervision_outbox"
            " WHERE sent_at IS NULL ORDER BY id LIMIT %s", (self.batch,)).fetchall())
        if not rows:
            return POLL_S
        records = [{"record_id": str(r[1]), "kind": r[2], "patient_ref": None if r[3] is None else str(r[3]),
                    "occurred_at": r[5].isoformat(), "data": r[4]} for r in rows]
        try:
            receipts = self.platform.upload(records)
        except UploadError as exc:
            if exc.timed_out:
                self.batch = max(1, self.batch // 2)
            wait, self.backoff = self.backoff, min(self.backoff * 2, BACKOFF_CEILING_S)
            print(f"forwarder: upload of {len(records)} records failed, again in {wait:g} s: {exc}", flush=True)
            return wait
        self.settle(rows, receipts)
        self.backoff, self.batch = BACKOFF_FIRST_S, min(BATCH_MAX, self.batch * 2)
        return 0.0

    def hold_lease(self) -> bool:
        """Whether this forwarder works now: its lease renewed when it runs short, or taken once it lapsed."""
        if time.monotonic() < self.lease_until - RENEW_WITHIN_S:
            return True
        started = time.monotonic()
        held = self.pool.transaction(lambda conn: conn.execute(
            "INSERT INTO supervision_forwarder (id, holder, expires_at)"
            " VALUES (1, %(me)s, clock_timestamp() + %(lease)s * interval '1 second')"
            " ON CONFLICT (id) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at"
            " WHERE supervision_forwarder.holder = EXCLUDED.holder"
            " OR supervision_forwarder.expires_at < clock_timestamp()"
            " RETURNING holder", {"me": self.holder, "lease": LEASE_S}).fetchone())
        if held is None:
            self.lease_until = 0.0
            return False
        if self.lease_until == 0.0:
            print(f"forwarder {self.holder}: holds the lease, working", flush=True)
        self.lease_until = started + LEASE_S
        return True

    def settle(self, rows: list[tuple[Any, ...]], receipts: list[dict[str, Any]]) -> None:
        """Mark what the platform holds, dead-letter what it rejected: one transaction, fenced by the lease."""
        by_id = {str(r[1]): r for r in rows}
        sent = [(by_id[rc["record_id"]][0], rc.get("receipt", "")) for rc in receipts
                if rc.get("status") in ("accepted", "duplicate") and rc.get("record_id") in by_id]
        rejected = [(by_id[rc["record_id"]], rc.get("reason") or "rejected without a reason")
                    for rc in receipts if rc.get("status") == "rejected" and rc.get("record_id") in by_id]

        def work(conn: psycopg.Connection) -> bool:
            if conn.execute("SELECT 1 FROM supervision_forwarder WHERE id = 1 AND holder = %s FOR UPDATE",
                            (self.holder,)).fetchone() is None:
                return False  # another forwarder took over: it sends these again, the platform dedups them
            if sent:
                conn.execute("UPDATE supervision_outbox o SET sent_at = clock_timestamp(), receipt = r.receipt,"
                             " attempts = o.attempts + 1 FROM unnest(%s::bigint[], %s::text[]) AS r(id, receipt)"
                             " WHERE o.id = r.id", ([s[0] for s in sent], [s[1] for s in sent]))
            for row, reason in rejected:
                conn.execute("INSERT INTO supervision_dead_letter (record_id, outbox_id, kind, payload, reason)"
                             " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (record_id) DO NOTHING",
                             (row[1], row[0], row[2], Jsonb(row[4]), reason))
                conn.execute("UPDATE supervision_outbox SET sent_at = clock_timestamp(), receipt = 'rejected',"
                             " attempts = attempts + 1 WHERE id = %s", (row[0],))
            return True

        if not self.pool.transaction(work):
            self.lease_until = 0.0
            print(f"forwarder {self.holder}: lost the lease; {len(rows)} records left to the new holder", flush=True)
        elif rejected:
            print(f"forwarder: {len(rejected)} records rejected, dead-lettered: {rejected[0][1]}", flush=True)


def start(config: dict[str, Any] | None, pool: Pool, node: str) -> Forwarder | None:
    """A forwarder thread where the service has a platform to upload to."""
    if not config:
        print("forwarder: no supervision platform configured; nothing is uploaded", flush=True)
        return None
    forwarder = Forwarder(config, pool, node)
    threading.Thread(target=forwarder.run, name="forwarder", daemon=True).start()
    return forwarder

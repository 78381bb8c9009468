"""The supervision platform's upload path (GD-3.2.1), as drills see it: the simulator and the service's outbox.

``SimulatorControl`` talks to the local simulator's control API (what it accepted, how it behaves);
``outbox_since`` reads what the service committed for upload; ``reconcile`` compares the two: every
committed record uploaded once, in commit order per patient, none missing, rejections dead-lettered,
and the upload lag (commit to acknowledged receipt, both on the database's clock).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import psycopg

from harness.core.http_json import UNREACHABLE, request_json

MODES = ("normal", "slow", "error", "refuse", "drop")


class SupervisionError(RuntimeError):
    """The simulator's control API refused a call or did not answer."""


class SimulatorControl:
    """The control API at ``base_url`` (the output ``supervision.control_api``), with its token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self._headers = base_url.rstrip("/"), {"Authorization": f"Bearer {token}"}

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        status, answer = request_json(method, self.base_url + path, body, self._headers, timeout_s=10)
        if status != 200:
            said = "did not answer" if status == UNREACHABLE else f"answered {status}"
            raise SupervisionError(f"supervision simulator {method} {path}: {said}")
        return answer

    def answers(self) -> bool:
        try:
            self.mode()
        except SupervisionError:
            return False
        return True

    def mode(self) -> dict[str, Any]:
        return self._call("GET", "/control/mode")

    def set_mode(self, mode: str, **settings: float) -> None:
        if mode not in MODES:
            raise ValueError(f"mode: must be one of {', '.join(MODES)}, got {mode!r}")
        self._call("PUT", "/control/mode", {"mode": mode, **settings})

    def normal(self) -> None:
        self._call("DELETE", "/control/mode")

    def received(self, page: int = 50_000) -> dict[str, Any]:
        """Everything accepted (in arrival order, paged), the rejections, and the count of resends."""
        records: list[dict[str, Any]] = []
        while True:
            answer = self._call("GET", f"/control/records?after={len(records)}&limit={page}")
            records += answer["records"]
            if len(records) >= answer["accepted"] or not answer["records"]:
                return {**answer, "records": records}


@dataclass(frozen=True)
class OutboxRecord:
    id: int
    record_id: str
    kind: str
    patient_id: int | None
    committed_at: float
    sent_at: float | None
    receipt: str | None


def outbox_since(conn: psycopg.Connection, after_id: int) -> list[OutboxRecord]:
    """The records committed for upload after outbox id ``after_id``, in commit order."""
    rows = conn.execute(
        "SELECT id, record_id::text, kind, patient_id, extract(epoch FROM committed_at)::float8,"
        " extract(epoch FROM sent_at)::float8, receipt FROM supervision_outbox WHERE id > %s ORDER BY id",
        (after_id,)).fetchall()
    return [OutboxRecord(*row) for row in rows]


def outbox_head(conn: psycopg.Connection) -> int:
    """The newest outbox id (0 when empty): where a drill's own records begin."""
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM supervision_outbox").fetchone()[0])


def pending_between(conn: psycopg.Connection, after_id: int, upto_id: int) -> int:
    """Records with outbox ids in (``after_id``, ``upto_id``] not yet acknowledged by the platform."""
    return int(conn.execute("SELECT count(*) FROM supervision_outbox WHERE id > %s AND id <= %s AND sent_at IS NULL",
                            (after_id, upto_id)).fetchone()[0])


def dead_letters(conn: psycopg.Connection, after_id: int) -> dict[str, str]:
    """record ID -> the platform's reason, for records after ``after_id`` the platform rejected."""
    rows = conn.execute("SELECT record_id::text, reason FROM supervision_dead_letter WHERE outbox_id > %s",
                        (after_id,)).fetchall()
    return {r[0]: r[1] for r in rows}


def forwarder_holder(conn: psycopg.Connection) -> str | None:
    """The node name (hostname) of the app server whose forwarder holds the lease now, or None when none does."""
    row = conn.execute("SELECT holder FROM supervision_forwarder WHERE id = 1 AND expires_at > clock_timestamp()"
                       ).fetchone()
    return None if row is None else str(row[0]).split(":", 1)[0]


@dataclass
class Reconciliation:
    """What was committed against what the platform holds: GD-3.2.1's figures for one window."""

    committed: int
    uploaded: int
    pending: int
    duplicated: int
    """Events the platform holds more than once (one event under two record IDs, or one record stored twice):
    must be 0."""
    missing: int
    """Committed, sent-marked or not, yet neither held by the platform nor dead-lettered."""
    out_of_order: int
    """Records the platform received before an earlier-committed record of the same patient."""
    dead_lettered: int
    resends: int
    """Uploads the platform recognised as records it held (retries after a lost answer): harmless."""
    lag_p50_s: float | None
    lag_p95_s: float | None
    lag_max_s: float | None
    reasons: dict[str, int] = field(default_factory=dict)
    """Dead-letter reasons and how many records each."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reconcile(outbox: list[OutboxRecord], received: dict[str, Any], rejected: dict[str, str]) -> Reconciliation:
    """Compare the committed records with what the platform accepted (``received`` from SimulatorControl)."""
    mine = {r.record_id for r in outbox}
    arrivals: dict[str, list[int]] = {}
    events: dict[str, int] = {}
    for entry in received["records"]:
        if entry["record_id"] in mine:
            arrivals.setdefault(entry["record_id"], []).append(int(entry["seq"]))
            event = entry.get("event") or entry["record_id"]
            events[event] = events.get(event, 0) + 1
    missing = [r for r in outbox if r.sent_at is not None and r.record_id not in arrivals
               and r.record_id not in rejected]
    out_of_order, last_seq = 0, {}
    for r in outbox:  # commit order; per patient, the platform's arrival order must follow it
        if r.record_id not in arrivals or r.patient_id is None:
            continue
        seq = arrivals[r.record_id][0]
        if seq < last_seq.get(r.patient_id, 0):
            out_of_order += 1
        last_seq[r.patient_id] = max(seq, last_seq.get(r.patient_id, 0))
    lags = [r.sent_at - r.committed_at for r in outbox if r.sent_at is not None and r.record_id not in rejected]
    reasons: dict[str, int] = {}
    for record_id, reason in rejected.items():
        if record_id in mine:
            reasons[reason] = reasons.get(reason, 0) + 1
    p50, p95, worst = (np.percentile(lags, [50, 95, 100]).tolist() if lags else (None, None, None))
    return Reconciliation(
        committed=len(outbox), uploaded=len(arrivals), pending=sum(1 for r in outbox if r.sent_at is None),
        duplicated=sum(n - 1 for n in events.values()) + sum(len(seqs) - 1 for seqs in arrivals.values()),
        missing=len(missing),
        out_of_order=out_of_order, dead_lettered=sum(reasons.values()), resends=int(received.get("resends", 0)),
        lag_p50_s=None if p50 is None else round(p50, 3), lag_p95_s=None if p95 is None else round(p95, 3),
        lag_max_s=None if worst is None else round(worst, 3), reasons=reasons)


def reconcile_window(conn: psycopg.Connection, received: dict[str, Any], after_id: int, upto_id: int
                     ) -> tuple[list[OutboxRecord], Reconciliation]:
    """The records with outbox ids in (``after_id``, ``upto_id``], reconciled with what the platform ``received``."""
    records = [r for r in outbox_since(conn, after_id) if r.id <= upto_id]
    return records, reconcile(records, received, dead_letters(conn, after_id))

"""The per-request log of the load: one CSV row per attempt, written by the failover client in each Locust
process and read by the load analysis and the evidence plots. Kept free of Locust so anything can read it."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

LOG_FIELDS = ("ts", "endpoint", "uplink", "attempt", "latency_ms", "status", "ok", "final", "operation", "error",
              "client")
"""One row per attempt; Kept free of Locust so tests import it."""

@dataclass(frozen=True)
class Request:
    ts: float
    endpoint: str
    uplink: str
    attempt: int
    latency_ms: float
    status: int
    ok: bool
    final: bool
    operation: str
    error: str
    client: str = ""
    """The simulated user that sent it (empty in logs written before the column existed)."""


def attempts_logged(directory: Path) -> int:
    """How many attempts the per-request logs under ``directory`` hold so far (headers not counted)."""
    total = 0
    for path in directory.glob("requests-*.csv"):
        with path.open() as handle:
            total += max(0, sum(1 for _ in handle) - 1)
    return total


def read_requests(directory: Path) -> list[Request]:
    """Every attempt of every process's log, in time order."""
    rows: list[Request] = []
    for path in sorted(directory.glob("requests-*.csv")):
        with path.open(newline="") as handle:
            for r in csv.DictReader(handle):
                rows.append(Request(float(r["ts"]), r["endpoint"], r["uplink"], int(r["attempt"]),
                                    float(r["latency_ms"]), int(r["status"]), r["ok"] == "1", r["final"] == "1",
                                    r["operation"], r["error"], r.get("client") or ""))
    rows.sort(key=lambda r: r.ts)
    return rows

"""What the per-request logs say: operations users saw, attempts per uplink, and the error windows."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

LOG_FIELDS = ("ts", "endpoint", "uplink", "attempt", "latency_ms", "status", "ok", "final", "operation", "error")
"""One row per attempt; written by the failover client, read here. Kept free of Locust so tests import it."""
WINDOW_GAP_S = 1.0
"""Failures closer together than this belong to one error window."""


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


@dataclass(frozen=True)
class ErrorWindow:
    start: float
    end: float
    failures: int
    uplinks: list[str]

    @property
    def seconds(self) -> float:
        return self.end - self.start


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
                                    r["operation"], r["error"]))
    rows.sort(key=lambda r: r.ts)
    return rows


def error_windows(failures: list[Request]) -> list[ErrorWindow]:
    """Merge failures into windows: from the first failed send to the last failed answer, gaps under 1 s joined."""
    windows: list[ErrorWindow] = []
    for r in sorted(failures, key=lambda r: r.ts):
        end = r.ts + r.latency_ms / 1000
        if windows and r.ts - windows[-1].end <= WINDOW_GAP_S:
            last = windows[-1]
            windows[-1] = ErrorWindow(last.start, max(last.end, end), last.failures + 1,
                                      sorted({*last.uplinks, r.uplink}))
        else:
            windows.append(ErrorWindow(r.ts, end, 1, [r.uplink]))
    return windows


def percentiles(latencies: list[float]) -> dict[str, float | None]:
    if not latencies:
        return {"p50": None, "p95": None, "p99": None}
    p50, p95, p99 = np.percentile(np.asarray(latencies), [50, 95, 99])
    return {"p50": round(float(p50), 1), "p95": round(float(p95), 1), "p99": round(float(p99), 1)}


def summarize(rows: list[Request]) -> dict[str, Any]:
    """Operations (final attempts) for availability; attempts for the wire's view, per uplink and endpoint."""
    finals = [r for r in rows if r.final]
    failed_ops = [r for r in finals if not r.ok]
    per_uplink = {}
    for uplink in sorted({r.uplink for r in rows}):
        mine = [r for r in rows if r.uplink == uplink]
        per_uplink[uplink] = {
            "requests": len(mine),
            "failed": sum(not r.ok for r in mine),
            "success_ratio": round(sum(r.ok for r in mine) / len(mine), 6),
            **percentiles([r.latency_ms for r in mine if r.ok]),
        }
    per_endpoint = {}
    for endpoint in sorted({r.endpoint for r in finals}):
        mine = [r for r in finals if r.endpoint == endpoint]
        per_endpoint[endpoint] = {"operations": len(mine), "failed": sum(not r.ok for r in mine)}
    raw = error_windows([r for r in rows if not r.ok])
    visible = error_windows(failed_ops)
    span = (rows[-1].ts - rows[0].ts) if rows else 0.0
    return {
        "attempts": len(rows),
        "operations": len(finals),
        "successes": len(finals) - len(failed_ops),
        "failed_over": sum(1 for r in finals if r.attempt > 1 and r.ok),
        "seconds": round(span, 1),
        "per_uplink": per_uplink,
        "per_endpoint": per_endpoint,
        "raw_error_windows": [{**asdict(w), "seconds": round(w.seconds, 3)} for w in raw],
        "user_visible_error_windows": [{**asdict(w), "seconds": round(w.seconds, 3)} for w in visible],
        "longest_raw_error_window_s": round(max((w.seconds for w in raw), default=0.0), 3),
        "failed_operations": [asdict(r) for r in failed_ops[:50]],
    }

"""What the per-request logs say: operations users saw, attempts per uplink, and the error windows."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from harness.core.request_log import Request

WINDOW_GAP_S = 1.0
"""Failures closer together than this belong to one error window."""


@dataclass(frozen=True)
class ErrorWindow:
    start: float
    end: float
    failures: int
    uplinks: list[str]

    @property
    def seconds(self) -> float:
        return self.end - self.start


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


def client_error_windows(rows: list[Request]) -> list[ErrorWindow]:
    """Per user: each run of failed attempts with no success between them, from the first's send to the last's
    answer: how long that user's requests kept failing, which is the failover, where the windows merged across
    users also span the users' think time. A success ends the run (its own latency is the service's, not the
    outage's). Rows without a client (logs from before the column) are left out."""
    windows: list[ErrorWindow] = []
    by_client: dict[str, list[Request]] = {}
    for r in rows:
        if r.client:
            by_client.setdefault(r.client, []).append(r)
    for mine in by_client.values():
        run: ErrorWindow | None = None
        for r in sorted(mine, key=lambda r: r.ts):
            end = r.ts + r.latency_ms / 1000
            if not r.ok:
                run = (ErrorWindow(run.start, max(run.end, end), run.failures + 1, sorted({*run.uplinks, r.uplink}))
                       if run else ErrorWindow(r.ts, end, 1, [r.uplink]))
            elif run:
                windows.append(run)
                run = None
        if run:
            windows.append(run)
    return sorted(windows, key=lambda w: w.start)


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
    per_client = client_error_windows(rows)
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
        "longest_client_error_window_s": (round(max((w.seconds for w in per_client), default=0.0), 3)
                                          if any(r.client for r in rows) else None),
        "failed_operations": [asdict(r) for r in failed_ops[:50]],
    }

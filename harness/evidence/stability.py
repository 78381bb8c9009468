"""EH-1.2.4: the monthly stability summary, built from the evidence runs kept on disk."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def monthly_summary(evidence_root: Path, month: str) -> dict[str, Any]:
    """Every run of ``month`` (YYYY-MM) found under ``evidence_root``: verdicts, availability, drills, RTO."""
    runs = []
    for path in sorted(evidence_root.glob("*/evidence.json")):
        if path.parent.is_symlink():  # evidence/latest points at a run already counted
            continue
        data = json.loads(path.read_text())
        if not str(data.get("run", {}).get("started", "")).startswith(month):
            continue
        measurements = data.get("measurements", {})
        runs.append({
            "run_id": data["run"]["id"],
            "started": data["run"]["started"],
            "verdicts": data.get("summary", {}),
            "availability_ratio": measurements.get("availability", {}).get("ratio"),
            "availability_lower_bound": measurements.get("availability", {}).get("lower_bound"),
            "drills": measurements.get("drills", {}).get("count"),
            "drills_failed": measurements.get("drills", {}).get("failed"),
            "worst_rto_s": measurements.get("restore", {}).get("worst_rto_s"),
            "scheduled_backups": measurements.get("backups", {}).get("scheduled"),
            "upload_lag_p95_s": measurements.get("uploads", {}).get("steady_lag_p95_s"),
            "upload_missing": measurements.get("uploads", {}).get("missing"),
        })
    ratios = [r["availability_ratio"] for r in runs if r["availability_ratio"] is not None]
    lags = [r["upload_lag_p95_s"] for r in runs if r.get("upload_lag_p95_s") is not None]
    return {
        "month": month,
        "runs": runs,
        "run_count": len(runs),
        "runs_with_failures": sum(1 for r in runs if r["verdicts"].get("fail")),
        "worst_availability_ratio": min(ratios) if ratios else None,
        "worst_upload_lag_p95_s": max(lags) if lags else None,
        "uploads_missing": sum(r.get("upload_missing") or 0 for r in runs),
        "drills": sum(r["drills"] or 0 for r in runs),
        "drills_failed": sum(r["drills_failed"] or 0 for r in runs),
        "scheduled_backups": next((r["scheduled_backups"] for r in reversed(runs) if r["scheduled_backups"]), None),
        # per copy: the copy's own timer's runs (ok, failed, busy) and missed periods, as of the month's last run
    }

"""Project a measured restore to production size: is RTO within 4 h (EH-2.2.3) and far below 72 h (EH-3.3.2)?

Size-independent phases (loss, start, service back, verify) are taken as measured;
restore scales with data size at the measured restore throughput, WAL replay with the
production WAL volume at the measured replay rate. The range spans the drills' best
and worst throughput, so one lucky run does not make the verdict.

The drill's filler data compresses far better than clinical records do, so a restore can
outrun a plain copy of the same data directory on the same disk. Real data cannot: the
restore rate used is capped at the measured raw-copy rate, and the projection says how
many drills the cap applied to.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from chaos.restore_drill import RestoreResult

GB = 10**9
RTO_LIMIT_S = 4 * 3600
TERMINATION_S = 72 * 3600
FIXED_PHASES = ("loss", "start", "service_back", "verify")


@dataclass(frozen=True)
class Projection:
    """Projected RTO for a production data size, as a range, with the verdicts."""

    data_gb: float
    wal_gb: float
    rto_low_s: float
    rto_high_s: float
    within_4h: bool
    within_72h: bool
    drills: int
    capped_at_raw_copy: int = 0
    """Drills whose restore outran a raw copy of the data (compressible filler): their rate was capped."""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def restore_rate(result: RestoreResult) -> float:
    """The measured restore rate, no faster than a raw copy of the data on the same disk (when measured)."""
    if result.raw_copy_bytes_per_s:
        return min(result.restore_bytes_per_s, result.raw_copy_bytes_per_s)
    return result.restore_bytes_per_s


def _one(result: RestoreResult, data_gb: float, wal_gb: float) -> float:
    fixed = sum(result.phases.get(p, 0.0) for p in FIXED_PHASES)
    restore = data_gb * GB / restore_rate(result)
    replay = wal_gb * GB / result.replay_bytes_per_s
    return fixed + restore + replay


def project(results: list[RestoreResult], data_gb: float, wal_gb: float) -> Projection:
    """The projection over every drill; raises when no drill measured a throughput."""
    usable = [r for r in results if r.restore_bytes_per_s > 0 and r.replay_bytes_per_s > 0]
    if not usable:
        raise ValueError("no restore drill measured a restore and replay throughput to project from")
    estimates = [_one(r, data_gb, wal_gb) for r in usable]
    low, high = min(estimates), max(estimates)
    capped = sum(1 for r in usable if restore_rate(r) < r.restore_bytes_per_s)
    return Projection(data_gb, wal_gb, round(low, 1), round(high, 1), high <= RTO_LIMIT_S, high <= TERMINATION_S,
                      len(usable), capped)

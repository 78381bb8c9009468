"""Benchmark database failover: the primary-kill drill N times, writes-back time and RPO per run, p50/p95.

Prints figures; asserts nothing. Needs the local stack up. Each run is the
`database-primary-kill` experiment with load alongside; journals go to a temporary folder.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

from chaos.runner import run_experiments


def nearest_rank(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    writes, outages, rpo = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(1, args.runs + 1):
            journal = run_experiments(args.stack, ["database-primary-kill"], Path(tmp) / f"run-{i}")[0]
            m = journal.measurements
            writes.append(m["writes_back_s"])
            outages.append(m["user_visible_outage_s"])
            rpo.append(m["rpo_rows"])
            print(f"run {i}: writes back {m['writes_back_s']:.2f} s, user-visible outage "
                  f"{m['user_visible_outage_s']:.2f} s, RPO {m['rpo_rows']} rows, verdict {journal.verdict}",
                  flush=True)
    print(f"writes back over {args.runs} runs: p50 {nearest_rank(writes, 50):.2f} s, "
          f"p95 {nearest_rank(writes, 95):.2f} s, max {max(writes):.2f} s (goal p95 <= 15 s)")
    print(f"RPO rows: {rpo}; user-visible outage max {max(outages):.2f} s")


if __name__ == "__main__":
    main()

"""Benchmark the failover drills: each named experiment N times, its figures per run, then their spread.

Prints figures; asserts nothing. Needs the local stack up. Each run is the experiment with load
alongside, from a whole cluster, exactly as `harness chaos` runs it; journals go to a temporary
folder (or --keep DIR). One lucky run proves little: the same partition gave a 13 s outage once and
a total one the next (issue 16), so what counts is p95 and max over the runs.
"""

from __future__ import annotations

import argparse
import math
import signal
import tempfile
from pathlib import Path

from chaos.runner import run_experiments
from harness.cli import undo_then_exit

DEFAULT = ["database-primary-kill", "primary-partition-drop", "primary-partition-reject", "dcs-quorum-loss"]
FIGURES = ["writes_back_s", "user_visible_outage_s", "false_failovers", "old_primary_writable_s",
           "dual_writable_rounds", "whole_after_heal_s", "rpo_rows", "wal_alarm_lead_s", "media_gap_s",
           "media_loss_outside_gap_pct"]
"""What each run is judged on, where the experiment measures it."""


def nearest_rank(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def spread(values: list[float]) -> str:
    return (f"min {min(values):g}, p50 {nearest_rank(values, 50):g}, p95 {nearest_rank(values, 95):g}, "
            f"max {max(values):g}")


def bench(stack: str, name: str, runs: int, root: Path) -> None:
    seen: dict[str, list[float]] = {}
    verdicts = []
    for i in range(1, runs + 1):
        journal = run_experiments(stack, [name], root / name / f"run-{i}")[0]
        verdicts.append(journal.verdict)
        figures = {k: journal.measurements[k] for k in FIGURES if journal.measurements.get(k) is not None}
        for key, value in figures.items():
            seen.setdefault(key, []).append(float(value))
        print(f"{name} run {i}/{runs}: verdict {journal.verdict}; "
              + ", ".join(f"{k} {v:g}" for k, v in figures.items())
              + ("" if journal.verdict == "pass" else f"; reason: {journal.reason}"), flush=True)
    print(f"{name} over {runs} runs: {verdicts.count('pass')} pass, {runs - verdicts.count('pass')} not")
    for key, values in seen.items():
        print(f"  {key}: {spread(values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the journals in this folder")
    parser.add_argument("experiments", nargs="*", default=DEFAULT)
    args = parser.parse_args()
    for kind in (signal.SIGTERM, signal.SIGINT):  # as `harness chaos`: a signal undoes the fault in effect first
        signal.signal(kind, undo_then_exit)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for name in args.experiments:
            bench(args.stack, name, args.runs, root)


if __name__ == "__main__":
    main()

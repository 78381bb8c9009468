"""Benchmark the two ways drills reach hosts: each drill through ``--target docker`` and ``--target ssh``,
one right after the other on the same stack, with its figures side by side.

Prints a table; asserts nothing. Needs the local stack up (the only one whose hosts both ways reach).
What the SSH way costs is the time its commands take: ``inject_s`` (from the start of a drill's action to
its fault being in place) and, through it, the outage figures, which are measured from the fault in place.
The order alternates per drill (docker first, then ssh first) so neither way always meets a stack
just disturbed by the other.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import time
from pathlib import Path

from chaos.experiment import find_experiments
from chaos.runner import run_experiments
from harness.cli import undo_then_exit
from harness.core.outputs import StackOutputs
from harness.core.ssh import Sessions

FIGURES = ["probe_outage_s", "user_visible_outage_s", "writes_back_s", "recovered_s", "rpo_rows"]
"""The outage figures compared, where the drill measures them."""
TARGETS = ("docker", "ssh")


def _inject_seconds(journal) -> float | None:
    spans = [a.phases["injected"] - a.start for a in journal.activities if "injected" in a.phases]
    return round(sum(spans), 2) if spans else None


def run_one(stack: str, name: str, target: str, root: Path, with_load: bool) -> dict[str, object]:
    journal = run_experiments(stack, [name], root / name / target, with_load=with_load, target=target)[0]
    row: dict[str, object] = {"verdict": journal.verdict, "inject_s": _inject_seconds(journal)}
    row.update({k: journal.measurements.get(k) for k in FIGURES})
    return row


def command_latency(stack: str, samples: int) -> None:
    """From sending a root command over SSH (an open session, sudo, the wrapper) to the host running it: the
    host prints its clock, which on the local stack is this machine's (containers share the kernel's). A kill
    lands this long after it is sent (plus its own program's start), which is what an outage measured from
    the send (``FaultContext.in_effect_at``) can overstate."""
    outputs = StackOutputs.load(stack)
    delays: list[float] = []
    with Sessions(outputs) as ssh:
        for host in outputs.hosts():
            ssh.run(host.name, "true")  # the session opened first: a drill's is open before its kill
            for _ in range(samples):
                sent = time.time()
                delays.append(float(ssh.run(host.name, "date +%s.%N")) - sent)
    ordered = sorted(delays)
    print(f"root command over SSH, send to run, {len(delays)} samples on {len(outputs.hosts())} hosts: "
          f"p50 {statistics.median(ordered):.3f} s, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.3f} s, "
          f"max {ordered[-1]:.3f} s", flush=True)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--no-load", action="store_true", help="drills without Locust (outages then unmeasured)")
    parser.add_argument("--keep", type=Path, help="keep the journals in this folder")
    parser.add_argument("--latency-samples", type=int, default=10, help="per host, for the command latency")
    parser.add_argument("experiments", nargs="*", help="names (default: every drill)")
    args = parser.parse_args()
    for kind in (signal.SIGTERM, signal.SIGINT):  # as `harness chaos`: a signal undoes the fault in effect first
        signal.signal(kind, undo_then_exit)
    command_latency(args.stack, args.latency_samples)
    names = args.experiments or [e.name for e in find_experiments([])]
    columns = ["verdict", "inject_s", *FIGURES]
    print("drill | " + " | ".join(f"{c} docker/ssh" for c in columns), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for i, name in enumerate(names):
            order = TARGETS if i % 2 == 0 else tuple(reversed(TARGETS))
            rows = {t: run_one(args.stack, name, t, root, not args.no_load) for t in order}
            print(f"{name} | " + " | ".join(f"{_cell(rows['docker'][c])}/{_cell(rows['ssh'][c])}" for c in columns),
                  flush=True)


if __name__ == "__main__":
    main()

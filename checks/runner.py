"""``harness check``: every host-check suite against a stack, hosts in parallel, records and JUnit out.

The suites are pytest modules (testinfra); they run in a child pytest with xdist so
that a slow host does not hold up the others, and every check leaves one JSON record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checks.waivers import load_waivers
from harness.core.outputs import StackOutputs
from harness.core.paths import REPO_ROOT

SUITES = REPO_ROOT / "checks" / "suites"
DEFAULT_WAIVERS = REPO_ROOT / "checks" / "waivers.yaml"


@dataclass
class CheckRun:
    """One run of the suites: its records, where its files are, how long it took."""

    records: list[dict[str, Any]]
    results_path: Path
    junit_path: Path
    seconds: float
    pytest_exit: int

    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self.records:
            counts[record["status"]] = counts.get(record["status"], 0) + 1
        return counts

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.records if r["status"] in ("fail", "error")]

    @property
    def ok(self) -> bool:
        return not self.failed and self.pytest_exit in (0, 1) and bool(self.records)


def run_checks(
    stack: str,
    out_dir: Path,
    hosts: tuple[str, ...] = (),
    waivers: Path = DEFAULT_WAIVERS,
    workers: int = 4,
) -> CheckRun:
    """Run every suite; waivers are validated first, so a bad waiver file stops the run before any check."""
    load_waivers(waivers)
    outputs = StackOutputs.load(stack)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "checks.jsonl"
    junit = out_dir / "checks-junit.xml"
    command = [
        sys.executable, "-m", "pytest", str(SUITES), "-q", "-p", "no:cacheprovider", "-p", "xdist",
        # a worker per host at most: each starts its own interpreter and SSH sessions
        "-n", str(max(1, min(workers, len(hosts) or len(outputs.hosts())))), "-o", "addopts=",
        "--rootdir", str(REPO_ROOT), "--ihh-stack", stack, "--ihh-results", str(results),
        "--ihh-waivers", str(waivers), "--junitxml", str(junit),
        *[arg for name in hosts for arg in ("--ihh-host", name)],
    ]
    started = time.monotonic()
    completed = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                               capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"host checks could not run (pytest exit {completed.returncode}):\n"
                           f"{completed.stdout[-3000:]}{completed.stderr[-3000:]}")
    records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return CheckRun(records, results, junit, seconds, completed.returncode)


def summary(run: CheckRun) -> str:
    """Lines for a person: counts, then each failure with host, check, requirements and message."""
    counts = ", ".join(f"{n} {status}" for status, n in sorted(run.by_status().items()))
    hosts = len({r["host"] for r in run.records})
    lines = [f"{len(run.records)} checks on {hosts} hosts in {run.seconds:.1f} s: {counts}"]
    for record in sorted(run.failed, key=lambda r: (r["impact"], r["host"], r["check"])):
        lines.append(f"  FAIL [{record['impact']}] {record['host']} {record['check']} "
                     f"({', '.join(record['requirements'])}): {record['message']}")
    lines.append(f"records: {run.results_path}")
    lines.append(f"JUnit:   {run.junit_path}")
    return "\n".join(lines)

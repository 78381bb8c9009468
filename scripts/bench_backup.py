"""Benchmark what backups cost: the first full into every copy, and an incremental's cost on the load's latency.

Prints figures; asserts nothing. Needs the local stack up. Runs Locust through both uplinks for
``--seconds``; in the middle, one copy takes the incremental its hourly timer would take; then
compares latency p50/p95/p99 of requests that ran during the backup with those that did not.
``--first-full`` also times a full backup into every copy (what `up` does on a new cluster).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
from pathlib import Path

from harness.core.outputs import StackOutputs
from harness.core.pgbackrest import PgBackRest
from harness.core.request_log import attempts_logged, read_requests
from harness.core.ssh import Sessions
from harness.core.waiting import wait_for
from loadtests.runner import LoadPlan, run_load


def nearest_rank(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--first-full", action="store_true", help="also time a full backup into every copy")
    args = parser.parse_args()
    outputs = StackOutputs.load(args.stack)
    with Sessions(outputs) as ssh:
        pgbackrest = PgBackRest(outputs, ssh)
        if args.first_full:
            started = time.monotonic()
            for site in outputs.backup_sites:
                record = pgbackrest.backup(site, "full")
                print(f"full backup into {site.name}: {record.database_bytes / 1e6:.0f} MB in {record.seconds:.1f} s")
            print(f"full backups into every copy: {time.monotonic() - started:.1f} s")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            load = threading.Thread(target=run_load, args=(args.stack, LoadPlan(users=args.users,
                                                                              run_time_s=args.seconds), out))
            load.start()
            wait_for("load to start", lambda: attempts_logged(out) >= 200, timeout=60)
            time.sleep(args.seconds / 4)  # a quarter of the run as the baseline before the backup (a measured span)
            window_start = time.time()
            record = pgbackrest.backup(outputs.backup_sites[0], "incr")
            window_end = time.time()
            load.join(timeout=args.seconds + 180)
            rows = read_requests(out)
    during = [r.latency_ms for r in rows if window_start <= r.ts <= window_end]
    outside = [r.latency_ms for r in rows if not window_start <= r.ts <= window_end]
    print(f"incremental backup into {outputs.backup_sites[0].name}: {record.database_bytes / 1e6:.0f} MB database, "
          f"{record.repository_bytes / 1e6:.1f} MB stored, {window_end - window_start:.1f} s")
    for name, values in (("during the backup", during), ("outside it", outside)):
        print(f"  {name:<18} {len(values):>6} requests: p50 {nearest_rank(values, 50):.1f} ms, "
              f"p95 {nearest_rank(values, 95):.1f} ms, p99 {nearest_rank(values, 99):.1f} ms")


if __name__ == "__main__":
    main()

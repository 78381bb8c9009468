"""Benchmark the load tooling and the service: Locust beside wrk, service throughput, latency per uplink.

Prints figures; asserts nothing. Needs the local stack up (``harness up``) and wrk
(``apt-get install wrk``). All traffic goes to the stack's published loopback ports.
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from harness.core.outputs import StackOutputs
from harness.core.paths import REPO_ROOT
from harness.core.toxiproxy import Toxiproxy, shaping_removed
from loadtests.runner import LoadPlan, run_load

LOCUST = Path(sys.executable).with_name("locust")


def wrk(url: str, seconds: int, connections: int, headers: tuple[str, ...] = ()) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"]
    for header in headers:
        command += ["-H", header]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if not match:
        raise RuntimeError(f"wrk printed no Requests/sec:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        print(f"  (wrk saw {errors.group(1)} non-2xx responses)")
    return float(match.group(1))


def locust_one_process(url: str, seconds: int, users: int, out: Path) -> float:
    """Requests/s of one Locust process (FastHttpUser, no wait) on the liveness endpoint."""
    subprocess.run([str(LOCUST), "-f", str(REPO_ROOT / "loadtests" / "bench_locustfile.py"), "--headless",
                    "--only-summary", "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", url,
                    "--csv", str(out / "bench")], cwd=REPO_ROOT, capture_output=True, check=False,
                   timeout=seconds + 60)
    with (out / "bench_stats.csv").open() as handle:
        total = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return float(total["Requests/s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--seconds", type=int, default=15, help="length of each measurement (default 15)")
    args = parser.parse_args()
    outputs = StackOutputs.load(args.stack)
    toxiproxy = Toxiproxy(str(outputs.toxiproxy_api))
    first = outputs.uplinks[0]
    live = f"{first.url}/health/live"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print(f"cheapest endpoint, GET /health/live through {first.name} ({first.bandwidth_mbps} Mbps shaped):")
        locust_rps = locust_one_process(first.url, args.seconds, 50, work)
        wrk_rps = wrk(live, args.seconds, 50)
        print(f"  locust, 1 process, 50 users : {locust_rps:8.0f} req/s")
        print(f"  wrk, 2 threads, 50 conns    : {wrk_rps:8.0f} req/s")
        print(f"  locust / wrk                : {locust_rps / wrk_rps:8.0%}")
        with shaping_removed(toxiproxy):
            print("service throughput through an unshaped uplink (wrk, 50 connections):")
            print(f"  GET /health/live            : {wrk(live, args.seconds, 50):8.0f} req/s")
            ready = wrk(first.url + "/health/ready", args.seconds, 50)
            print(f"  GET /health/ready (primary) : {ready:8.0f} req/s")
        plan = LoadPlan(users=30, spawn_rate=30, run_time_s=args.seconds * 2, max_requests=100_000)
        for label, shaped in (("shaped to contract", True), ("unshaped", False)):
            out = work / label.replace(" ", "-")
            if shaped:
                run = run_load(args.stack, plan, out)
            else:
                with shaping_removed(toxiproxy):
                    run = run_load(args.stack, plan, out)
            print(f"patient and doctor flows, 30 users, {label}: {run.summary['attempts']} requests, "
                  f"{run.summary['attempts'] / max(run.summary['seconds'], 1e-3):.0f} req/s")
            for name, u in run.summary["per_uplink"].items():
                print(f"  {name:<10} p50 {u['p50']:6.1f} ms  p95 {u['p95']:6.1f} ms  p99 {u['p99']:6.1f} ms")


if __name__ == "__main__":
    main()

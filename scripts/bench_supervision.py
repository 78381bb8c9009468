"""Benchmark the uploads to the supervision platform (GD-3.2.1): steady lag, draining after an outage, throughput.

Prints figures; asserts nothing. Needs the local stack up (the simulator of the platform on the wan host). Parts:
  steady      the default load (20 users) for --seconds: upload lag, commit to acknowledged receipt, p50/p95/max
  outage      the same load; the platform unreachable over every line for --outage-s (default 300), then back:
              the backlog it left, how long it took to drain, records per second while draining
  throughput  --records records written into the outbox at once (as a backlog from a long outage would be, without
              waiting for one), then the forwarder's drain rate against the simulator
Every part reconciles its records with the platform's log (missing, duplicated, out of order). A signal takes the
fault back first, as `harness chaos` does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import signal
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from psycopg.types.json import Jsonb

from harness.cli import undo_then_exit
from harness.core.database import connect
from harness.core.outputs import StackOutputs
from harness.core.supervision import SimulatorControl, outbox_head, pending_between, reconcile_window
from harness.core.toxiproxy import Toxiproxy, proxy_disabled
from harness.core.waiting import wait_for
from loadtests.identities import resident_id
from loadtests.runner import LoadPlan, run_load

DRAIN_WITHIN_S = 1800


def figures(values: list[float]) -> str:
    if not values:
        return "none"
    p50, p95, worst = np.percentile(values, [50, 95, 100])
    return f"p50 {p50:.3f} s, p95 {p95:.3f} s, max {worst:.3f} s over {len(values)} records"


def pending(outputs: StackOutputs, after: int, upto: int) -> int:
    with connect(outputs) as conn:
        return pending_between(conn, after, upto)


def head(outputs: StackOutputs) -> int:
    with connect(outputs) as conn:
        return outbox_head(conn)


def checked(outputs: StackOutputs, after: int, upto: int) -> list:
    """The records in (after, upto] once all are sent, reconciled with the platform's log; printed."""
    wait_for("every record uploaded", lambda: pending(outputs, after, upto) == 0, timeout=DRAIN_WITHIN_S)
    control = SimulatorControl(outputs.supervision.control_api, outputs.secret("supervision_control_token"))
    with connect(outputs) as conn:
        records, result = reconcile_window(conn, control.received(), after, upto)
    print(f"  reconciled: {result.committed} committed, {result.uploaded} held by the platform, {result.missing} "
          f"missing, {result.duplicated} duplicated, {result.out_of_order} out of order, {result.dead_lettered} "
          f"dead-lettered, {result.resends} resends so far", flush=True)
    return records


def under_load(outputs: StackOutputs, seconds: float, users: int, during: Callable[[], None]) -> None:
    """``during`` while the load runs for ``seconds`` (bounded: the load stops by itself)."""
    stop = threading.Event()
    out = Path(f"/tmp/ihh-bench-supervision-{uuid.uuid4().hex[:6]}")  # noqa: S108 - the bench's own scratch
    thread = threading.Thread(target=run_load, args=(outputs.stack, LoadPlan(users=users, run_time_s=int(seconds)),
                                                     out), kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        during()
    finally:
        stop.set()
        thread.join(timeout=seconds + 120)


def steady(outputs: StackOutputs, args: argparse.Namespace) -> None:
    first = head(outputs)
    under_load(outputs, args.seconds, args.users, lambda: time.sleep(args.seconds))  # the load runs this long
    records = checked(outputs, first, head(outputs))
    print(f"steady state, {args.users} users for {args.seconds:.0f} s: lag "
          f"{figures([r.sent_at - r.committed_at for r in records])}", flush=True)


def outage(outputs: StackOutputs, args: argparse.Namespace) -> None:
    api = Toxiproxy(outputs.toxiproxy_api or "")
    first, healed, backlog = head(outputs), [0.0], [0]

    def cut_then_heal() -> None:
        time.sleep(10)  # uploads in steady state before the cut: the bench's own pacing
        with ExitStack() as held:
            for proxy in outputs.supervision.egress_proxies:
                held.enter_context(proxy_disabled(api, proxy))
            print(f"platform unreachable over every line for {args.outage_s:.0f} s ...", flush=True)
            time.sleep(args.outage_s)  # the outage's length is what is measured against
            backlog[0] = pending(outputs, first, head(outputs))
        healed[0] = time.time()
        print(f"back; backlog {backlog[0]} records", flush=True)
        upto = head(outputs)
        wait_for("the backlog drained", lambda: pending(outputs, first, upto) == 0, timeout=DRAIN_WITHIN_S)

    under_load(outputs, args.outage_s + 10 + DRAIN_WITHIN_S, args.users, cut_then_heal)
    records = checked(outputs, first, head(outputs))
    drained = [r.sent_at for r in records if r.committed_at <= healed[0] and r.sent_at >= healed[0]]
    drain = max(drained) - healed[0] if drained else 0.0
    print(f"outage of {args.outage_s:.0f} s under {args.users} users: backlog {len(drained)} records drained in "
          f"{drain:.1f} s ({len(drained) / drain if drain else 0:.0f} records/s); lag of the records it held "
          f"{figures([r.sent_at - r.committed_at for r in records if r.committed_at <= healed[0]])}", flush=True)


def throughput(outputs: StackOutputs, args: argparse.Namespace) -> None:
    rng = random.Random()
    first = head(outputs)
    with connect(outputs) as conn:
        patient = conn.execute("SELECT id FROM patients ORDER BY id LIMIT 1").fetchone()[0]
        started, base = time.time(), rng.randrange(10**12, 10**13)  # consultation ids no real record has
        for start in range(0, args.records, 1000):
            rows = [(str(uuid.uuid4()), "consultation", patient, Jsonb({
                "patient_id_number": resident_id(rng), "doctor_license": f"BN{rng.randrange(10**10):010d}",
                "department": "全科", "consultation_id": base + start + i, "booking_id": base + start + i}))
                for i in range(min(1000, args.records - start))]
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO supervision_outbox (record_id, kind, patient_id, payload) "
                                   "VALUES (%s, %s, %s, %s)", rows)
            conn.commit()
    written = time.time()
    upto = head(outputs)
    wait_for("the written records uploaded", lambda: pending(outputs, first, upto) == 0, timeout=DRAIN_WITHIN_S)
    seconds = time.time() - written
    print(f"{args.records} records written in {written - started:.1f} s, uploaded in {seconds:.1f} s: "
          f"{args.records / seconds:.0f} records/s (started {dt.datetime.now(dt.UTC):%H:%M:%S})", flush=True)
    checked(outputs, first, upto)


PARTS = {"steady": steady, "outage": outage, "throughput": throughput}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="local")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--outage-s", type=float, default=300.0)
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("parts", nargs="*", choices=[*PARTS, []], help="default: all three")
    args = parser.parse_args()
    for kind in (signal.SIGTERM, signal.SIGINT):  # as `harness chaos`: a signal takes the fault back first
        signal.signal(kind, undo_then_exit)
    outputs = StackOutputs.load(args.stack)
    if outputs.supervision is None or not outputs.supervision.control_api:
        raise SystemExit(f"stack {args.stack!r} has no supervision platform simulator to benchmark against")
    for part in args.parts or PARTS:
        PARTS[part](outputs, args)


if __name__ == "__main__":
    main()

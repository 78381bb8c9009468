"""``harness load``: Locust against the stack's uplinks, then the availability verdict from its logs.

Locust runs as child processes (one, or a master with local workers), bounded by
run time and by a request cap, and is killed with its process group if the harness
stops first. Its CSV and HTML, the per-request logs and ``summary.json`` land in one
folder that the evidence report reads.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.outputs import StackOutputs
from harness.core.paths import REPO_ROOT
from harness.core.progress import say
from harness.core.request_log import attempts_logged, read_requests
from harness.core.service_sessions import ADMIN, session_for, token_file
from harness.core.waiting import wait_for
from loadtests.analysis import summarize
from loadtests.availability import availability_verdict, downtime_model, steady_state

LOCUSTFILE = REPO_ROOT / "loadtests" / "locustfile.py"
LOCUST = Path(sys.executable).with_name("locust")


USERS_FILE = "users"
"""In a shared run's folder: the user count Locust follows (``--ihh-users-file``)."""


@dataclass(frozen=True)
class LoadPlan:
    """How much load: users, ramp, and the two bounds every run has (seconds and requests)."""

    users: int = 20
    spawn_rate: float = 10.0
    run_time_s: int = 60
    max_requests: int = 20_000
    workers: int = 0
    """0: one local process; N: a master and N local worker processes."""
    users_file: Path | None = None
    """Where set, Locust follows the user count written there (a run shared by a series of drills)."""

    def __post_init__(self) -> None:
        for name, value, low in (("users", self.users, 1), ("run_time_s", self.run_time_s, 1),
                                 ("max_requests", self.max_requests, 1), ("workers", self.workers, 0)):
            if value < low:
                raise ValueError(f"load plan {name}: must be at least {low}, got {value}")
        if self.spawn_rate <= 0:
            raise ValueError(f"load plan spawn_rate: must be positive, got {self.spawn_rate}")


@dataclass
class LoadRun:
    out_dir: Path
    summary: dict[str, Any]
    exit_code: int


def uplink_arg(outputs: StackOutputs) -> str:
    return ",".join(f"{u.name}={u.url}" for u in outputs.uplinks)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def locust_commands(outputs: StackOutputs, plan: LoadPlan, out_dir: Path, tag: str,
                    admin_session: Path) -> list[list[str]]:
    """The master (or lone) command first, then one per worker."""
    common = ["-f", str(LOCUSTFILE), "--ihh-uplinks", uplink_arg(outputs), "--ihh-log-dir", str(out_dir),
              "--ihh-run-tag", tag, "--ihh-max-requests", str(plan.max_requests),
              "--ihh-ca-cert", str(outputs.ca_cert_path), "--ihh-admin-session-file", str(admin_session),
              *(["--ihh-users-file", str(plan.users_file)] if plan.users_file else [])]
    lead = [str(LOCUST), *common, "--headless", "--only-summary", "-u", str(plan.users), "-r", str(plan.spawn_rate),
            "-t", f"{plan.run_time_s}s", "--stop-timeout", "5", "--host", outputs.uplinks[0].url,
            "--csv", str(out_dir / "locust"), "--html", str(out_dir / "locust.html"), "--exit-code-on-error", "0"]
    if not plan.workers:
        return [lead]
    port = _free_port()
    lead += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
             "--expect-workers", str(plan.workers), "--expect-workers-max-wait", "30"]
    worker = [str(LOCUST), *common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    return [lead] + [worker] * plan.workers


def run_locust(commands: list[list[str]], out_dir: Path, deadline_s: float,
               stop: threading.Event | None = None) -> int:
    """Start every process in its own group; stop them all when the lead ends, the deadline passes or we stop.

    Setting ``stop`` ends the run early the way Ctrl-C would: Locust writes its stats and exits.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, command in enumerate(commands):
            log = (out_dir / ("locust.log" if i == 0 else f"locust-worker-{i}.log")).open("wb")
            procs.append(subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
        started = time.monotonic()
        next_report = started + 10
        stopping = False
        while procs[0].poll() is None:
            if stop is not None and stop.is_set() and not stopping:
                os.killpg(procs[0].pid, signal.SIGTERM)
                stopping = True
            if time.monotonic() - started > deadline_s:
                raise TimeoutError(f"locust still running after {deadline_s:.0f} s; stopped it")
            if time.monotonic() >= next_report:
                say(f"load: {time.monotonic() - started:.0f} s, {attempts_logged(out_dir)} requests so far")
                next_report += 10
            try:
                procs[0].wait(timeout=1)
            except subprocess.TimeoutExpired:
                continue
        for worker in procs[1:]:
            worker.wait(timeout=30)
        return procs[0].returncode
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


def fault_outages(chaos_dir: Path | None) -> dict[str, tuple[float, str]]:
    """Measured user-visible outage per failure mode, from chaos journals, when any are given."""
    outages: dict[str, tuple[float, str]] = {}
    if chaos_dir is None or not chaos_dir.exists():
        return outages
    for journal in sorted(chaos_dir.glob("*/journal.json")):
        data = json.loads(journal.read_text())
        mode, outage = data.get("failure_mode"), data.get("measurements", {}).get("service_outage_s")
        if mode and outage is not None and outage >= outages.get(mode, (-1.0, ""))[0]:
            outages[mode] = (float(outage), str(journal))
    return outages


def run_load(stack: str, plan: LoadPlan, out_dir: Path, chaos_dir: Path | None = None,
             stop: threading.Event | None = None) -> LoadRun:
    outputs = StackOutputs.load(stack)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f"LT{time.strftime('%H%M%S')}-{uuid.uuid4().hex[:6]}"
    deadline_s = plan.run_time_s + 90
    say(f"load: {plan.users} users through {len(outputs.uplinks)} uplinks for at most {plan.run_time_s} s "
        f"or {plan.max_requests} requests" + (f", {plan.workers} workers" if plan.workers else ""))
    with token_file(session_for(outputs, ADMIN, ttl_s=int(deadline_s) + 60)) as admin_session:
        commands = locust_commands(outputs, plan, out_dir, tag, admin_session)
        code = run_locust(commands, out_dir, deadline_s=deadline_s, stop=stop)
    summary = summarize(read_requests(out_dir))
    steady = steady_state(summary["successes"], summary["operations"], outputs.availability.target)
    faults = downtime_model(outputs.availability.incidents_per_year, fault_outages(chaos_dir))
    verdict = availability_verdict(steady, faults)
    plan_record = {k: str(v) if isinstance(v, Path) else v for k, v in plan.__dict__.items()}
    summary = {"plan": plan_record, "run_tag": tag, "locust_exit_code": code, **summary,
               "availability": verdict.to_json()}
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    return LoadRun(out_dir, summary, code)


def describe(run: LoadRun) -> str:
    s = run.summary
    a = s["availability"]
    lines = [f"operations {s['operations']}, succeeded {s['successes']}, failed over {s['failed_over']}, "
             f"attempts {s['attempts']} in {s['seconds']} s"]
    for uplink, u in s["per_uplink"].items():
        lines.append(f"  {uplink:<10} {u['requests']:>6} requests, {u['failed']:>4} failed, "
                     f"p50 {u['p50']} ms, p95 {u['p95']} ms, p99 {u['p99']} ms")
    st = a["steady"]
    lines.append(f"steady state: ratio {st['ratio']:.5f}, 95 % lower bound {st['lower_bound']:.5f} "
                 f"(target {st['target']}): {st['verdict']}")
    f = a["faults"]
    lines.append(f"under faults: {f['expected_hours']:.3f} h a year expected of {f['allowed_hours']:.2f} h allowed; "
                 f"30-day budget burn {f['budget_burn_30d']:.2f}: {f['verdict']}")
    lines.append(f"{a['requirement']} availability: {a['verdict'].upper()} - {a['reason']}")
    lines.append(f"artefacts: {run.out_dir}")
    return "\n".join(lines)


class SharedLoad:
    """One Locust run for a series of drills: each sets its own user count and reads back its own slice.

    Starting Locust costs seconds a drill (an interpreter, imports, a ramp, and a stop that writes its reports);
    a series pays it once. A drill's load is the requests logged between its ``set_users`` and its end.
    """

    def __init__(self, stack: str, out_dir: Path, budget_s: int, first_users: int,
                 chaos_dir: Path | None = None) -> None:
        self.out_dir = out_dir
        out_dir.mkdir(parents=True, exist_ok=True)
        self.users_file = out_dir / USERS_FILE
        self.users_file.write_text(str(first_users))
        plan = LoadPlan(users=max(1, first_users), spawn_rate=max(1, first_users), run_time_s=budget_s,
                        max_requests=2_000_000, users_file=self.users_file)
        self._stop = threading.Event()
        self._result: list[LoadRun] = []
        self._thread = threading.Thread(
            target=lambda: self._result.append(run_load(stack, plan, out_dir, chaos_dir=chaos_dir, stop=self._stop)),
            daemon=True, name="shared-load")
        self._thread.start()

    def set_users(self, users: int, timeout_s: float = 60) -> float:
        """The user count from now on; once Locust runs that many, the time the drill's slice starts."""
        self.users_file.write_text(str(users))
        applied = self.out_dir / f"{USERS_FILE}.applied"
        wait_for(f"Locust running {users} users", lambda: applied.exists() and applied.read_text() == str(users),
                 timeout=timeout_s, interval=0.2)
        if not self._thread.is_alive():
            raise RuntimeError(f"the shared Locust run has ended; see {self.out_dir / 'locust.log'}")
        return time.time()

    def slice(self, since: float, until: float) -> dict[str, Any]:
        """What the users saw between ``since`` and ``until``: the summary a drill's own run would have given."""
        return summarize([r for r in read_requests(self.out_dir) if since <= r.ts <= until])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=180)

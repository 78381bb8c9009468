"""``harness all``: the main job, one command from a bare stack to a signed evidence bundle.

setup (if needed) -> up -> check -> backups -> chaos (load alongside) -> restore from each copy
-> steady-state load (the no-false-failover drill's) -> report (-> down). Each step's outcome is
saved in the run's ``run.json`` as it ends; a failed step keeps what was gathered, the report is
still written (failures first), and ``harness all --resume`` goes on from the failed step.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.experiment import find_experiments
from chaos.restore_runs import run_restores
from chaos.runner import run_experiments
from checks.backups import copies_freshness
from checks.runner import DEFAULT_WAIVERS, run_checks
from harness.core.outputs import StackOutputs
from harness.core.paths import ATTESTATIONS, EVIDENCE_KEY, EVIDENCE_ROOT
from harness.core.progress import say
from harness.evidence.attestations import load_attestations, save_snapshot
from harness.evidence.report import build_report
from harness.evidence.signing_key import init_key
from harness.provisioning.mockrun import read_stack_config
from harness.provisioning.run_snapshot import snapshot
from harness.provisioning.stack_ops import down, setup, up
from loadtests.runner import LoadPlan, run_load

STEPS = ("setup", "up", "check", "backups", "chaos", "restore", "load", "report")


@dataclass
class RunState:
    run_dir: Path
    data: dict[str, Any]

    @classmethod
    def new(cls, stack: str) -> RunState:
        run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        run_dir = EVIDENCE_ROOT / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        state = cls(run_dir, {"id": run_id, "stack": stack, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                                         time.gmtime()),
                              "steps": {}})
        state.save()
        return state

    @classmethod
    def resume(cls, run_id: str | None) -> RunState:
        if run_id is None:
            candidates = sorted(p.parent for p in EVIDENCE_ROOT.glob("*/run.json")
                                if not json.loads(p.read_text()).get("finished"))
            if not candidates:
                raise FileNotFoundError(f"no unfinished run under {EVIDENCE_ROOT} to resume")
            run_dir = candidates[-1]
        else:
            run_dir = EVIDENCE_ROOT / run_id
        path = run_dir / "run.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: not a run of `harness all`")
        return cls(run_dir, json.loads(path.read_text()))

    def save(self) -> None:
        (self.run_dir / "run.json").write_text(json.dumps(self.data, indent=2))

    def record(self, step: str, outcome: dict[str, Any]) -> None:
        """A step's outcome, saved at once."""
        self.data["steps"][step] = outcome
        self.save()

    def done(self, step: str) -> bool:
        return self.data["steps"].get(step, {}).get("status") == "done"


QUICK_EXPERIMENTS = ("uplink-outage", "app-server-kill", "database-primary-kill")
"""What `harness all --quick` drills: one each of the network, the app tier and the database."""
STEADY_STATE_DRILL = "no-false-failover"
"""The drill whose load is the full run's steady-state load step: no fault, the leader watched, the users'
every request logged to ``load/``, which the availability verdict reads. One window of load serves both."""


def _steps(stack: str, run_dir: Path, quick: bool, fill_gb: float = 0.0,
           target: str | None = None) -> dict[str, Callable[[], Any]]:
    experiments = list(QUICK_EXPERIMENTS) if quick else [
        e.name for e in find_experiments([]) if e.name != STEADY_STATE_DRILL]
    return {
        "setup": lambda: _setup(stack),
        "up": lambda: (up(stack), snapshot(stack, run_dir)),
        "check": lambda: run_checks(stack, run_dir / "checks", (), DEFAULT_WAIVERS, 4),
        "backups": lambda: copies_freshness(stack, run_dir / "backups"),
        "chaos": lambda: run_experiments(stack, experiments, run_dir / "chaos", target=target),
        "restore": lambda: run_restores(stack, _first_site(stack) if quick else [], run_dir / "restore",
                                        500 if quick else 1000, fill_gb, target=target),
        "load": lambda: _steady_state_load(stack, run_dir, quick, target),
    }


def _steady_state_load(stack: str, run_dir: Path, quick: bool, target: str | None) -> None:
    """The load step: the steady-state drill with its load logged to ``load/`` (a quick run: 30 s of load alone)."""
    if quick:
        run_load(stack, LoadPlan(users=20, run_time_s=30), run_dir / "load", chaos_dir=run_dir / "chaos")
        return
    run_experiments(stack, [STEADY_STATE_DRILL], run_dir / "chaos", target=target, load_dir=run_dir / "load")


def _setup(stack: str) -> None:
    """The engine, base image and Toxiproxy for a local stack; servers that exist already need none of them."""
    platform = read_stack_config(stack).get("platform")
    if platform == "docker":
        setup()
    else:
        say(f"setup: nothing to prepare on this machine for a stack on platform {platform}")


def _first_site(stack: str) -> list[str]:
    return [StackOutputs.load(stack).backup_sites[0].name]


def _run_step(state: RunState, index: int, name: str, action: Callable[[], Any]) -> bool:
    """One step, its outcome saved in run.json as it ends; False when it failed."""
    progress = f"[{index}/{len(STEPS)}]"
    if state.done(name):
        say(f"{progress} {name}: done in an earlier attempt, skipped")
        return True
    say(f"{progress} {name} ...")
    started = time.monotonic()
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - recorded, the report still runs, the exit code says it failed
        state.record(name, {"status": "failed", "seconds": round(time.monotonic() - started, 1),
                            "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=5)})
        say(f"{progress} {name} FAILED: {exc}; the report shows what was gathered; "
            f"`harness all --resume` goes on from here")
        return False
    state.record(name, {"status": "done", "seconds": round(time.monotonic() - started, 1)})
    say(f"{progress} {name}: done in {state.data['steps'][name]['seconds']} s")
    return True


def run_all(stack: str, resume: bool, run_id: str | None, quick: bool = False, take_down: bool = False,
            fill_gb: float = 0.0, target: str | None = None) -> RunState:
    """Every step not yet done, in order; the report is written whatever happened before it."""
    load_attestations(ATTESTATIONS)  # a malformed attestation file stops the run before anything is done
    key, created = init_key()  # before any work: a run that cannot be sealed should not start
    if created:
        say(f"created the operator's evidence signing key {EVIDENCE_KEY} ({key.fingerprint}); back it up, "
            "every bundle it signs is verified against it")
    state = RunState.resume(run_id) if resume else RunState.new(stack)
    state.data["signer"] = {"algorithm": "ed25519", "fingerprint": key.fingerprint}
    attested = save_snapshot(ATTESTATIONS, state.run_dir)
    say(f"attestations: {len(attested)} from {ATTESTATIONS}")
    say(f"run {state.data['id']}: evidence in {state.run_dir}, sealed by {key.fingerprint}")
    target = state.data.setdefault("target", target)  # a resumed run reaches the hosts as it began
    steps = _steps(state.data["stack"], state.run_dir, quick, fill_gb, target)
    failed = next((name for index, name in enumerate(STEPS[:-1], start=1)
                   if not _run_step(state, index, name, steps[name])), None)
    say(f"[{len(STEPS)}/{len(STEPS)}] report ...")
    started = time.monotonic()
    # run.json is final before the bundle is sealed: the manifest covers it as written.
    state.data["steps"]["report"] = {"status": "done"}
    state.data["finished"] = failed is None
    state.save()
    stack = state.data["stack"]
    report = build_report(state.run_dir, stack, state.data["id"], state.data["started"], steps=state.data["steps"],
                          signing_key=key)
    summary = report.evidence["summary"]
    say(f"[{len(STEPS)}/{len(STEPS)}] report: done in {time.monotonic() - started:.1f} s: "
        + ", ".join(f"{n} {k}" for k, n in summary.items() if n))
    if take_down and failed is None:
        down(stack)
    return state

"""Run one experiment: hypothesis before, fault held while probes run, rollback, hypothesis after.

Phase timestamps per fault: injected, detected (first failed probe round), recovered
(first all-green round after that), rolled back, verified (the hypothesis holds again).
A hypothesis that does not hold is a deviated experiment in the journal, not a crash;
an experiment whose steady state fails before the fault injects nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from chaos.cleanup import cleanup
from chaos.experiment import Experiment, Probe, Step, find_experiments
from chaos.faults import FaultContext, FaultUnavailableError, describe, inject
from chaos.journal import Activity, Journal
from chaos.probes import PROBES, WAL_ALARM, ProbeContext, UploadWindow, committed_writes_present, writable_in
from chaos.rollbacks import ROLLBACKS
from chaos.rollbacks import service_ready as wait_service_ready
from harness.core.containers import LocalContainers
from harness.core.outputs import StackOutputs
from harness.core.patroni import Patroni, wait_cluster_whole
from harness.core.progress import say
from harness.core.request_log import attempts_logged
from harness.core.waiting import WaitTimeoutError, wait_for
from harness.provisioning.engine import local_containers
from loadtests.runner import LoadPlan, LoadRun, SharedLoad, run_load

HEAVY_PROBES = {"wal-archived"}
"""Probes too slow for the continuous loop: run once per phase instead."""
WAITED_ON = "after the rollback the hypothesis waited on: "


def _run_probe(ctx: ProbeContext, probe: Probe) -> dict[str, Any]:
    started = time.time()
    try:
        ok, detail = PROBES.get(probe.probe)(ctx, probe.arguments)
    except Exception as exc:  # noqa: BLE001 - a probe's own failure is a failed probe, recorded with its cause
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return {"name": probe.name, "ok": ok, "detail": detail, "at": started, "seconds": round(time.time() - started, 3)}


def check(ctx: ProbeContext, probes: list[Probe]) -> tuple[bool, list[dict[str, Any]]]:
    results = [_run_probe(ctx, p) for p in probes]
    return all(r["ok"] for r in results), results


class ProbeLoop(threading.Thread):
    """Rounds of the continuous probes until stopped; each round timestamped with what failed."""

    def __init__(self, ctx: ProbeContext, probes: list[Probe], interval_s: float) -> None:
        super().__init__(daemon=True, name="probe-loop")
        first: dict[str, Probe] = {}
        for probe in probes:  # a hypothesis probe also listed as a monitor runs once a round
            first.setdefault(probe.name, probe)
        self.ctx, self.probes, self.interval_s = ctx, list(first.values()), interval_s
        self.rounds: list[dict[str, Any]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        """Each round asks every probe at the same instant: a round lasts as long as its slowest probe, not
        their sum, so a slow write cannot blur when the writable members changed."""
        with ThreadPoolExecutor(max_workers=max(1, len(self.probes)), thread_name_prefix="probe") as pool:
            while not self.stop.is_set():
                self._round(pool)
                self.stop.wait(self.interval_s)

    def _round(self, pool: ThreadPoolExecutor) -> None:
        started = time.time()
        results = list(pool.map(lambda p: _run_probe(self.ctx, p), self.probes))
        self.rounds.append({"t": started, "failed": {r["name"]: r["detail"] for r in results if not r["ok"]},
                            "took": {r["name"]: r["seconds"] for r in results},
                            "detail": {r["name"]: r["detail"] for r in results}})


def phases_from_rounds(rounds: list[dict[str, Any]], injected: float, until: float,
                       probe: str | None = None) -> tuple[float | None, float | None]:
    """(detected, recovered): the first failing round after injection, the first green one after it."""
    detected = recovered = None
    for r in rounds:
        if not injected <= r["t"] <= until:
            continue
        failing = bool(r["failed"]) if probe is None else probe in r["failed"]
        if detected is None and failing:
            detected = r["t"]
        elif detected is not None and not failing:
            recovered = r["t"]
            break
    return detected, recovered


@dataclass
class RunOptions:
    with_load: bool = True
    load_dir: Path | None = None
    shared_load: SharedLoad | None = None
    """A Locust run a series of drills shares (``run_experiments``): each sets its users and reads its slice."""


def run_experiment(experiment: Experiment, outputs: StackOutputs, containers: LocalContainers | None, out_dir: Path,
                   options: RunOptions | None = None) -> Journal:
    options = options or RunOptions()
    journal = Journal(out_dir / experiment.name / "journal.json",
                      {"name": experiment.name, "title": experiment.title, "source": experiment.source,
                       "requirements": list(experiment.requirements), "description": experiment.description,
                       "goals": experiment.goals},
                      experiment.failure_mode)
    ctx = ProbeContext(outputs)
    fctx = FaultContext(outputs, containers)
    say(f"chaos {experiment.name}: {experiment.title}")
    try:
        _run(experiment, journal, ctx, fctx, options, out_dir)
    except (KeyboardInterrupt, SystemExit):
        journal.status, journal.reason = "aborted", "interrupted; every fault in effect was undone on the way out"
        raise
    except Exception as exc:  # noqa: BLE001 - a drill that cannot run is a failed experiment in its journal
        journal.status, journal.verdict = "failed", "fail"
        journal.reason = f"the drill could not run: {type(exc).__name__}: {exc}"
        say(f"chaos {experiment.name}: {journal.reason}")
    finally:
        ctx.close()
        fctx.close()
        journal.ended = time.time()
        journal.save()
    return journal


def _phase_probes(experiment: Experiment, phase: str) -> list[Probe]:
    return [p for p in experiment.probes if phase in p.phases]


def _run(experiment: Experiment, journal: Journal, ctx: ProbeContext, fctx: FaultContext, options: RunOptions,
         out_dir: Path) -> None:
    ok, results = check(ctx, _phase_probes(experiment, "before"))
    journal.hypothesis["before"] = results
    if not ok:
        journal.status, journal.deviated, journal.verdict = "completed", True, "fail"
        journal.reason = "the steady state did not hold before any fault: " + "; ".join(
            f"{r['name']}: {r['detail']}" for r in results if not r["ok"])
        say(f"chaos {experiment.name}: {journal.reason}")
        return
    during = [p for p in _phase_probes(experiment, "during") if p.probe not in HEAVY_PROBES]
    loop = ProbeLoop(ctx, [*during, *experiment.monitors], experiment.probe_interval_s)
    load_stop = threading.Event()
    load_result: list[LoadRun] = []
    shared = options.shared_load if options.with_load else None
    if shared is not None:
        since = shared.set_users(experiment.load_users)
        load_thread = None
    else:
        load_thread = _start_load(experiment, journal, ctx.outputs, out_dir, options, load_stop, load_result)
    loop.start()
    try:
        for step in experiment.method:
            if not _run_step(experiment, step, journal, ctx, fctx, loop):
                break
        _rollbacks(experiment, journal, ctx.outputs, fctx.containers)
    finally:
        loop.stop.set()
        loop.join(timeout=30)
        load_stop.set()
        if load_thread is not None:
            load_thread.join(timeout=180)
    if shared is not None and experiment.load_users:
        until = time.time()
        load_result.append(LoadRun(shared.out_dir, shared.slice(since, until), 0))
        journal.load = {"dir": str(shared.out_dir), "users": experiment.load_users, "window": [since, until]}
    journal.timeline = [{"t": r["t"], "failed": r["failed"]} for r in loop.rounds if r["failed"]]
    calls = ctx.finish_calls()
    journal.media = [report.as_dict() for report in calls]
    held = [a for a in journal.activities if a.kind == "action" and a.phases.get("rolled_back")] if calls else []
    for action in held:  # the call's figures while this fault held: call quality under each impairment
        window = (action.phases["injected"] or action.start or 0.0, action.phases["rolled_back"] or 0.0)
        action.output = {**(action.output or {}), "media": [d for c in calls for d in c.window(*window)]}
    _measure(experiment, journal, ctx, loop, load_result)


def _start_load(experiment: Experiment, journal: Journal, outputs: StackOutputs, out_dir: Path,
                options: RunOptions, stop: threading.Event, result: list[LoadRun]) -> threading.Thread | None:
    if not (experiment.load_users and options.with_load):
        return None
    budget = sum(s.hold_s + s.verify_within_s for s in experiment.method) + 120
    plan = LoadPlan(users=experiment.load_users, spawn_rate=experiment.load_users, run_time_s=int(budget),
                    max_requests=200_000)
    load_dir = out_dir / experiment.name / "load"
    thread = threading.Thread(target=lambda: result.append(run_load(outputs.stack, plan, load_dir, stop=stop)),
                              daemon=True, name="load")
    thread.start()
    journal.load = {"dir": str(load_dir), "users": experiment.load_users}

    wait_for("load to start", lambda: attempts_logged(load_dir) >= 20, timeout=60)
    return thread


def _run_step(experiment: Experiment, step: Step, journal: Journal, ctx: ProbeContext, fctx: FaultContext,
              loop: ProbeLoop) -> bool:
    """One fault, held then undone; False when the experiment cannot go on."""
    activity = journal.begin(step.name, "action", f"{step.fault}: {describe(fctx, step.fault, step.arguments)}")
    fctx.notes = activity.notes
    say(f"  inject: {activity.target}")
    try:
        with inject(fctx, step.fault, step.arguments):
            activity.phases["injected"] = fctx.in_effect_at or time.time()
            fctx.in_effect_at = None
            journal.save()
            heavy = [p for p in _phase_probes(experiment, "during") if p.probe in HEAVY_PROBES]
            if heavy:
                held, results = check(ctx, heavy)
                activity.output = {"during": results}
                if not held:
                    journal.deviated = True
                    activity.notes.append("hypothesis failed during the fault: " + "; ".join(
                        f"{r['name']}: {r['detail']}" for r in results if not r["ok"]))
            _hold(step, activity, loop)
            say(f"  roll back: {step.name}")
        activity.phases["rolled_back"] = time.time()
    except FaultUnavailableError as exc:
        journal.finish(activity, "not_possible_here", str(exc))
        say(f"  not possible here: {exc}")
        return True
    except Exception as exc:  # noqa: BLE001 - recorded in the journal; the experiment stops, faults are undone
        journal.finish(activity, "failed", f"{type(exc).__name__}: {exc}")
        journal.status, journal.verdict, journal.reason = "failed", "fail", f"{step.name}: {exc}"
        return False
    _verify(experiment, step, activity, journal, ctx, loop)
    journal.finish(activity, "succeeded")
    return True


SETTLE_S = 3.0
"""How long a recovered probe must have been green before an ``until_recovered`` hold ends."""


def _hold(step: Step, activity: Activity, loop: ProbeLoop) -> None:
    """The fault held for ``hold_s``, or until its ``until_recovered`` probe failed and has been back SETTLE_S."""
    if step.until_recovered is None:
        loop.stop.wait(step.hold_s)  # the fault's declared duration: the hold itself is the drill
        return
    injected = activity.phases["injected"] or time.time()

    def settled() -> bool:
        _, recovered = phases_from_rounds(loop.rounds, injected, time.time(), step.until_recovered)
        return recovered is not None and time.time() - recovered >= SETTLE_S

    try:
        wait_for(f"{step.until_recovered} back for {SETTLE_S:g} s", settled, timeout=step.hold_s, interval=0.25)
        activity.notes.append(f"held until {step.until_recovered} had been back {SETTLE_S:g} s: "
                              f"{time.time() - injected:.1f} s of at most {step.hold_s:g}")
    except WaitTimeoutError:
        pass  # the full hold: what the probe showed (never back, say) is judged from its rounds


def _verify(experiment: Experiment, step: Step, activity: Activity, journal: Journal, ctx: ProbeContext,
            loop: ProbeLoop) -> None:
    """After the rollback: the hypothesis again within the step's bound, and what the probe rounds saw."""
    _hypothesis_restored(experiment, step, activity, journal, ctx)
    _faults_seen_during(experiment, activity, journal, loop)
    injected = activity.phases["injected"] or 0.0
    detected, recovered = phases_from_rounds(loop.rounds, injected, activity.phases.get("verified") or time.time())
    activity.phases["detected"], activity.phases["recovered"] = detected, recovered
    activity.output = {**(activity.output or {}), "per_probe": _per_probe_phases(activity, loop)}


def _hypothesis_restored(experiment: Experiment, step: Step, activity: Activity, journal: Journal,
                         ctx: ProbeContext) -> None:
    after = _phase_probes(experiment, "after")
    last: list[dict[str, Any]] = []
    waited: dict[str, tuple[float, str]] = {}  # probe -> when it last failed, and what it said then

    def holds() -> bool:
        ok, results = check(ctx, after)
        last[:] = results
        waited.update({r["name"]: (time.time(), r["detail"]) for r in results if not r["ok"]})
        return ok

    try:
        wait_for(f"the hypothesis after {step.name}", holds, timeout=step.verify_within_s, interval=0.5)
        activity.phases["verified"] = time.time()
        if waited:
            activity.notes.append(_waited_on(waited, activity.phases.get("rolled_back") or time.time()))
    except WaitTimeoutError:
        journal.deviated = True
        activity.error = "hypothesis not restored within {:.0f} s: {}".format(
            step.verify_within_s, "; ".join(f"{r['name']}: {r['detail']}" for r in last if not r["ok"]))
    journal.hypothesis.setdefault("after", []).extend(last)


def _waited_on(waited: dict[str, tuple[float, str]], since: float) -> str:
    """What the hypothesis after the rollback waited on: each probe's last failure, latest first."""
    slowest = sorted(waited.items(), key=lambda item: -item[1][0])
    return WAITED_ON + "; ".join(f"{name} until +{t - since:.1f} s ({detail})" for name, (t, detail) in slowest)


def _faults_seen_during(experiment: Experiment, activity: Activity, journal: Journal, loop: ProbeLoop) -> None:
    """A hypothesis probe that failed while the fault held deviates the experiment; the first failure is noted."""
    injected = activity.phases["injected"] or 0.0
    rolled_back = activity.phases.get("rolled_back") or time.time()
    held = {p.name for p in _phase_probes(experiment, "during")}
    broken = [(r["t"], name, detail) for r in loop.rounds if injected <= r["t"] <= rolled_back
              for name, detail in r["failed"].items() if name in held]
    if broken:
        journal.deviated = True
        t, name, detail = broken[0]
        activity.notes.append(f"hypothesis failed during the fault: {name} at +{t - injected:.1f} s: {detail} "
                              f"({len(broken)} failed probes)")


def _per_probe_phases(activity: Activity, loop: ProbeLoop) -> dict[str, dict[str, float | None]]:
    """Per probe: when it first failed and recovered after injection, and its slowest answer while the fault held."""
    injected = activity.phases["injected"] or 0.0
    rolled_back = activity.phases.get("rolled_back") or time.time()
    per_probe = {}
    for probe in loop.probes:
        p_detected, p_recovered = phases_from_rounds(loop.rounds, injected, time.time(), probe.name)
        during = [r["took"].get(probe.name, 0.0) for r in loop.rounds if injected <= r["t"] <= rolled_back]
        per_probe[probe.name] = {
            "detected_s": None if p_detected is None else round(p_detected - injected, 3),
            "recovered_s": None if p_recovered is None else round(p_recovered - injected, 3),
            "slowest_answer_during_fault_s": round(max(during, default=0.0), 3),
        }
    return per_probe


def _rollbacks(experiment: Experiment, journal: Journal, outputs: StackOutputs,
               containers: LocalContainers | None) -> None:
    for name in experiment.rollbacks:
        activity = journal.begin(name, "rollback")
        try:
            ROLLBACKS.get(name)(outputs, containers)
            journal.finish(activity, "succeeded")
        except WaitTimeoutError as exc:
            journal.deviated = True
            journal.finish(activity, "failed", str(exc))


def _measure(experiment: Experiment, journal: Journal, ctx: ProbeContext, loop: ProbeLoop,
             load_result: list[LoadRun]) -> None:
    """The experiment's numbers from its probe rounds, the writes it made and the load beside it; then its verdict."""
    actions = [a for a in journal.activities if a.kind == "action" and a.phases.get("injected")]
    m = _probe_measurements(experiment, actions)
    committed, present = committed_writes_present(ctx)
    m["acknowledged_writes"], m["rpo_rows"] = committed, committed - present
    watched = {p.name for p in loop.probes if p.probe == "leader-unchanged"}
    m["false_failovers"] = int(any(watched & set(r["failed"]) for r in loop.rounds))
    split = {p.name for p in loop.probes if p.probe == "writable-members"}
    if split:  # measured only where the experiment watches it: the rounds in which two members took writes
        m["dual_writable_rounds"] = sum(1 for r in loop.rounds if split & set(r["failed"]))
        if actions:
            injected, started = actions[0].phases["injected"], actions[0].start
            m["old_primary_writable_s"] = old_primary_writable_s(loop.rounds, split, injected, started)
            healed = actions[0].phases.get("rolled_back")
            m["promoted_standby_rounds"] = promoted_standby_rounds(loop.rounds, split, injected, started, healed)
            # shown beside it: a standby promoted once caught up after the heal is a failover, not a lagging one
            m["promoted_after_heal_rounds"] = (promoted_standby_rounds(loop.rounds, split, injected, started)
                                               - m["promoted_standby_rounds"])
            actions[0].output = {**(actions[0].output or {}), "writable": writable_changes(loop.rounds, split)}
    m.update(_wal_alarm(experiment, actions, loop.rounds))
    m.update(_media_measurements(journal.media))
    m.update(_upload_measurements(journal, ctx.uploads, actions))
    m.update(_load_measurements(journal, load_result, m["probe_outage_s"]))
    journal.measurements = m
    _judge(experiment, journal)


def _upload_measurements(journal: Journal, window: UploadWindow | None, actions: list[Activity]) -> dict[str, Any]:
    """Where the drill reconciled its uploads (GD-3.2.1): what is missing or doubled, the lag in steady state (records
    committed and acknowledged before any fault went in; in a drill without faults, all of them), and how long the
    backlog took to drain once the last fault was taken back."""
    if window is None:
        return {}
    r = window.reconciliation
    faults = [(a.phases["injected"], a.phases.get("rolled_back") or a.end or a.phases["injected"])
              for a in actions if not a.target.startswith("none:")]
    first = min((start for start, _end in faults), default=None)
    untouched = [x for x in window.records if x.sent_at is not None and (first is None or x.sent_at < first)]
    steady = [x.sent_at - x.committed_at for x in untouched]
    healed = max((end for _start, end in faults), default=None)
    backlog = [x.sent_at for x in window.records if x.sent_at is not None and healed and x.committed_at <= healed]
    drain = round(max(0.0, max(backlog, default=healed) - healed), 3) if healed else None
    drained = sum(1 for sent in backlog if healed and sent >= healed)
    journal.uploads = {**r.as_dict(), "steady_lag_p50_s": _percentile(steady, 50),
                       "steady_lag_p95_s": _percentile(steady, 95), "steady_records": len(steady),
                       "healed_at": healed, "drain_s": drain, "drained_records": drained,
                       "drain_records_per_s": round(drained / drain, 1) if drain else None}
    return {"upload_committed": r.committed, "upload_missing": r.missing, "upload_duplicated": r.duplicated,
            "upload_out_of_order": r.out_of_order, "upload_dead_lettered": r.dead_lettered,
            "upload_lag_p95_s": r.lag_p95_s, "upload_lag_max_s": r.lag_max_s,
            "upload_steady_lag_p95_s": _percentile(steady, 95), "upload_drain_s": drain}


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def _media_measurements(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the drill carried calls: the longest media gap in any direction, the loss outside it, the moves."""
    if not calls:
        return {}
    return {"media_gap_s": max(c["longest_gap_s"] for c in calls),
            "media_loss_outside_gap_pct": max(c["loss_outside_gap_pct"] for c in calls),
            "media_node_moves": sum(len(c["moves"]) for c in calls),
            "media_dropped_calls": sum(1 for c in calls if c["dropped"])}


def _probe_measurements(experiment: Experiment, actions: list[Activity]) -> dict[str, Any]:
    m: dict[str, Any] = {}
    outages = [(a.phases["recovered"] or a.phases.get("verified") or 0) - a.phases["detected"]
               for a in actions if a.phases.get("detected")]
    m["probe_outage_s"] = round(max(outages, default=0.0), 3)
    m["service_outage_s"] = m["probe_outage_s"]
    # the downtime model uses this: how long new requests could not be served, whatever client retries hid
    m["recovered_s"] = round(max(((a.phases.get("recovered") or a.phases.get("verified") or a.phases["injected"])
                                  - a.phases["injected"] for a in actions if a.phases.get("detected")),
                                 default=0.0), 3)
    writes = [a.output["per_probe"].get(p.name, {}).get("recovered_s") for a in actions if a.output
              for p in [*experiment.probes, *experiment.monitors] if p.probe == "service-write"]
    m["writes_back_s"] = round(max((w for w in writes if w is not None), default=0.0), 3)
    healed = [a.phases["verified"] - a.phases["rolled_back"] for a in actions
              if a.phases.get("verified") and a.phases.get("rolled_back")]
    if healed:  # from the fault undone to the "after" hypothesis holding (a rejoined standby streaming, say)
        m["whole_after_heal_s"] = round(max(healed), 3)
    return m


def _first_failed(experiment: Experiment, rounds: list[dict[str, Any]], since: float, probe: str,
                  saying: str = "") -> float | None:
    """The time of the first round since ``since`` in which a watcher of kind ``probe`` failed (with a detail
    containing ``saying``, where given: a probe that could not read is not one that raised its alarm)."""
    names = {p.name for p in (*experiment.probes, *experiment.monitors) if p.probe == probe}
    return next((r["t"] for r in rounds if r["t"] >= since
                 and any(saying in str(detail) for name, detail in r["failed"].items() if name in names)), None)


def _wal_alarm(experiment: Experiment, actions: list[Activity], rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Where the WAL disk is watched: whether its alarm came before the first lost write, and by how much.

    From the fault's start, not its injection: the disk crosses its alarm level while the fault goes in.
    """
    if not any(p.probe == "wal-headroom" for p in (*experiment.probes, *experiment.monitors)) or not actions:
        return {}
    since = min(a.start or a.phases["injected"] or 0.0 for a in actions)
    alarm = _first_failed(experiment, rounds, since, "wal-headroom", saying=WAL_ALARM)
    lost = _first_failed(experiment, rounds, since, "service-write")
    missed = alarm is None or (lost is not None and lost <= alarm)
    return {"wal_alarm_s": None if alarm is None else round(alarm - since, 3), "wal_alarm_missed": int(missed),
            "wal_alarm_lead_s": None if alarm is None or lost is None else round(lost - alarm, 3)}


def _writable(round_: dict[str, Any], probes: set[str]) -> set[str]:
    """The members the round's writable-members probes found taking writes."""
    return {member for name in probes for member in writable_in(str(round_["detail"].get(name, "")))}


def writable_changes(rounds: list[dict[str, Any]], probes: set[str]) -> list[dict[str, Any]]:
    """Each round at which the set of members taking writes changed: the split-brain record for the journal."""
    changes: list[dict[str, Any]] = []
    for r in rounds:
        now = sorted(_writable(r, probes))
        if not changes or changes[-1]["writable"] != now:
            changes.append({"t": r["t"], "writable": now})
    return changes


def _primary_before(rounds: list[dict[str, Any]], probes: set[str], injected: float) -> set[str]:
    before = [r for r in rounds if r["t"] < injected]
    return _writable(before[-1], probes) if before else set()


def promoted_standby_rounds(rounds: list[dict[str, Any]], probes: set[str], injected: float,
                            started: float | None = None, healed: float | None = None) -> int:
    """Rounds after the fault (and before ``healed``, where given) in which a member other than the primary of
    before it took writes: a failover, wanted when the primary is lost, a data loss when the promoted standby
    lagged.

    The primary is the one of before the fault's start (``started``): a fault that goes in by stages (the
    WAL disk filled) may stop it before the injection is complete. After the heal a standby that was cut off
    may catch up from the archive and, its lag now within ``maximum_lag_on_failover``, be promoted while the
    old primary is still recovering: no longer a lagging standby, so ``healed`` ends the window."""
    primary = _primary_before(rounds, probes, started or injected)
    end = healed if healed is not None else float("inf")
    return sum(1 for r in rounds if injected <= r["t"] < end and _writable(r, probes) - primary) if primary else 0


def old_primary_writable_s(rounds: list[dict[str, Any]], probes: set[str], injected: float,
                           started: float | None = None) -> float:
    """How long after the fault the member that was primary when it struck still took writes: an upper
    bound, up to the first round that found it no longer writable (the probe rounds' resolution).

    What an isolated primary must keep short (within ttl): while it takes writes, clients that still
    reach it write to a member the rest of the cluster may already have replaced.
    """
    primary = _primary_before(rounds, probes, started or injected)
    after = [r for r in rounds if r["t"] >= injected]
    if len(primary) != 1 or not after:
        return 0.0
    writable = [i for i, r in enumerate(after) if primary & _writable(r, probes)]
    if not writable:  # already gone in the first round after the fault
        return round(after[0]["t"] - injected, 3)
    following = writable[-1] + 1  # the first round that no longer found it writable (the last round, if none)
    return round(after[min(following, len(after) - 1)]["t"] - injected, 3)


def _load_measurements(journal: Journal, load_result: list[LoadRun], probe_outage_s: float) -> dict[str, Any]:
    """What the users of the load beside the drill saw; without load, the probes' outage stands for it."""
    if not load_result:
        return {"user_visible_outage_s": probe_outage_s}
    s = load_result[0].summary
    journal.load.update({"operations": s["operations"], "successes": s["successes"],
                         "failed_over": s["failed_over"], "per_uplink": s["per_uplink"]})
    return {"user_visible_outage_s": round(sum(w["seconds"] for w in s["user_visible_error_windows"]), 3),
            "raw_error_window_s": s["longest_raw_error_window_s"],
            "client_error_window_s": s.get("longest_client_error_window_s"),
            "failed_operations": s["operations"] - s["successes"]}


LOAD_ONLY_GOALS = frozenset({"raw_error_window_s", "client_error_window_s", "failed_operations"})
"""Goals only the users' load measures: without load they are unmeasured, not failed (the probes stand in for
``user_visible_outage_s``)."""


def _judge(experiment: Experiment, journal: Journal) -> None:
    """Goals against measurements, and the verdict with every reason that made it.

    A drill none of whose faults went in is ``not_tested``: its goals are recorded unjudged (``met``
    null), since a hypothesis that held without a fault shows nothing.
    """
    actions = [a for a in journal.activities if a.kind == "action"]
    nothing_injected = bool(actions) and all(a.status == "not_possible_here" for a in actions)
    m = journal.measurements
    unmet, unmeasured = [], []
    for goal, limit in experiment.goals.items():
        measured = m.get(goal)
        without_load = measured is None and goal in LOAD_ONLY_GOALS and not journal.load
        met = None if nothing_injected or without_load else (measured is not None and measured <= limit)
        journal.goals[goal] = {"goal": limit, "measured": measured, "met": met}
        if met is False:
            unmet.append(f"{goal} {measured} > {limit}" + _why_slow(goal, journal))
        elif without_load and not nothing_injected:
            unmeasured.append(goal)
    if journal.status == "running":
        journal.status = "completed"
    journal.deviated = journal.deviated or bool(unmet)
    if journal.status == "failed":
        return
    # a goal nothing measured (the users' raw error window, without load alongside) is not shown to be met
    journal.verdict = "not_tested" if (nothing_injected or unmeasured) and not journal.deviated else (
        "fail" if journal.deviated else "pass")
    reasons = unmet + [f"{goal} not measured: no load ran alongside (--no-load)" for goal in unmeasured]
    reasons += [f"{a.name}: {a.error}" for a in journal.activities
                       if a.error and a.status != "not_possible_here"]
    reasons += [n for a in journal.activities for n in a.notes if n.startswith("hypothesis failed")]
    reasons += [f"not possible here: {a.name}: {a.error}" for a in journal.activities
                if a.status == "not_possible_here"]
    journal.reason = "; ".join(reasons) or "the hypothesis held before, during and after every fault; goals met"


def _why_slow(goal: str, journal: Journal) -> str:
    """For a slow heal, what the hypothesis was still waiting on: the part of a verdict a reader acts on."""
    if goal != "whole_after_heal_s":
        return ""
    notes = [n.removeprefix(WAITED_ON) for a in journal.activities for n in a.notes if n.startswith(WAITED_ON)]
    return f" (waited on: {'; '.join(notes)})" if notes else ""


def run_experiments(stack: str, names: list[str], out: Path, with_load: bool = True,
                    target: str | None = None, load_dir: Path | None = None) -> list[Journal]:
    """Every named experiment (all by default), one after another, each from a clean stack; every host reached
    by ``target`` where given (``ssh``: as a real host is), else as the outputs say.

    The series' one Locust run writes to ``load_dir`` (default ``out/load-shared``); given, its summary there is
    a load run of its own too, availability verdict included (the downtime model reads the journals in ``out``).
    """
    outputs = StackOutputs.load(stack).reached_by(target)
    experiments = find_experiments(names)  # every file validated before anything is injected
    containers = local_containers(outputs)
    journals: list[Journal] = []
    # drills without load first: the shared Locust then starts once and never has to stop its users between
    unloaded = [e for e in experiments if not (with_load and e.load_users)]
    loaded = [e for e in experiments if with_load and e.load_users]
    shared: SharedLoad | None = None
    try:
        for index, experiment in enumerate(_in_turn(outputs, unloaded, loaded)):
            for undone in cleanup(containers, outputs, within_series=index > 0):
                say(f"before {experiment.name}: leftover fault removed: {undone}")
            _settle(outputs, containers, needs_dcs=needs_database(experiment))
            if shared is None and experiment in loaded:
                shared = SharedLoad(stack, load_dir or out / "load-shared", _shared_budget_s(loaded),
                                    experiment.load_users, chaos_dir=out if load_dir else None)
            journals.append(run_experiment(experiment, outputs, containers, out,
                                           RunOptions(with_load=with_load, shared_load=shared)))
    finally:
        if shared is not None:
            shared.close()
    return journals


def _shared_budget_s(experiments: list[Experiment]) -> int:
    """Seconds the shared load may run at most: every drill's own bound (holds, verifications, 120 s each)."""
    return int(sum(sum(s.hold_s + s.verify_within_s for s in e.method) + 120 for e in experiments))


def needs_database(experiment: Experiment) -> bool:
    """A drill on the database cluster (it waits for the cluster whole afterwards): it starts only once every
    member is in touch with the DCS again."""
    return "wait-cluster-whole" in experiment.rollbacks


def _in_turn(outputs: StackOutputs, *groups: list[Experiment]) -> Iterator[Experiment]:
    """Each group's drills in order, except that while a member is still out of touch with the DCS (about ttl
    after a DCS drill, until its failsafe flag lapses) a drill that does not touch the database goes first: the
    wait then overlaps a drill instead of holding the run."""
    for group in groups:
        queue = list(group)
        while queue:
            chosen = pick_next(queue, lambda: bool(Patroni(outputs).out_of_touch_with_dcs()))
            if chosen is not queue[0]:
                say(f"{chosen.name} goes before {queue[0].name}: the database members are not yet in touch with "
                    "the DCS again, and it does not need them")
            queue.remove(chosen)
            yield chosen


def pick_next(queue: list[Experiment], dcs_recovering: Callable[[], bool]) -> Experiment:
    """The first drill of ``queue``, or the first that does not need the database while the DCS recovers."""
    if not needs_database(queue[0]):
        return queue[0]
    spare = next((e for e in queue if not needs_database(e)), None)
    return spare if spare is not None and dcs_recovering() else queue[0]


def _settle(outputs: StackOutputs, containers: LocalContainers | None, needs_dcs: bool = True) -> None:
    """Between drills: the cluster whole again (a synchronous standby), every member in touch with the DCS (for a
    drill on the database), and the service ready everywhere."""
    wait_cluster_whole(outputs, "a whole cluster before the next drill", log_tail=containers and containers.log_tail)
    patroni = Patroni(outputs)
    behind = patroni.out_of_touch_with_dcs() if needs_dcs else []
    if behind:
        started = time.monotonic()
        say(f"waiting for {', '.join(behind)} to be in touch with the DCS again (not on failsafe, leader key seen)")
        wait_for("every database member in touch with the DCS before the next drill",
                 lambda: not patroni.out_of_touch_with_dcs(), timeout=120)
        say(f"every database member in touch with the DCS after {time.monotonic() - started:.1f} s")
    wait_service_ready(outputs, containers, timeout_s=120)


def describe_journals(journals: list[Journal]) -> str:
    lines = [f"{'experiment':<26} {'verdict':<8} {'outage s':>8} {'user s':>7} {'raw err s':>9} {'writes s':>8} "
             f"{'RPO':>4}  reason"]
    for j in journals:
        m = j.measurements
        lines.append(f"{j.experiment['name']:<26} {j.verdict:<8} {m.get('service_outage_s', '-'):>8} "
                     f"{m.get('user_visible_outage_s', '-'):>7} {m.get('raw_error_window_s', '-'):>9} "
                     f"{m.get('writes_back_s', '-'):>8} {m.get('rpo_rows', '-'):>4}  {j.reason}")
    return "\n".join(lines)

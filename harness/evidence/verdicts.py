"""Every requirement of the catalogue with its verdict, from the artefacts one run left on disk.

Each source (policy rules, host checks, chaos journals, restore drills, the load's
availability verdict, the report's own products) adds evidence items to the
requirements it covers. A verdict claims no more than was shown:

- ``fail``: an item failed, or a check that should have given evidence errored;
- ``waived``: the only failures are covered by unexpired waivers;
- ``partial``: what ran passed, but part of the requirement was not shown: a fault that
  could not be injected here, a verification method that produced nothing in this run,
  or an organisational part no unexpired attestation covers;
- ``pass``: every technical method passed and any organisational part is attested;
- ``organisational``: purely organisational, not yet attested;
- ``not_tested``: nothing ran for it, with the reason.

Each verdict lists what it rests on and says in one line what would turn it to pass.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.core.outputs import StackOutputs
from harness.core.paths import RUN_SNAPSHOT_DIR
from harness.evidence.attestations import SNAPSHOT as ATTESTATIONS_SNAPSHOT
from harness.evidence.attestations import Attestation, from_snapshot
from harness.evidence.catalogue import Requirement, load_catalogue
from infra.thresholds import MIN_RETENTION_DAYS as FIVE_YEARS_DAYS

Verdict = Literal["pass", "fail", "partial", "not_tested", "organisational", "waived"]
ORDER: dict[str, int] = {"fail": 0, "partial": 1, "not_tested": 2, "waived": 3, "organisational": 4, "pass": 5}
"""Failures first, then what is missing: the order the report lists requirements in."""


@dataclass(frozen=True)
class Item:
    method: str
    status: str
    """pass, fail, waived or not_tested."""
    detail: str
    artefact: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    basis: list[str] = field(default_factory=list)
    """The checks, drills or measurements this item rests on, each named so a reader can find it."""


@dataclass
class RequirementVerdict:
    id: str
    en: str
    zh: str
    methods: list[str]
    verdict: Verdict
    reason: str
    evidence: list[Item]
    rests_on: list[str] = field(default_factory=list)
    to_pass: str = ""
    """One line: what would turn this verdict to pass (empty when it passes)."""
    attestations: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "evidence": [asdict(e) for e in self.evidence]}


def _read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def policy_items(run_dir: Path) -> dict[str, list[Item]]:
    preview = _read(run_dir / "preview.json")
    if preview is None:
        return {}
    items: dict[str, list[Item]] = {}
    for requirement in preview["requirements"]:
        broken = [v for v in preview["violations"] if v["requirement"] == requirement]
        detail = "; ".join(v["rule"] for v in broken) or f"every rule holds over {preview['resources']} resources"
        items.setdefault(requirement, []).append(Item("policy", "fail" if broken else "pass", detail,
                                                      "preview.json"))
    return items


def host_items(run_dir: Path) -> dict[str, list[Item]]:
    """One item per requirement from its host checks; an errored check (SSH failed, fixture broke) fails it."""
    path = run_dir / "checks" / "checks.jsonl"
    if not path.exists():
        return {}
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    by_requirement: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        for requirement in record.get("requirements", []):
            by_requirement.setdefault(requirement, []).append(record)
    items: dict[str, list[Item]] = {}
    for requirement, mine in by_requirement.items():
        counts = {s: sum(1 for r in mine if r["status"] == s) for s in ("pass", "fail", "error", "waived", "skip")}
        failed = [f"{r['host']} {r['check']}: {r['status']}: {r['message']}" for r in mine
                  if r["status"] in ("fail", "error")]
        ran = counts["pass"] + counts["fail"] + counts["error"] + counts["waived"]
        status = "fail" if failed else "waived" if counts["waived"] else "pass" if counts["pass"] else "not_tested"
        detail = (f"{counts['pass']} pass, {counts['fail']} fail, {counts['error']} error, {counts['waived']} "
                  f"waived of {ran} host checks" + (": " + "; ".join(failed[:5]) if failed else ""))
        basis = sorted({f"host check {r['check']} on {r['host']}: {r['status']}" for r in mine
                        if r["status"] != "skip"})
        items[requirement] = [Item("host", status, detail, "checks/checks.jsonl", counts, basis)]
        ran_somewhere = {r["check"] for r in mine if r["status"] != "skip"}
        skipped = [r for r in mine if r["status"] == "skip" and r["check"] not in ran_somewhere]
        if skipped:  # skipped on every host it applies to: that share of the requirement was not checked
            why = sorted({f"{r['check']} ({r['message'] or 'skipped'})" for r in skipped})
            items[requirement].append(Item("host", "not_tested", f"host checks not run here: {'; '.join(why)}",
                                           "checks/checks.jsonl",
                                           basis=[f"host check {r['check']} on {r['host']}: skip" for r in skipped]))
    return items


def chaos_items(run_dir: Path) -> dict[str, list[Item]]:
    """A drill's verdict for its requirements, and a ``not_tested`` share for each fault it could not inject."""
    items: dict[str, list[Item]] = {}
    outputs = _read(run_dir / RUN_SNAPSHOT_DIR / "outputs.json") or {}
    lag_target = (outputs.get("supervision") or {}).get("lag_target_s")
    for path in sorted((run_dir / "chaos").glob("*/journal.json")):
        journal = json.loads(path.read_text())
        status = {"pass": "pass", "fail": "fail"}.get(journal["verdict"], "not_tested")
        name, artefact = journal["experiment"]["name"], str(path.relative_to(run_dir))
        uninjected = [a for a in journal.get("activities", []) if a.get("status") == "not_possible_here"]
        shown = ("; faults injected: " + ", ".join(a["name"] for a in journal.get("activities", [])
                                                   if a.get("kind") == "action" and a.get("status") == "succeeded"))
        own = [Item("chaos", status, f"{name}: {journal['verdict']}: {journal['reason']}" + shown, artefact,
                    journal.get("measurements", {}), [f"drill {name}: {journal['verdict']}"])]
        if status != "not_tested":  # a drill that injected nothing says so once, in its own line's reason
            own += [Item("chaos", "not_tested", f"{name}: fault {a['name']} could not be injected here: {a['error']}",
                         artefact, basis=[f"drill {name} step {a['name']}: not possible here"]) for a in uninjected]
        for requirement in journal["experiment"]["requirements"]:
            if requirement != UPLOADS:  # the drill's upload figures stand for it there (_upload_items)
                items.setdefault(requirement, []).extend(own)
        for requirement, call_items in _call_items(journal, status, artefact).items():
            items.setdefault(requirement, []).extend(call_items)
        if UPLOADS in journal["experiment"]["requirements"]:
            items.setdefault(UPLOADS, []).append(_upload_item(journal, status, artefact, lag_target))
    return items


UPLOADS = "GD-3.2.1"
"""Real-time upload to the supervision platform: a drill claims it only with the uploads it reconciled."""


def _upload_item(journal: dict[str, Any], status: str, artefact: str, lag_target: float | None) -> Item:
    """A drill's uploads: committed against what the platform holds, lag against the stack's target, drain."""
    name, u = journal["experiment"]["name"], journal.get("uploads") or {}
    if not u:
        why = ("the stack configures no supervision platform" if "no supervision platform" in json.dumps(
            journal.get("hypothesis", {}), ensure_ascii=False) else "no upload was reconciled")
        return Item("chaos", "not_tested", f"{name}: uploads to the supervision platform not checked: {why}",
                    artefact, basis=[f"drill {name}: uploads not reconciled"])
    reasons = "; ".join(f"{n} x {reason}" for reason, n in u.get("reasons", {}).items())
    steady = u.get("steady_lag_p95_s")
    late = lag_target is not None and steady is not None and steady > lag_target
    broken = u["missing"] or u["duplicated"] or u["out_of_order"] or u["pending"]
    verdict = "fail" if status == "fail" or broken or late else status
    faulted = any(a.get("kind") == "action" and not str(a.get("target", "")).startswith("none:")
                  for a in journal.get("activities", []))
    method = "chaos" if faulted else "load"  # no fault: the steady-state load step, whose lag it measures
    drain = (f"; backlog of {u['drained_records']} records drained {u['drain_s']} s after the last fault"
             f" ({u['drain_records_per_s']} records/s)" if u.get("drain_s") is not None and u.get("drained_records")
             else "")
    return Item(method, verdict,
                f"{name}: {u['committed']} records committed, {u['uploaded']} held by the platform, {u['missing']} "
                f"missing, {u['duplicated']} duplicated, {u['out_of_order']} out of order, {u['dead_lettered']} "
                f"dead-lettered" + (f" ({reasons})" if reasons else "") + f"; lag p95 {u['lag_p95_s']} s"
                + (f", steady-state lag p95 {steady} s over {u['steady_records']} records (target {lag_target} s)"
                   if steady is not None else "") + drain, artefact, u, [f"drill {name}: uploads reconciled"])


def _figures(d: dict[str, Any]) -> str:
    return (f"{d['direction']} {d['received']}/{d['sent']} packets, loss {d['loss_pct']}% "
            f"({d['loss_outside_gap_pct']}% outside the longest gap of {d['longest_gap_s']} s), delay p95 "
            f"{d['delay_ms_p95']} ms, jitter {d['jitter_ms']} ms")


def _call_items(journal: dict[str, Any], status: str, artefact: str) -> dict[str, list[Item]]:
    """The calls a drill carried (GD-1.2.4: media relayed, per node) and their quality under each fault (TM-5.3)."""
    name = journal["experiment"]["name"]
    carried = [Item("chaos", status, f"{name}: call through {' -> '.join(c['nodes'])}"
                    + (f", dropped: {c['dropped']}" if c["dropped"] else "") + ": "
                    + "; ".join(_figures(d) for d in c["directions"]), artefact,
                    {"directions": c["directions"], "moves": c["moves"]}, [f"drill {name} call"])
               for c in journal.get("media", [])]
    under = [Item("chaos", status, f"{name}: call under {a['name']}: " + "; ".join(_figures(d) for d in
                                                                              a["output"]["media"]),
                  artefact, {"directions": a["output"]["media"]}, [f"drill {name} step {a['name']}: call"])
             for a in journal.get("activities", []) if a.get("kind") == "action"
             and isinstance(a.get("output"), dict) and a["output"].get("media")]
    return {k: v for k, v in {"GD-1.2.4": carried, "TM-5.3": under}.items() if v}


def restore_items(run_dir: Path) -> dict[str, list[Item]]:
    data = _read(run_dir / "restore" / "restore.json")
    if not data:
        return {}
    drills, projection = data["drills"], data.get("projection", {})
    art = "restore/restore.json"
    verified = [d for d in drills if d["sentinel_verified"]]
    sites = ", ".join(f"{d['site']} (RTO {d['rto_seconds']:.0f} s, RPO {d['rpo_rows']} rows)" for d in drills)
    items: dict[str, list[Item]] = {}
    copies_ok = len(verified) >= 2 and len(verified) == len(drills)
    within_4h = bool(projection.get("within_4h"))
    items["EH-2.2.3"] = [Item("restore", "pass" if copies_ok and within_4h else "fail",
                              f"restored and verified from {len(verified)} of {len(drills)} copies: {sites}; "
                              f"projected RTO {projection.get('rto_high_s', 0) / 3600:.2f} h for "
                              f"{projection.get('data_gb')} GB (limit 4 h"
                              + (f"; restore rate capped at the raw-copy rate in {projection['capped_at_raw_copy']}"
                                 " drill(s)" if projection.get("capped_at_raw_copy") else "") + ")",
                              art, projection)]
    items["EH-3.3.2"] = [Item("restore", "pass" if projection.get("within_72h") else "fail",
                              f"projected RTO {projection.get('rto_high_s', 0) / 3600:.2f} h against 72 h", art)]
    tampered = [d["site"] for d in drills if not d["sentinel_verified"]]
    items["EH-1.1.2"] = [Item("restore", "fail" if tampered else "pass",
                              f"sentinel rows and checksums intact after every restore; RPO "
                              f"{max(d['rpo_rows'] for d in drills)} rows (the unarchived tail)" if not tampered
                              else f"sentinel differs after restoring from {', '.join(tampered)}", art)]
    clinical = [d for d in drills if "intact" in d.get("clinical_sentinel", "")]
    items["TM-5.4"] = [Item("restore", "pass" if len(clinical) == len(drills) else "fail",
                            "; ".join(f"{d['site']}: {d.get('clinical_sentinel') or 'not checked'}" for d in drills),
                            art)]
    all_verified = bool(drills) and len(verified) == len(drills)
    items["OP-5.3"] = [Item("restore", "pass" if all_verified else "fail", f"backups restored and verified: {sites}",
                            art)]
    outputs = _read(run_dir / RUN_SNAPSHOT_DIR / "outputs.json")
    copies = StackOutputs.parse(str(outputs.get("stack", "?")), outputs).backup_sites if outputs else ()
    retention = {s.name: s.retention_days for s in copies}
    restored_long_enough = bool(retention) and all(retention.get(d["site"], 0) >= FIVE_YEARS_DAYS for d in drills)
    items["EH-1.2.3"] = [Item("restore", "pass" if restored_long_enough else "fail",
                              "retention of every restored copy: " + ", ".join(
                                  f"{d['site']} {retention.get(d['site'], '?')} days" for d in drills), art)]
    return items


def load_items(run_dir: Path) -> dict[str, list[Item]]:
    summary = _read(run_dir / "load" / "summary.json")
    if not summary:
        return {}
    a = summary["availability"]
    art = "load/summary.json"
    items = {"EH-2.2.1": [Item("load", a["verdict"], a["reason"], art,
                               {"ratio": a["steady"]["ratio"], "lower_bound": a["steady"]["lower_bound"],
                                "operations": a["steady"]["operations"],
                                "expected_downtime_h": a["faults"]["expected_hours"]})]}
    uplinks = summary["per_uplink"]
    carried = all(u["requests"] > 0 and u["success_ratio"] > 0.99 for u in uplinks.values()) and len(uplinks) >= 2
    items["GD-1.2.5"] = [Item("load", "pass" if carried else "fail",
                              "; ".join(f"{k}: {u['requests']} requests, p95 {u['p95']} ms"
                                        for k, u in uplinks.items()), art)]
    steady = a["steady"]
    items["TM-5.3"] = [Item("load", "fail" if steady["verdict"] == "fail" else "pass",
                            f"success ratio {steady['ratio']:.5f} over {steady['operations']} operations", art)]
    return items


def report_items(run_dir: Path, products: dict[str, str]) -> dict[str, list[Item]]:
    """What the report itself makes: the topology diagram, the monthly summary, the drill record."""
    items: dict[str, list[Item]] = {}
    if "topology" in products:
        items["GD-2.2.3"] = [Item("report", "pass", "deployment topology generated from the resource graph",
                                  products["topology"])]
    if "stability" in products:
        summary, measured = products["stability"], (run_dir / "load" / "summary.json").exists()
        status = "pass" if measured else "not_tested"
        why = "" if measured else ": this run measured no availability, so the summary adds nothing of its own"
        items["EH-1.2.4"] = [Item("report", status, f"monthly stability summary from the runs kept on disk{why}",
                                  summary, basis=["stability.json: this month's runs, their availability and drills"])]
        items["TM-7.3"] = [Item("report", status, f"service data analysed across the month's runs{why}", summary,
                                basis=["stability.json: failed requirements, availability and drills per run"])]
        if any(json.loads(p.read_text()).get("uploads") for p in (run_dir / "chaos").glob("*/journal.json")):
            items[UPLOADS] = [Item("report", "pass", "the monthly stability summary carries each run's upload lag "
                                   "(p95, steady state) and records missing at the supervision platform", summary,
                                   basis=["stability.json: upload lag and missing records per run"])]
    journals = sorted((run_dir / "chaos").glob("*/journal.json"))
    if journals:
        runs = [json.loads(p.read_text()) for p in journals]
        modes = sorted({j["failure_mode"] for j in runs})
        items["TM-5.5"] = [Item("report", "pass", f"{len(journals)} drills run and journaled: {', '.join(modes)}",
                                "chaos/")]
        plans = {"power": "site-power-loss", "network": "uplink-outage", "equipment": "app-server-failure"}
        # a drill whose fault could not go in (not_tested) drilled nothing of its plan
        drilled = {j["failure_mode"] for j in runs if j.get("verdict") != "not_tested"}
        missing = [k for k, mode in plans.items() if mode not in drilled]
        items["GD-3.2.3"] = [Item("report", "fail" if missing else "pass",
                                  f"plans drilled: {', '.join(k for k in plans if k not in missing)}"
                                  + (f"; not drilled: {', '.join(missing)}" if missing else "")
                                  + "; security-incident plan: organisational (no drill injects an intrusion)",
                                  "chaos/")]
    return items


def _org_share(requirement: Requirement, attestations: list[Attestation], day: datetime.date
               ) -> tuple[list[Attestation], str]:
    """The attestations that cover the organisational part now, and what is missing when none does."""
    mine = [a for a in attestations if a.requirement == requirement.id]
    valid = [a for a in mine if not a.expired_on(day)]
    if valid or "organisational" not in requirement.methods:
        return valid, ""
    expired = [a for a in mine if a.expired_on(day)]
    return [], ("organisational part not attested" + (
        f" (attestation expired on {', '.join(a.expires for a in expired)})" if expired else ""))


def judge(requirement: Requirement, items: list[Item], attestations: list[Attestation] | None = None,
          day: datetime.date | None = None) -> RequirementVerdict:
    day = day or datetime.date.today()
    by_status = {s: [i for i in items if i.status == s] for s in ("pass", "fail", "waived", "not_tested")}
    technical = [m for m in requirement.methods if m != "organisational"]
    ran = {i.method for i in items if i.status != "not_tested"}
    missing = [m for m in technical if m not in ran]
    attested, org_gap = _org_share(requirement, attestations or [], day)
    if by_status["fail"]:
        verdict: Verdict = "fail"
        reason = "; ".join(i.detail for i in by_status["fail"])
        needed = "fix what failed: " + "; ".join(i.detail for i in by_status["fail"])[:300]
    elif by_status["waived"]:
        verdict, reason = "waived", "; ".join(i.detail for i in by_status["waived"])
        needed = "fix the waived checks before their waivers expire, then re-run"
    elif by_status["pass"] or (not technical and attested):
        gaps = [i.detail for i in by_status["not_tested"]]
        gaps += [f"not exercised in this run: {', '.join(missing)}"] if missing and by_status["pass"] else []
        gaps += [org_gap] if org_gap else []
        shown = "; ".join(i.detail for i in by_status["pass"]) or "no technical part"
        shown += "".join(f"; {a.part}: {a.describe()}" for a in attested)
        verdict = "partial" if gaps else "pass"
        reason = shown + (f" — not shown: {'; '.join(gaps)}" if gaps else "")
        needed = "; ".join(
            [f"show what this run could not: {i.detail}" for i in by_status["not_tested"]]
            + ([f"run the {', '.join(missing)} evidence (harness all, without --quick)"]
               if missing and by_status["pass"] else [])
            + ([f"record an unexpired attestation of its organisational part ({requirement.id}) in the "
                f"attestations file"] if org_gap else []))
    elif not technical:
        verdict, reason = "organisational", f"met by the hospital's own procedures and records; {org_gap}"
        needed = f"record an unexpired attestation for {requirement.id} in the attestations file"
    else:
        verdict = "not_tested"
        reason = f"no {' or '.join(missing)} evidence in this run" + (
            "; " + "; ".join(i.detail for i in items) if items else "")
        needed = f"run the {', '.join(missing)} evidence" + ("" if not org_gap else " and attest its "
                                                             "organisational part")
    rests_on = sorted({b for i in items for b in (i.basis or [f"{i.method}: {i.artefact}"])})
    rests_on += [f"attestation: {a.part} ({a.attested_by}, {a.role}, {a.date})" for a in attested]
    return RequirementVerdict(requirement.id, requirement.en, requirement.zh, list(requirement.methods), verdict,
                              reason, items, rests_on, "" if verdict == "pass" else needed,
                              [a.__dict__ for a in attested])


def backup_items(run_dir: Path) -> dict[str, list[Item]]:
    """EH-2.2.3 from every copy's freshness when the run began: a stale copy fails it, whatever a drill restored."""
    data = _read(run_dir / "backups" / "freshness.json")
    if data is None:
        return {}
    copies = data["copies"]
    stale = [c for c in copies if c["stale"]]
    detail = ("; ".join(f"copy {c['site']} is stale: {', '.join(c['stale'])}" for c in stale) if stale else
              f"every copy fresh under its schedule: {', '.join(c['site'] for c in copies)}")
    numbers = {c["site"]: {"missed_periods": c["missed_periods"], **{k: c["scheduled"][k]
                                                                    for k in ("ok", "failed", "busy")}}
               for c in copies}
    return {"EH-2.2.3": [Item("backups", "fail" if stale or len(copies) < 2 else "pass",
                              detail if len(copies) >= 2 else f"{detail}; fewer than two copies",
                              "backups/freshness.json", numbers)]}


FIXED_SOURCES: dict[str, frozenset[str]] = {
    "restore": frozenset({"EH-2.2.3", "EH-3.3.2", "EH-1.1.2", "TM-5.4", "OP-5.3", "EH-1.2.3"}),
    "load": frozenset({"EH-2.2.1", "GD-1.2.5", "TM-5.3", "GD-3.2.1"}),  # GD-3.2.1: the steady-state drill's lag
    "backups": frozenset({"EH-2.2.3"}),
    "report": frozenset({"GD-2.2.3", "EH-1.2.4", "TM-7.3", "TM-5.5", "GD-3.2.3", "GD-3.2.1"}),
}
"""The requirements each source with a fixed output speaks to; the catalogue's methods must agree (a test)."""


def _checked(method: str, items: dict[str, list[Item]]) -> dict[str, list[Item]]:
    stray = set(items) - FIXED_SOURCES[method]
    if stray:
        raise ValueError(f"the {method} source gave evidence for {sorted(stray)}, not in FIXED_SOURCES[{method!r}]")
    return items


def requirement_verdicts(run_dir: Path, products: dict[str, str], day: datetime.date | None = None
                         ) -> list[RequirementVerdict]:
    """Every catalogue requirement, failures first; attestations are judged as of ``day`` (the report's)."""
    sources = [policy_items(run_dir), host_items(run_dir), _checked("backups", backup_items(run_dir)),
               chaos_items(run_dir), _checked("restore", restore_items(run_dir)), _checked("load", load_items(run_dir)),
               _checked("report", report_items(run_dir, products))]
    attestations = from_snapshot(_read(run_dir / ATTESTATIONS_SNAPSHOT))
    verdicts = []
    for requirement in load_catalogue():
        items = [item for source in sources for item in source.get(requirement.id, [])]
        verdicts.append(judge(requirement, items, attestations, day))
    return sorted(verdicts, key=lambda v: ORDER[v.verdict])

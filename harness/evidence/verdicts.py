"""Every requirement of the catalogue with its verdict, from the artefacts one run left on disk.

Each source (policy rules, host checks, chaos journals, restore drills, the load's
availability verdict, the report's own products) adds evidence items to the
requirements it covers. The verdict: ``fail`` if any item failed; ``waived`` if the
only failures are waived; ``pass`` if an item passed; ``organisational`` when the
requirement can only be met by the hospital's own records; else ``not_tested``,
naming the methods that produced nothing in this run. No requirement is left out.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.core.outputs import StackOutputs
from harness.core.paths import RUN_SNAPSHOT_DIR
from harness.evidence.catalogue import Requirement, load_catalogue
from infra.thresholds import MIN_RETENTION_DAYS as FIVE_YEARS_DAYS

Verdict = Literal["pass", "fail", "not_tested", "organisational", "waived"]
ORDER: dict[str, int] = {"fail": 0, "not_tested": 1, "waived": 2, "organisational": 3, "pass": 4}
"""Failures first, then what is missing: the order the report lists requirements in."""


@dataclass(frozen=True)
class Item:
    method: str
    status: str
    """pass, fail, waived or not_tested."""
    detail: str
    artefact: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class RequirementVerdict:
    id: str
    en: str
    zh: str
    methods: list[str]
    verdict: Verdict
    reason: str
    evidence: list[Item]

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
        counts = {s: sum(1 for r in mine if r["status"] == s) for s in ("pass", "fail", "waived", "skip")}
        failed = [f"{r['host']} {r['check']}: {r['message']}" for r in mine if r["status"] == "fail"]
        status = "fail" if failed else "waived" if counts["waived"] else "pass" if counts["pass"] else "not_tested"
        detail = (f"{counts['pass']} pass, {counts['fail']} fail, {counts['waived']} waived of {len(mine)} host checks"
                  + (": " + "; ".join(failed[:5]) if failed else ""))
        items[requirement] = [Item("host", status, detail, "checks/checks.jsonl", counts)]
    return items


def chaos_items(run_dir: Path) -> dict[str, list[Item]]:
    items: dict[str, list[Item]] = {}
    for path in sorted((run_dir / "chaos").glob("*/journal.json")):
        journal = json.loads(path.read_text())
        status = {"pass": "pass", "fail": "fail"}.get(journal["verdict"], "not_tested")
        name = journal["experiment"]["name"]
        item = Item("chaos", status, f"{name}: {journal['verdict']}: {journal['reason']}",
                    str(path.relative_to(run_dir)), journal.get("measurements", {}))
        for requirement in journal["experiment"]["requirements"]:
            items.setdefault(requirement, []).append(item)
    return items


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
        summary = products["stability"]
        items["EH-1.2.4"] = [Item("report", "pass", "monthly stability summary from the runs kept on disk", summary)]
        items["TM-7.3"] = [Item("report", "pass", "service data analysed across the month's runs", summary)]
    journals = sorted((run_dir / "chaos").glob("*/journal.json"))
    if journals:
        modes = sorted({json.loads(p.read_text())["failure_mode"] for p in journals})
        items["TM-5.5"] = [Item("report", "pass", f"{len(journals)} drills run and journaled: {', '.join(modes)}",
                                "chaos/")]
        plans = {"power": "site-power-loss", "network": "uplink-outage", "equipment": "app-server-failure"}
        missing = [k for k, mode in plans.items() if mode not in modes]
        items["GD-3.2.3"] = [Item("report", "fail" if missing else "pass",
                                  f"plans drilled: {', '.join(k for k in plans if k not in missing)}"
                                  + (f"; not drilled: {', '.join(missing)}" if missing else "")
                                  + "; security-incident plan: organisational (no drill injects an intrusion)",
                                  "chaos/")]
    return items


def judge(requirement: Requirement, items: list[Item]) -> RequirementVerdict:
    statuses = [i.status for i in items]
    covered = {i.method for i in items}
    missing = [m for m in requirement.methods if m not in covered and m != "organisational"]
    if "fail" in statuses:
        verdict: Verdict = "fail"
        reason = "; ".join(i.detail for i in items if i.status == "fail")
    elif "waived" in statuses:
        verdict, reason = "waived", "; ".join(i.detail for i in items if i.status == "waived")
    elif "not_tested" in statuses:
        verdict = "not_tested"
        reason = "; ".join(i.detail for i in items if i.status == "not_tested")
    elif "pass" in statuses:
        verdict = "pass"
        reason = "; ".join(i.detail for i in items if i.status == "pass")
        if missing:
            reason += f" (not exercised in this run: {', '.join(missing)})"
        if "organisational" in requirement.methods:
            reason += " (its organisational part rests on the hospital's own procedures and records)"
    elif requirement.methods == ("organisational",) or (not missing and "organisational" in requirement.methods):
        verdict, reason = "organisational", "met by the hospital's own procedures and records, not by software"
    else:
        verdict = "not_tested"
        reason = f"no {' or '.join(missing) or 'executed'} check produced evidence in this run" + (
            "; " + "; ".join(i.detail for i in items) if items else "")
    return RequirementVerdict(requirement.id, requirement.en, requirement.zh, list(requirement.methods), verdict,
                              reason, items)


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


def requirement_verdicts(run_dir: Path, products: dict[str, str]) -> list[RequirementVerdict]:
    """Every catalogue requirement, failures first."""
    sources = [policy_items(run_dir), host_items(run_dir), backup_items(run_dir), chaos_items(run_dir),
               restore_items(run_dir), load_items(run_dir), report_items(run_dir, products)]
    verdicts = []
    for requirement in load_catalogue():
        items = [item for source in sources for item in source.get(requirement.id, [])]
        verdicts.append(judge(requirement, items))
    return sorted(verdicts, key=lambda v: ORDER[v.verdict])

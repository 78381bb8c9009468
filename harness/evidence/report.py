"""Build the evidence bundle of one run from the files of its run folder alone: evidence.json, index.html, junit.xml.

Every number in it is read from an artefact of this run; what the run was made against
(the applied resource graph, the public outputs, the provenance) was saved into the run
folder when it started, so the report is the same after ``harness down``, on another
machine, or rebuilt by an assessor. A requirement with no executed check is listed
``not_tested`` with its reason; failures come first.
"""

from __future__ import annotations

import datetime
import json
import time
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from harness.core.graph import from_public_json
from harness.core.paths import RUN_SNAPSHOT_DIR
from harness.evidence import plots
from harness.evidence.bundle import sign, unsign
from harness.evidence.catalogue import Control, controls_by_requirement, load_controls
from harness.evidence.hdf import write_hdf
from harness.evidence.oscal import write_oscal
from harness.evidence.signing_key import SigningKey
from harness.evidence.stability import monthly_summary
from harness.evidence.topology_svg import write_topology
from harness.evidence.verdicts import ORDER, RequirementVerdict, requirement_verdicts
from infra.policy.rules import check, rule_requirements, subjects_from

SCHEMA_VERSION = 2
LABELS = {"pass": ("通过", "pass"), "fail": ("未通过", "fail"), "partial": ("部分", "partial"),
          "not_tested": ("未测试", "not tested"),
          "organisational": ("组织措施", "organisational"), "waived": ("已豁免", "waived")}


@dataclass
class Report:
    run_dir: Path
    verdicts: list[RequirementVerdict]
    evidence: dict[str, Any]
    signed: bool


def _read(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def _snapshot(run_dir: Path, name: str) -> Any:
    """A file of what the run was made against; None when the run never got that far (its ``up`` failed)."""
    return _read(run_dir / RUN_SNAPSHOT_DIR / name)


UNKNOWN_ORIGIN = {"project_commit": "unknown", "project_tree_dirty": None, "stack_config_sha256": None,
                  "tool_versions": {}, "machine": {}}


def provenance(run_dir: Path, stack: str, run_id: str, started: str) -> dict[str, Any]:
    """The run's identity and origin, as captured when it started, with the report's own time."""
    origin = _snapshot(run_dir, "provenance.json") or UNKNOWN_ORIGIN
    return {"id": run_id, "stack": stack, "started": started,
            "ended": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **{k: v for k, v in origin.items() if k != "captured"}}


def write_preview(run_dir: Path, stack: str) -> bool:
    """The policy rules over the run's applied resource graph, and its topology diagram; False without a graph."""
    records = _snapshot(run_dir, "graph.json")
    if records is None:
        return False
    graph = from_public_json(records)
    violations = check(subjects_from(graph.resources))
    (run_dir / "preview.json").write_text(json.dumps({
        "resources": len(graph.resources), "requirements": sorted(set(rule_requirements())),
        "violations": [{"requirement": v.requirement, "urn": v.urn, "rule": v.rule} for v in violations],
    }, indent=2))
    write_topology(graph, f"部署拓扑 Deployment topology: {stack}", run_dir / "topology.svg")
    return True


def _measurements(run_dir: Path) -> dict[str, Any]:
    m: dict[str, Any] = {}
    load = _read(run_dir / "load" / "summary.json")
    if load:
        a = load["availability"]
        m["availability"] = {"verdict": a["verdict"], "ratio": a["steady"]["ratio"],
                             "lower_bound": a["steady"]["lower_bound"], "operations": a["steady"]["operations"],
                             "expected_downtime_h_per_year": a["faults"]["expected_hours"],
                             "allowed_h_per_year": a["faults"]["allowed_hours"],
                             "budget_burn_30d": a["faults"]["budget_burn_30d"], "per_uplink": load["per_uplink"]}
    journals = plots.load_journals(run_dir)
    if journals:
        m["drills"] = {"count": len(journals), "failed": sum(1 for j in journals if j["verdict"] != "pass"),
                       "by_experiment": {j["experiment"]["name"]: {"verdict": j["verdict"], **j["measurements"]}
                                         for j in journals}}
        calls = [{"experiment": j["experiment"]["name"], **c, "timeline": None, "under": _under_faults(j)}
                 for j in journals for c in j.get("media", [])]
        if calls:
            m["calls"] = calls
    uploads = [{"experiment": j["experiment"]["name"], **j["uploads"]} for j in journals if j.get("uploads")]
    if uploads:
        steady = [u["steady_lag_p95_s"] for u in uploads if u.get("steady_lag_p95_s") is not None]
        m["uploads"] = {"committed": sum(u["committed"] for u in uploads),
                        "missing": sum(u["missing"] for u in uploads),
                        "duplicated": sum(u["duplicated"] for u in uploads),
                        "out_of_order": sum(u["out_of_order"] for u in uploads),
                        "dead_lettered": sum(u["dead_lettered"] for u in uploads),
                        "steady_lag_p95_s": max(steady) if steady else None,
                        "worst_drain_s": max((u["drain_s"] for u in uploads if u.get("drain_s") is not None),
                                             default=None),
                        "by_experiment": uploads}
    restore = _read(run_dir / "restore" / "restore.json")
    if restore:
        m["restore"] = {"worst_rto_s": max(d["rto_seconds"] for d in restore["drills"]),
                        "drills": restore["drills"], "projection": restore.get("projection")}
    backups = _read(run_dir / "backups" / "freshness.json")
    if backups:
        m["backups"] = {"stale": [c["site"] for c in backups["copies"] if c["stale"]],
                        "scheduled": {c["site"]: {**{k: c["scheduled"][k] for k in ("ok", "failed", "busy")},
                                                  "missed_periods": c["missed_periods"]} for c in backups["copies"]},
                        "copies": backups["copies"]}
    checks = run_dir / "checks" / "checks.jsonl"
    if checks.exists():
        records = [json.loads(x) for x in checks.read_text().splitlines() if x.strip()]
        m["host_checks"] = {s: sum(1 for r in records if r["status"] == s) for s in ("pass", "fail", "waived", "skip")}
    return m


def _under_faults(journal: dict[str, Any]) -> list[dict[str, Any]]:
    """The call's figures while each fault held (call quality under each impairment)."""
    return [{"fault": a["name"], "directions": a["output"]["media"]} for a in journal["activities"]
            if a.get("kind") == "action" and isinstance(a.get("output"), dict) and a["output"].get("media")]


def _plots(run_dir: Path) -> dict[str, str]:
    made: dict[str, str] = {}
    out = run_dir / "plots"
    journals = plots.load_journals(run_dir)
    load = _read(run_dir / "load" / "summary.json")
    restore = _read(run_dir / "restore" / "restore.json")
    candidates = {
        "availability_timeline": lambda: plots.availability_timeline(journals, run_dir, out / "availability.svg"),
        "latency_per_uplink": lambda: plots.latency_per_uplink(load, out / "latency.svg") if load else None,
        "failover_phases": lambda: plots.failover_phases(journals, out / "failover-phases.svg"),
        "media_calls": lambda: plots.media_calls(journals, out / "media-calls.svg"),
        "restore": lambda: plots.restore_phases(restore, out / "restore.svg") if restore else None,
    }
    for name, make in candidates.items():
        path = make()
        if path is not None:
            made[name] = path.relative_to(run_dir).as_posix()
    return made


def build_report(run_dir: Path, stack: str, run_id: str, started: str, steps: dict[str, Any] | None = None,
                 signing_key: SigningKey | None = None) -> Report:
    """Evidence.json, plots, topology, stability summary, HTML and JUnit for one run; then seal the bundle.

    Without ``signing_key`` the bundle is rebuilt unsigned, and an earlier manifest and signature
    (which no longer match) are removed rather than left to mislead.
    """
    run = provenance(run_dir, stack, run_id, started)
    run["signer"] = ({"algorithm": "ed25519", "fingerprint": signing_key.fingerprint} if signing_key
                     else {"algorithm": None, "fingerprint": None})
    drawn = write_preview(run_dir, stack)
    figures = _plots(run_dir)
    products = {"topology": "topology.svg", "stability": "stability.json"} if drawn else {"stability": "stability.json"}
    verdicts = requirement_verdicts(run_dir, products, datetime.date.fromisoformat(run["ended"][:10]))
    controls = load_controls()
    mapped = controls_by_requirement(controls)
    by_requirement = {v.id: mapped.get(v.id, []) for v in verdicts}
    formats = {"hdf": write_hdf(run_dir, run), "oscal": write_oscal(run_dir, run, verdicts, by_requirement)}
    evidence = {
        "schema_version": SCHEMA_VERSION, "run": run,
        "summary": {v: sum(1 for r in verdicts if r.verdict == v) for v in ORDER},
        "requirements": [{**v.to_json(), "mlps_controls": by_requirement[v.id]} for v in verdicts],
        "mlps_controls": mlps_view(controls, verdicts), "measurements": _measurements(run_dir),
        "plots": figures, "steps": steps or {}, "formats": formats, "artefacts": [],
    }
    (run_dir / "evidence.json").write_text(json.dumps(evidence, indent=2, ensure_ascii=False))
    stability = monthly_summary(run_dir.parent, run["started"][:7])
    (run_dir / "stability.json").write_text(json.dumps(stability, indent=2))
    evidence["artefacts"] = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()
                                   and p.name not in ("index.html", "junit.xml", "evidence.json"))
    (run_dir / "evidence.json").write_text(json.dumps(evidence, indent=2, ensure_ascii=False))
    (run_dir / "junit.xml").write_bytes(junit(verdicts))
    (run_dir / "index.html").write_text(render_html(run_dir, evidence, verdicts, stability), encoding="utf-8")
    if signing_key is None:
        unsign(run_dir)
    else:
        sign(run_dir, signing_key)
    _point_latest(run_dir)
    return Report(run_dir, verdicts, evidence, signed=signing_key is not None)


def mlps_view(controls: list[Control], verdicts: list[RequirementVerdict]) -> list[dict[str, Any]]:
    """Each MLPS level-3 control point with the worst verdict of the requirements that speak to it."""
    verdict_of = {v.id: v.verdict for v in verdicts}
    view = []
    for control in controls:
        mine = {r: verdict_of[r] for r in control.requirements if r in verdict_of}
        worst = min(mine.values(), key=ORDER.__getitem__) if mine else "not_tested"
        view.append({"id": control.id, "zh": control.zh, "en": control.en, "verdict": worst, "requirements": mine})
    return view


def _point_latest(run_dir: Path) -> None:
    latest = run_dir.parent / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(run_dir.name)


def junit(verdicts: list[RequirementVerdict]) -> bytes:
    suite = ET.Element("testsuite", name="requirements", tests=str(len(verdicts)),
                       failures=str(sum(v.verdict == "fail" for v in verdicts)),
                       skipped=str(sum(v.verdict in ("not_tested", "organisational", "waived") for v in verdicts)))
    for v in verdicts:
        case = ET.SubElement(suite, "testcase", classname="requirements", name=f"{v.id} {v.en}")
        if v.verdict == "fail":
            ET.SubElement(case, "failure", message=v.reason[:500]).text = v.reason
        elif v.verdict != "pass":
            ET.SubElement(case, "skipped", message=f"{v.verdict}: {v.reason}"[:500])
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)


STYLE = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",sans-serif;margin:24px;color:#212121;
max-width:1200px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:2px solid #cfd8dc}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #cfd8dc;padding:4px 6px;vertical-align:top}
th{background:#eceff1;text-align:left}.v{font-weight:bold;white-space:nowrap;border-radius:4px;padding:1px 6px}
.pass{background:#c8e6c9}.fail{background:#ffcdd2}.not_tested{background:#fff9c4}.organisational{background:#e1f5fe}
.waived{background:#e0e0e0}.partial{background:#ffe0b2}
.muted{color:#607d8b;font-size:12px}.fig{margin:12px 0}.fig svg{max-width:100%;height:auto}
.counts span{margin-right:12px}
"""


def _badge(verdict: str) -> str:
    zh, en = LABELS[verdict]
    return f'<span class="v {verdict}">{zh} {en}</span>'


def _svg(run_dir: Path, relative: str | None) -> str:
    if not relative or not (run_dir / relative).exists():
        return ""
    text = (run_dir / relative).read_text(encoding="utf-8")
    start = text.find("<svg")
    return f'<div class="fig">{text[start:]}</div>' if start >= 0 else ""


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(run_dir: Path, evidence: dict[str, Any], verdicts: list[RequirementVerdict],
                stability: dict[str, Any]) -> str:
    """The bilingual report: header, then one section per kind of evidence the run holds, failures first."""
    m, figures = evidence["measurements"], evidence["plots"]
    sections = [_matrix_section(evidence, verdicts), _controls_section(evidence["mlps_controls"])]
    if "availability" in m:
        sections.append(_availability_section(run_dir, m["availability"], figures))
    if "drills" in m:
        sections.append(_drills_section(run_dir, m["drills"], figures))
    if "calls" in m:
        sections.append(_calls_section(run_dir, m["calls"], figures))
    if "uploads" in m:
        sections.append(_uploads_section(m["uploads"]))
    if "backups" in m:
        sections.append(_backups_section(m["backups"]["copies"]))
    if "restore" in m:
        sections.append(_restore_section(run_dir, m["restore"], figures))
    sections.append("<h2>部署拓扑 Deployment topology (GD-2.2.3)</h2>" + _svg(run_dir, "topology.svg"))
    sections += [_stability_section(stability), _artefacts_section(evidence["artefacts"])]
    run = evidence["run"]
    return (f"<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'><title>Evidence {escape(run['id'])}"
            f"</title><style>{STYLE}</style></head><body>{_header(run)}{''.join(sections)}</body></html>")


def _header(run: dict[str, Any]) -> str:
    return (f"<h1>互联网医院韧性测评证据 Internet-hospital resilience evidence</h1>"
            f"<p class='muted'>运行 Run {escape(run['id'])} · 栈 stack {escape(run['stack'])} · "
            f"{escape(run['started'])} – {escape(run['ended'])} · commit {escape(str(run['project_commit'])[:12])}"
            f"{' (modified tree)' if run['project_tree_dirty'] else ''}</p>"
            f"<p class='muted'>签名密钥指纹 Signing-key fingerprint (ed25519): "
            f"<code>{escape(run['signer']['fingerprint'] or '未签名 unsigned')}</code></p>")


def _matrix_section(evidence: dict[str, Any], verdicts: list[RequirementVerdict]) -> str:
    counts = " ".join(f"<span>{_badge(k)} {n}</span>" for k, n in evidence["summary"].items())
    controls = {r["id"]: r["mlps_controls"] for r in evidence["requirements"]}
    matrix = _table(
        ["编号 ID", "要求 Requirement", "结论 Verdict", "理由 Reason", "转为通过 What would turn it to pass",
         "依据 Rests on", "等保 MLPS"],
        [[f"<b>{escape(v.id)}</b>", f"{escape(v.zh)}<br><span class='muted'>{escape(v.en)}</span>", _badge(v.verdict),
          escape(v.reason), escape(v.to_pass) or "-",
          f"<details><summary>{len(v.rests_on)}</summary>" + "<br>".join(escape(b) for b in v.rests_on)
          + "</details>" + "<br>".join(f"<a href='{escape(a)}'>{escape(a)}</a>"
                                       for a in sorted({e.artefact for e in v.evidence if e.artefact})),
          ", ".join(controls.get(v.id, [])) or "-"] for v in verdicts])
    return f"<h2>需求矩阵 Requirement matrix</h2><p class='counts'>{counts}</p>{matrix}"


def _controls_section(view: list[dict[str, Any]]) -> str:
    rows = [[f"<b>{escape(c['id'])}</b>", f"{escape(c['zh'])}<br><span class='muted'>{escape(c['en'])}</span>",
             _badge(c["verdict"]), ", ".join(f"{escape(r)} ({LABELS[v][0]} {LABELS[v][1]})"
                                            for r, v in c["requirements"].items())] for c in view]
    return ("<h2>等保 2.0 三级控制点视图 MLPS 2.0 level-3 control view (GB/T 22239-2019)</h2>"
            "<p class='muted'>每个控制点取其对应要求中最差的结论。Each control point takes the worst verdict of the "
            "requirements that speak to it.</p>"
            + _table(["控制点 Control", "名称 Name", "结论 Verdict", "对应要求 Requirements"], rows))


def _availability_section(run_dir: Path, a: dict[str, Any], figures: dict[str, str]) -> str:
    return ("<h2>可用性 Availability (EH-2.2.1)</h2>" + _table(
        ["指标 Measure", "数值 Value"],
        [["结论 Verdict", _badge(a["verdict"])],
         ["成功率 Success ratio", f"{a['ratio']:.5f} over {a['operations']} operations"],
         ["95% 下限 One-sided 95 % Clopper–Pearson lower bound", f"{a['lower_bound']:.5f} (target 0.999)"],
         ["年度预计停机 Expected downtime a year", f"{a['expected_downtime_h_per_year']:.3f} h of "
                                                  f"{a['allowed_h_per_year']:.2f} h allowed"],
         ["30 天错误预算消耗 30-day error-budget burn", f"{a['budget_burn_30d']:.2%}"]])
        + _svg(run_dir, figures.get("latency_per_uplink")))


def _drills_section(run_dir: Path, drills: dict[str, Any], figures: dict[str, str]) -> str:
    rows = [[escape(name), _badge(d["verdict"]), str(d.get("service_outage_s", "-")),
             str(d.get("user_visible_outage_s", "-")), str(d.get("raw_error_window_s", "-")),
             str(d.get("writes_back_s", "-")), str(d.get("rpo_rows", "-"))]
            for name, d in drills["by_experiment"].items()]
    return ("<h2>故障演练 Failover drills (GD-3.2.3, TM-5.5)</h2>"
            + _table(["演练 Experiment", "结论 Verdict", "服务中断 Service outage s", "用户可见 User-visible s",
                      "原始错误窗口 Raw error window s", "写入恢复 Writes back s", "RPO rows"], rows)
            + _svg(run_dir, figures.get("availability_timeline"))
            + _svg(run_dir, figures.get("failover_phases")))


def _direction_row(label: str, d: dict[str, Any]) -> list[str]:
    return [escape(label), escape(d["direction"]), str(d["sent"]), f"{d['loss_pct']}%",
            f"{d['loss_outside_gap_pct']}%", str(d["delay_ms_p50"]), str(d["delay_ms_p95"]), str(d["jitter_ms"]),
            str(d["longest_gap_s"])]


def _calls_section(run_dir: Path, calls: list[dict[str, Any]], figures: dict[str, str]) -> str:
    rows = [_direction_row(f"{c['experiment']}: {' -> '.join(c['nodes'])}", d) for c in calls for d in c["directions"]]
    rows += [_direction_row(f"{c['experiment']}: {u['fault']}", d) for c in calls for u in c["under"]
             for d in u["directions"]]
    return ("<h2>音视频通话 Audio/video calls carried (GD-1.2.4, TM-5.3)</h2>"
            + _table(["通话 Call", "方向 Direction", "发送 Sent", "丢包 Loss", "间断外丢包 Loss outside gap",
                      "时延 Delay p50 ms", "时延 Delay p95 ms", "抖动 Jitter ms", "最长间断 Longest gap s"], rows)
            + _svg(run_dir, figures.get("media_calls")))


def _uploads_section(u: dict[str, Any]) -> str:
    def figure(value: Any) -> str:
        return "-" if value is None else str(value)

    rows = [[escape(x["experiment"]), str(x["committed"]), str(x["uploaded"]), str(x["missing"]),
             str(x["duplicated"]), str(x["out_of_order"]), str(x["dead_lettered"]), str(x["resends"]),
             figure(x.get("steady_lag_p95_s")), figure(x.get("lag_max_s")), figure(x.get("drain_s"))]
            for x in u["by_experiment"]]
    reasons = sorted({f"{n} x {reason}" for x in u["by_experiment"] for reason, n in x.get("reasons", {}).items()})
    return ("<h2>监管平台上传 Uploads to the supervision platform (GD-3.2.1)</h2>"
            + _table(["演练 Experiment", "已提交 Committed", "平台收到 Held by platform", "缺失 Missing",
                      "重复 Duplicated", "乱序 Out of order", "拒收 Dead-lettered", "重发 Resends",
                      "稳态时延 Steady lag p95 s", "最大时延 Max lag s", "积压排空 Drain s"], rows)
            + ("<p>拒收原因 Rejection reasons: " + escape("; ".join(reasons)) + "</p>" if reasons else ""))


def _restore_section(run_dir: Path, r: dict[str, Any], figures: dict[str, str]) -> str:
    rows = [[escape(d["site"]), f"{d['rto_seconds']:.1f}", str(d["rpo_rows"]), f"{d['rpo_seconds']:.1f}",
             f"{d['restore_bytes_per_s'] / 1e6:.1f}" if d.get("restore_bytes_per_s") else "-",
             _badge("pass" if d["sentinel_verified"] else "fail"), escape(d.get("clinical_sentinel", ""))]
            for d in r["drills"]]
    return ("<h2>备份恢复 Backup and restore (EH-2.2.3, EH-3.3.2)</h2>"
            + _table(["副本 Copy", "RTO s", "RPO rows", "RPO s", "恢复 Restore MB/s", "哨兵 Sentinel",
                      "病历与审计 Consultation and audit trail"], rows)
            + _projection(r.get("projection") or {}) + _svg(run_dir, figures.get("restore")))


def _backups_section(copies: list[dict[str, Any]]) -> str:
    def age(at: float | None, now: float) -> str:
        return "-" if at is None else f"{(now - at) / 3600:.1f} h"

    rows = [[escape(c["site"]), _badge("fail" if c["stale"] else "pass"),
             age(c["last_full_at"], c["measured_at"]),
             f"{age(c['last_backup_at'], c['measured_at'])} ({escape(c['last_backup_type'] or '-')})",
             escape(f"{c['archive_min'] or '-'} .. {c['archive_max'] or '-'}"),
             f"{c['scheduled']['ok']} / {c['scheduled']['failed']} / {c['scheduled']['busy']}",
             str(c["missed_periods"]), escape("; ".join(c["stale"]) or "-")] for c in copies]
    return ("<h2>备份新鲜度 Backup freshness at the start of the run (EH-2.2.3)</h2>"
            + _table(["副本 Copy", "结论 Verdict", "最近全量 Last full, age", "最近备份 Last backup, age",
                      "归档 WAL archive", "定时备份 成功/失败/忙 Scheduled ok/failed/busy", "漏备周期 Missed periods",
                      "原因 Why stale"], rows))


def _projection(p: dict[str, Any]) -> str:
    if not p:
        return ""
    capped = (f"（{p['capped_at_raw_copy']} 次演练的恢复速率按同盘直接复制速率封顶 restore rate capped at the "
              f"raw-copy rate of the same disk in {p['capped_at_raw_copy']} drill(s): the filler data "
              f"compresses better than clinical records）" if p.get("capped_at_raw_copy") else "")
    return (f"<p>预计 RTO Projected RTO for {p.get('data_gb')} GB + {p.get('wal_gb')} GB WAL: "
            f"{p.get('rto_low_s', 0) / 3600:.2f}–{p.get('rto_high_s', 0) / 3600:.2f} h{capped}</p>")


def _stability_section(stability: dict[str, Any]) -> str:
    return (f"<h2>月度稳定性 Monthly stability summary (EH-1.2.4) {escape(stability['month'])}</h2>"
            + _table(["运行 Run", "开始 Started", "未通过 Failed requirements", "可用率 Availability", "演练 Drills"],
                     [[escape(r["run_id"]), escape(r["started"]), str(r["verdicts"].get("fail", "-")),
                       "-" if r["availability_ratio"] is None else f"{r['availability_ratio']:.5f}",
                       f"{r['drills'] or 0} ({r['drills_failed'] or 0} failed)"] for r in stability["runs"]]))


def _artefacts_section(artefacts: list[str]) -> str:
    items = "".join(f"<li><a href='{escape(a)}'>{escape(a)}</a></li>" for a in artefacts)
    return (f"<h2>原始材料 Raw artefacts</h2><ul>{items}</ul>"
            "<p class='muted'>manifest.sha256 列出每个文件的 SHA-256，manifest.sha256.sig 是其 ed25519 签名。"
            "manifest.sha256 lists every file's SHA-256; manifest.sha256.sig is its ed25519 signature. "
            "校验 Verify: <code>harness verify-evidence DIR --fingerprint FINGERPRINT</code>, or without the "
            "harness: <code>sha256sum -c manifest.sha256</code>; <code>base64 -d manifest.sha256.sig &gt; sig.bin"
            "</code>; <code>openssl pkeyutl -verify -pubin -inkey SIGNER.pub.pem -rawin -in manifest.sha256 "
            "-sigfile sig.bin</code> (SIGNER.pub.pem: the signer's public key, obtained from the signer, not from "
            "this bundle)</p>")

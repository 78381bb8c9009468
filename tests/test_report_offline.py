"""The report from a run folder alone: no stack, no engine, no network; the saved graph carries no secret."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from harness.core.graph import from_public_json
from harness.evidence.catalogue import load_catalogue
from harness.evidence.report import build_report
from tests.helpers import run_folder

SCHEMA = Path(__file__).parents[1] / "harness" / "data" / "evidence.schema.json"


def test_the_saved_graph_keeps_labels_and_networks_and_no_secret(tmp_path: Path) -> None:
    folder, outputs = run_folder(tmp_path)
    text = (folder / "stack" / "graph.json").read_text()
    for secret in (*outputs["secrets"].values(), outputs["ssh_private_key"]):
        assert secret.strip().splitlines()[1 if "BEGIN" in secret else 0] not in text
    graph = from_public_json(json.loads(text))
    containers = graph.of_type("docker:index/container:Container")
    assert containers and all(r.labels().get("ihh.host") and r.inputs.get("networksAdvanced") for r in containers)
    assert not any({"uploads", "envs", "command"} & set(r.inputs) for r in graph.resources)


def test_a_report_is_built_from_the_folder_alone_and_left_unsigned_without_a_key(tmp_path: Path) -> None:
    folder, _ = run_folder(tmp_path)
    (folder / "manifest.sha256.sig").write_text("stale")
    report = build_report(folder, "local", folder.name, "2026-11-25T00:00:00Z")
    evidence = json.loads((folder / "evidence.json").read_text())
    jsonschema.validate(evidence, json.loads(SCHEMA.read_text()))
    assert not report.signed and not (folder / "manifest.sha256.sig").exists()
    assert {r["id"] for r in evidence["requirements"]} == {r.id for r in load_catalogue()}
    assert evidence["run"]["project_commit"] == "0123456789abcdef" and evidence["run"]["stack"] == "local"
    preview = json.loads((folder / "preview.json").read_text())
    assert preview["violations"] == [] and preview["resources"] > 30
    by_id = {r["id"]: r for r in evidence["requirements"]}
    assert by_id["GD-1.2.5"]["verdict"] == "partial"  # the policy rules ran over the saved graph, nothing else
    assert "not exercised in this run: chaos, load" in by_id["GD-1.2.5"]["reason"]
    assert by_id["EH-3.3.2"]["verdict"] == "not_tested"  # no restore in this folder: nothing claimed
    assert (folder / "topology.svg").read_text().startswith("<svg")
    assert "省级监管平台 Supervision platform" in (folder / "topology.svg").read_text(), "GD-3.2.1's upload path"


def test_a_run_that_never_reached_its_stack_still_gets_a_report(tmp_path: Path) -> None:
    folder = tmp_path / "evidence" / "run"
    folder.mkdir(parents=True)
    build_report(folder, "local", "run", "2026-11-25T00:00:00Z", steps={"up": {"status": "failed"}})
    evidence = json.loads((folder / "evidence.json").read_text())
    assert evidence["run"]["project_commit"] == "unknown" and evidence["run"]["project_tree_dirty"] is None
    claimed = {r["id"] for r in evidence["requirements"] if r["verdict"] not in ("not_tested", "organisational")}
    assert not claimed, claimed  # nothing ran, so nothing is claimed, not even the monthly summary


def test_a_drills_call_is_evidence_for_gd_1_2_4_with_its_plot_and_quality_under_each_fault(tmp_path: Path) -> None:
    folder, _ = run_folder(tmp_path)
    direction = {"direction": "patient->doctor", "sent": 500, "received": 440, "lost": 60, "duplicated": 0,
                 "reordered": 0, "loss_pct": 12.0, "loss_outside_gap_pct": 0.0, "delay_ms_p50": 1.2,
                 "delay_ms_p95": 3.4, "delay_ms_max": 9.0, "jitter_ms": 0.4, "longest_gap_s": 1.21}
    call = {"nodes": ["turn-1", "turn-2"], "directions": [direction], "dropped": "", "seconds": 10.0,
            "moves": [{"from": "turn-1", "to": "turn-2", "at": 1005.0, "setup_s": 0.05}],
            "longest_gap_s": 1.21, "loss_outside_gap_pct": 0.0,
            "timeline": {"start": 1000.0, "bin_s": 0.1,
                         "received": {"patient->doctor": [5] * 40 + [0] * 12 + [5] * 48}}}
    kill = {"name": "kill the TURN node relaying the call", "kind": "action", "status": "succeeded",
            "phases": {"injected": 1004.0, "rolled_back": 1008.0}, "output": {"media": [direction]}}
    journal = folder / "chaos" / "av-call-failover" / "journal.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({
        "experiment": {"name": "av-call-failover", "requirements": ["GD-1.2.4"]}, "verdict": "pass",
        "failure_mode": "av-node-failure", "status": "completed", "timeline": [], "load": {}, "goals": {},
        "reason": "goals met", "measurements": {"media_gap_s": 1.21}, "activities": [kill], "media": [call]}))
    build_report(folder, "local", folder.name, "2026-11-25T00:00:00Z")
    evidence = json.loads((folder / "evidence.json").read_text())
    by_id = {r["id"]: r for r in evidence["requirements"]}
    details = [e["detail"] for e in by_id["GD-1.2.4"]["evidence"]]
    assert any("call through turn-1 -> turn-2: patient->doctor 440/500 packets" in d and "1.21 s" in d
               for d in details), details
    assert any("call under kill the TURN node" in e["detail"] for e in by_id["TM-5.3"]["evidence"])
    assert evidence["plots"]["media_calls"] == "plots/media-calls.svg"
    assert (folder / "plots" / "media-calls.svg").read_text().startswith("<?xml")
    html = (folder / "index.html").read_text()
    assert "Audio/video calls carried (GD-1.2.4, TM-5.3)" in html and "av-call-failover: turn-1 -&gt; turn-2" in html


def _upload_journal(folder: Path, name: str, uploads: dict, target: str, verdict: str = "pass") -> None:
    journal = folder / "chaos" / name / "journal.json"
    journal.parent.mkdir(parents=True)
    action = {"name": "the step", "kind": "action", "status": "succeeded", "target": target,
              "phases": {"injected": 1000.0, "rolled_back": 1020.0}}
    journal.write_text(json.dumps({
        "experiment": {"name": name, "requirements": ["GD-3.2.1"]}, "verdict": verdict,
        "failure_mode": "supervision-platform-outage", "status": "completed", "timeline": [], "load": {},
        "goals": {}, "reason": "goals met", "measurements": {}, "activities": [action], "uploads": uploads,
        "hypothesis": {}}))


UPLOADS = {"committed": 972, "uploaded": 971, "pending": 0, "duplicated": 0, "missing": 0, "out_of_order": 0,
           "dead_lettered": 1, "resends": 3, "lag_p50_s": 4.2, "lag_p95_s": 18.1, "lag_max_s": 20.9,
           "reasons": {"data.department: '演练科室 drill' is not in the platform's department code table": 1},
           "steady_lag_p50_s": 0.2, "steady_lag_p95_s": 0.5, "steady_records": 172, "healed_at": 1020.0,
           "drain_s": 0.98, "drained_records": 412, "drain_records_per_s": 422.6}


def test_uploads_reconciled_by_the_drills_are_gd_3_2_1s_evidence_and_a_missing_record_fails_it(
        tmp_path: Path) -> None:
    folder, _ = run_folder(tmp_path)
    _upload_journal(folder, "supervision-platform", UPLOADS, "supervision-unreachable: disable the proxies")
    _upload_journal(folder, "no-false-failover", {**UPLOADS, "dead_lettered": 0, "reasons": {}, "drain_s": None},
                    "none: no fault: hold while the probes and the load run")
    build_report(folder, "local", folder.name, "2026-11-25T00:00:00Z")
    evidence = json.loads((folder / "evidence.json").read_text())
    gd = {r["id"]: r for r in evidence["requirements"]}["GD-3.2.1"]
    details = " ".join(e["detail"] for e in gd["evidence"])
    assert "972 records committed, 971 held by the platform, 0 missing, 0 duplicated" in details
    assert "1 dead-lettered (1 x data.department" in details and "412 records drained 0.98 s" in details
    assert {e["method"] for e in gd["evidence"]} >= {"chaos", "load"}, "the no-fault drill is the load step's"
    assert gd["verdict"] in ("pass", "partial") and evidence["measurements"]["uploads"]["missing"] == 0
    assert "Uploads to the supervision platform (GD-3.2.1)" in (folder / "index.html").read_text()

    broken = tmp_path / "broken"
    folder2, _ = run_folder(broken)
    _upload_journal(folder2, "supervision-platform", {**UPLOADS, "missing": 2}, "supervision-unreachable: x")
    build_report(folder2, "local", folder2.name, "2026-11-25T00:00:00Z")
    gd2 = {r["id"]: r for r in json.loads((folder2 / "evidence.json").read_text())["requirements"]}["GD-3.2.1"]
    assert gd2["verdict"] == "fail" and "2 missing" in gd2["reason"]


def test_a_drill_that_reconciled_no_upload_claims_nothing_for_gd_3_2_1(tmp_path: Path) -> None:
    folder, _ = run_folder(tmp_path)
    _upload_journal(folder, "app-server-kill", {}, "forwarder-kill: x")
    build_report(folder, "local", folder.name, "2026-11-25T00:00:00Z")
    gd = {r["id"]: r for r in json.loads((folder / "evidence.json").read_text())["requirements"]}["GD-3.2.1"]
    assert gd["verdict"] == "not_tested" and "uploads to the supervision platform not checked" in gd["reason"]

"""The assessors' formats from a run folder, checked by independent tools, not by the harness's own reader.

HDF per host is validated with MITRE's ``saf`` CLI and opened in Heimdall Lite in headless
Chromium; the OSCAL assessment results are validated by compliance-trestle. The run folder is
made here (graph, outputs, host-check records, a drill journal, an attestation) so the test
needs no stack; the live evidence test runs the same checks on a real `harness all` bundle.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import jsonschema
import pytest
import yaml

from harness.core.paths import CACHE_ROOT
from harness.evidence.attestations import SNAPSHOT
from harness.evidence.catalogue import load_catalogue
from harness.evidence.report import build_report
from tests.helpers import run_folder
from tests.test_bundle import new_key

TOOLS = CACHE_ROOT / "assessor-tools" / "node_modules"
SAF = TOOLS / ".bin" / "saf"
HEIMDALL = TOOLS / "@mitre" / "heimdall-lite" / "dist"
TRESTLE = Path(sys.executable).with_name("trestle")
SCHEMA = Path(__file__).parents[1] / "harness" / "data" / "evidence.schema.json"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
RECORDS = [
    ("db-1", "database::test_tls_is_on", ["EH-1.2.1", "TM-5.2"], "critical", "pass", ""),
    ("db-1", "database::test_no_trust_or_plain_host_rule_for_remote_addresses", ["EH-1.2.1"], "critical", "fail",
     "db-1: remote connections must need TLS and a password: pg_hba line 9: host ... trust"),
    ("db-1", "database::test_data_directory_is_encrypted_at_rest", ["TM-5.2"], "high", "skip",
     "db-1 is a container of the local replica"),
    ("db-1", "common::test_sshd_is_key_only", ["GD-1.2.1", "EH-2.2.2"], "critical", "pass", ""),
    ("app-1", "common::test_sshd_is_key_only", ["GD-1.2.1", "EH-2.2.2"], "critical", "waived",
     "waived until 2099-01-01 (vendor appliance, RISK-7); app-1: sshd must be key-only"),
    ("turn-1", "av::test_coturn_requires_authentication", ["GD-1.2.4", "EH-2.2.2"], "critical", "error",
     "SSH to turn-1 failed: timed out"),
]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder, _ = run_folder(tmp_path_factory.mktemp("run"))
    (folder / "checks").mkdir()
    (folder / "checks" / "checks.jsonl").write_text("\n".join(json.dumps(
        {"host": h, "roles": [h.split("-")[0]], "check": c, "requirements": r, "impact": i, "status": s,
         "message": m, "seconds": 0.05}) for h, c, r, i, s, m in RECORDS) + "\n")
    journal = folder / "chaos" / "media-path" / "journal.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({
        "experiment": {"name": "media-path", "requirements": ["GD-3.2.3", "GD-1.2.4", "TM-5.5"]},
        "failure_mode": "provider-degraded", "verdict": "pass", "reason": "not possible here: udp-delay",
        "measurements": {}, "activities": [{"name": "udp-delay", "kind": "action", "status": "not_possible_here",
                                            "error": "this kernel has neither netem nor fq", "target": "turn-1",
                                            "start": None, "end": None, "phases": {}, "notes": []}]}))
    (folder / SNAPSHOT).write_text(json.dumps({"source": "stacks/attestations.yaml", "attestations": [
        {"requirement": "OP-7.2", "part": "Data export and deletion procedure at service end",
         "attested_by": "Chen Jing", "role": "Data protection officer", "date": "2026-11-01", "sha256": "cd" * 32,
         "expires": "2099-11-01", "document": "", "line": 1}]}))
    key = new_key()
    build_report(folder, "local", folder.name, "2026-11-25T00:00:00Z", signing_key=key)
    return folder, key.fingerprint


def test_the_bundle_states_its_signer_verdicts_and_control_view(bundle: tuple[Path, str]) -> None:
    folder, fingerprint = bundle
    evidence = json.loads((folder / "evidence.json").read_text())
    jsonschema.validate(evidence, json.loads(SCHEMA.read_text()))
    assert evidence["run"]["signer"] == {"algorithm": "ed25519", "fingerprint": fingerprint}
    by_id = {r["id"]: r for r in evidence["requirements"]}
    assert by_id["EH-1.2.1"]["verdict"] == "fail" and by_id["GD-1.2.4"]["verdict"] == "fail"  # errored check
    assert by_id["GD-1.2.1"]["verdict"] == "waived"
    assert by_id["OP-7.2"]["verdict"] == "pass" and "Chen Jing" in by_id["OP-7.2"]["reason"]
    assert "udp-delay could not be injected" in by_id["TM-5.5"]["reason"]
    assert all(r["to_pass"] for r in evidence["requirements"] if r["verdict"] != "pass")
    control = next(c for c in evidence["mlps_controls"] if c["id"] == "8.1.4.8")
    assert control["verdict"] == "fail" and set(control["requirements"]) == {"EH-1.2.1", "TM-5.2"}
    html = (folder / "index.html").read_text(encoding="utf-8")
    assert "等保 2.0 三级控制点视图" in html and "MLPS 2.0 level-3 control view" in html
    assert f"签名密钥指纹 Signing-key fingerprint (ed25519): <code>{fingerprint}</code>" in html


def _saf(*args: str) -> subprocess.CompletedProcess[str]:
    assert SAF.exists(), f"{SAF} missing: scripts/setup.sh installs MITRE's saf CLI"
    return subprocess.run([str(SAF), *args], capture_output=True, text=True, check=False, timeout=120)


def test_saf_reads_each_hosts_hdf_with_the_counts_of_its_checks(bundle: tuple[Path, str], tmp_path: Path) -> None:
    folder, _ = bundle
    files = sorted((folder / "hdf").glob("*.json"))
    assert [f.stem for f in files] == ["app-1", "db-1", "turn-1"]
    for path in files:
        statuses = Counter(s for h, _c, _r, _i, s, _m in RECORDS if h == path.stem)
        passed, failed = statuses["pass"], statuses["fail"] + statuses["waived"]
        threshold = tmp_path / f"{path.stem}.yaml"
        threshold.write_text(yaml.safe_dump({"passed": {"total": {"min": passed, "max": passed}},
                                             "failed": {"total": {"min": failed, "max": failed}},
                                             "skipped": {"total": {"min": statuses["skip"], "max": statuses["skip"]}},
                                             "error": {"total": {"min": statuses["error"],
                                                                 "max": statuses["error"]}}}))
        checked = _saf("validate", "threshold", "-i", str(path), "-T", str(threshold))
        assert checked.returncode == 0, (path.name, checked.stdout, checked.stderr)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(yaml.safe_dump({"failed": {"total": {"max": 0}}}))
    refused = _saf("validate", "threshold", "-i", str(folder / "hdf" / "db-1.json"), "-T", str(wrong))
    assert refused.returncode != 0 and "failed" in (refused.stdout + refused.stderr)
    control = json.loads((folder / "hdf" / "db-1.json").read_text())["profiles"][0]["controls"][1]
    assert control["impact"] == 0.9 and control["tags"]["requirements"] == ["EH-1.2.1"]
    assert "8.1.4.8" in control["tags"]["mlps"]
    waived = json.loads((folder / "hdf" / "app-1.json").read_text())["profiles"][0]["controls"][0]
    assert waived["waiver_data"]["run"] and "RISK-7" in waived["waiver_data"]["justification"]


def test_heimdall_lite_shows_the_hosts_results(bundle: tuple[Path, str]) -> None:
    from playwright.sync_api import sync_playwright

    folder, _ = bundle
    assert (HEIMDALL / "index.html").exists(), "scripts/setup.sh installs @mitre/heimdall-lite"
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is installed by scripts/setup.sh"
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HEIMDALL))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/", timeout=60_000)
            page.locator("input[type=file]").first.set_input_files(str(folder / "hdf" / "db-1.json"))
            page.get_by_text("Passed: 2").wait_for(timeout=60_000)
            text = page.inner_text("body")
            browser.close()
    finally:
        server.shutdown()
    assert "Failed: 1" in text and "db-1.json" in text, text[:2000]


def _trestle(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TRESTLE), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=120)


def test_trestle_validates_the_oscal_assessment_results(bundle: tuple[Path, str], tmp_path: Path) -> None:
    folder, _ = bundle
    document = folder / "oscal" / "assessment-results.json"
    checked = _trestle(tmp_path, "partial-object-validate", "-f", str(document), "-e", "assessment-results")
    assert checked.returncode == 0 and "VALID" in checked.stdout, checked.stdout + checked.stderr
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    assert _trestle(workspace, "init").returncode == 0
    imported = _trestle(workspace, "import", "-f", str(document), "-o", "run")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    validated = _trestle(workspace, "validate", "-t", "assessment-results", "-n", "run")
    assert validated.returncode == 0 and "VALID" in validated.stdout, validated.stdout + validated.stderr
    results = json.loads(document.read_text())["assessment-results"]["results"][0]
    findings = {f["target"]["target-id"]: f for f in results["findings"]}
    assert set(findings) == {r.id for r in load_catalogue()}
    assert findings["EH-1.2.1"]["target"]["status"]["state"] == "not-satisfied"
    assert findings["OP-7.2"]["target"]["status"]["state"] == "satisfied"
    observations = {o["uuid"]: o for o in results["observations"]}
    linked = [observations[r["observation-uuid"]] for r in findings["EH-1.2.1"]["related-observations"]]
    assert any(e["href"] == "checks/checks.jsonl" for o in linked for e in o.get("relevant-evidence", []))
    broken = json.loads(document.read_text())
    del broken["assessment-results"]["results"][0]["findings"][0]["target"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    refused = _trestle(tmp_path, "partial-object-validate", "-f", str(tmp_path / "broken.json"),
                       "-e", "assessment-results")
    assert refused.returncode != 0, "trestle must refuse a finding without its target"

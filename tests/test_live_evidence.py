"""The evidence bundle from a real run: every requirement, valid schema, signed, and readable in a browser."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest

import harness.evidence.report
import harness.pipeline
from chaos.cleanup import cleanup
from harness.evidence.catalogue import load_catalogue
from harness.pipeline import QUICK_EXPERIMENTS, run_all
from tests.drill_journals import assert_drill_ran_and_undid_its_faults
from tests.existing_inventory import write_existing_stack

pytestmark = pytest.mark.live
HARNESS = Path(sys.executable).with_name("harness")
EXISTING = "existing-local"
SCHEMA = Path(harness.evidence.report.__file__).parents[1] / "data" / "evidence.schema.json"


@pytest.fixture(scope="module")
def evidence_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("evidence")


@pytest.fixture
def isolated_root(evidence_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(harness.pipeline, "EVIDENCE_ROOT", evidence_root)
    return evidence_root


@pytest.fixture(scope="module")
def quick_run(live_stack, engine, evidence_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`harness all --quick` for real, from the command line: drills, a restore, load, then the report, into a
    test-owned folder. Run on an ``existing`` stack declared from the local one (its containers as the
    hospital's servers, its WAN simulator as a staging lab's): every host reached over SSH, nothing created, so
    the bundle is the one an assessor gets from a hospital's own platform (issue 12)."""
    outputs = live_stack.ensure_up()
    folder = tmp_path_factory.mktemp("stacks")
    env = {**os.environ, **write_existing_stack(outputs, folder, EXISTING), "IHH_STACKS_DIR": str(folder),
           "IHH_EVIDENCE_DIR": str(evidence_root)}
    run = subprocess.run([str(HARNESS), "-s", EXISTING, "all", "--quick"], env=env, capture_output=True, text=True,
                         timeout=1800, check=False)
    assert run.returncode in (0, 1), run.stderr[-4000:]  # 1: a verdict failed; the bundle is sealed all the same
    run_dir = next(p.parent for p in evidence_root.glob("2*/run.json"))
    state = json.loads((run_dir / "run.json").read_text())
    assert state["finished"] and all(s["status"] == "done" for s in state["steps"].values()), state["steps"]
    assert json.loads((run_dir / "stack" / "outputs.json").read_text())["platform"] == "existing"
    return run_dir


def test_every_catalogue_requirement_is_in_the_bundle_with_a_reason(quick_run: Path) -> None:
    evidence = json.loads((quick_run / "evidence.json").read_text())
    jsonschema.validate(evidence, json.loads(SCHEMA.read_text()))
    listed = {r["id"]: r for r in evidence["requirements"]}
    assert set(listed) == {r.id for r in load_catalogue()}
    order = [r["verdict"] for r in evidence["requirements"]]
    assert order == sorted(order, key=harness.evidence.report.ORDER.__getitem__), "failures must come first"
    assert all(r["reason"] for r in evidence["requirements"])
    m = evidence["measurements"]
    assert m["availability"]["operations"] > 1000 and m["drills"]["count"] == 3 and m["restore"]["drills"]
    assert listed["GD-2.2.3"]["verdict"] == "pass" and (quick_run / "topology.svg").read_text().startswith("<svg")
    assert listed["OP-7.2"]["verdict"] == "organisational"
    assert evidence["run"]["project_commit"] and evidence["run"]["stack_config_sha256"]
    for plot in evidence["plots"].values():
        assert (quick_run / plot).stat().st_size > 1000
    suite = ET.parse(quick_run / "junit.xml").getroot()  # noqa: S314 - written by this run
    assert int(suite.get("tests")) == len(listed)
    assert int(suite.get("failures")) == evidence["summary"]["fail"]
    assert (quick_run.parent / "latest").resolve() == quick_run.resolve()


def test_every_host_check_of_the_quick_run_passes_or_says_why_it_was_skipped(quick_run: Path) -> None:
    """The run's check step, every suite on every host (over SSH, as any server): none failed or errored, a skip
    says why, every record names its requirements and impact, and the JUnit file has one case per record."""
    records = [json.loads(x) for x in (quick_run / "checks" / "checks.jsonl").read_text().splitlines() if x]
    hosts = {h["name"] for h in json.loads((quick_run / "stack" / "outputs.json").read_text())["hosts"]}
    assert {r["host"] for r in records} == hosts
    assert all(r["status"] == "pass" or (r["status"] == "skip" and r["message"]) for r in records), [
        f"{r['host']} {r['check']}: {r['status']}: {r['message']}" for r in records if r["status"] != "pass"]
    assert all(r["requirements"] and r["impact"] for r in records)
    junit = (quick_run / "checks" / "checks-junit.xml").read_text()
    assert junit.count("<testcase") == len(records)


@pytest.mark.parametrize("name", QUICK_EXPERIMENTS)
def test_the_quick_runs_drills_ran_and_undid_their_faults(quick_run: Path, name: str, containers, outputs) -> None:
    """These three are drilled here only (test_live_chaos leaves them out): the same checks on their journals."""
    journal = json.loads((quick_run / "chaos" / name / "journal.json").read_text())
    assert_drill_ran_and_undid_its_faults(journal, name)
    if name != "uplink-outage":  # the servers of an existing stack crash over SSH, as real ones
        assert any(n.endswith("(ssh)") for a in journal["activities"] for n in a["notes"]), journal["activities"]
    assert not cleanup(containers, outputs), "the quick run left a fault behind"
    # one Locust run for the series; each drill's figures are its own slice of it, its users set before it began
    since, until = journal["load"]["window"]
    assert journal["load"]["dir"].endswith("load-shared") and journal["started"] < journal["ended"]
    assert until - since > 5 and journal["load"]["operations"] > 20, journal["load"]


def _verify(bundle: Path, *named: str) -> tuple[int, dict]:
    done = subprocess.run([str(HARNESS), "verify-evidence", "--json", str(bundle), *named], capture_output=True,
                          text=True, check=False, timeout=60)
    return done.returncode, json.loads(done.stdout)


def test_the_bundle_is_verified_under_the_operators_key_only(quick_run: Path, tmp_path: Path) -> None:
    """Kinds of tampering are covered one by one in test_bundle.py; here, the real bundle and its signer."""
    signer = json.loads((quick_run / "run.json").read_text())["signer"]["fingerprint"]
    evidence = json.loads((quick_run / "evidence.json").read_text())
    assert evidence["run"]["signer"]["fingerprint"] == signer and signer in (quick_run / "index.html").read_text()
    assert _verify(quick_run, "--fingerprint", signer)[0] == 0
    code, unnamed = _verify(quick_run)
    assert (code, unnamed["status"]) == (4, "signer_unknown"), unnamed
    copy = tmp_path / "bundle"
    shutil.copytree(quick_run, copy)
    summary = json.loads((copy / "load" / "summary.json").read_text())
    summary["successes"] = summary["operations"]
    (copy / "load" / "summary.json").write_text(json.dumps(summary))
    code, tampered = _verify(copy, "--fingerprint", signer)
    assert code == 1 and "load/summary.json: modified after signing (SHA-256 differs)" in tampered["problems"]


def test_no_generated_secret_is_in_the_bundle(quick_run: Path, live_stack) -> None:
    from harness.core.outputs import StackOutputs

    outputs = StackOutputs.load(live_stack.stack)
    secrets = {n: outputs.secret(n) for n in outputs.secret_names}
    assert "service_session_key" in secrets
    key_lines = [line for line in outputs.raw["ssh_private_key"].splitlines() if "PRIVATE KEY" not in line][:2]
    files = [p for p in quick_run.rglob("*") if p.is_file()]
    assert len(files) > 20
    for path in files:
        data = path.read_bytes()
        leaked = [n for n, v in secrets.items() if v.encode() in data] + (
            ["ssh_private_key"] if any(line.encode() in data for line in key_lines) else [])
        assert not leaked, f"{path.relative_to(quick_run)} holds {leaked}"


def test_the_real_bundles_formats_pass_the_independent_checkers(quick_run: Path, tmp_path: Path) -> None:
    from tests.test_assessor_formats import SAF, TRESTLE

    records = [json.loads(x) for x in (quick_run / "checks" / "checks.jsonl").read_text().splitlines() if x]
    for host in sorted({r["host"] for r in records})[:3]:
        passed = sum(1 for r in records if r["host"] == host and r["status"] == "pass")
        threshold = tmp_path / f"{host}.yaml"
        threshold.write_text(f"passed:\n  total:\n    min: {passed}\n    max: {passed}\n")
        checked = subprocess.run([str(SAF), "validate", "threshold", "-i", str(quick_run / "hdf" / f"{host}.json"),
                                  "-T", str(threshold)], capture_output=True, text=True, check=False, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    oscal = subprocess.run([str(TRESTLE), "partial-object-validate", "-f",
                            str(quick_run / "oscal" / "assessment-results.json"), "-e", "assessment-results"],
                           cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120)
    assert oscal.returncode == 0 and "VALID" in oscal.stdout, oscal.stdout + oscal.stderr


def test_the_report_renders_in_headless_chromium(quick_run: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is installed by scripts/setup.sh"
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((quick_run / "index.html").as_uri())
        assert "需求矩阵" in page.content() and "Requirement matrix" in page.content()
        rows = page.locator("table").first.locator("tr").count()
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert not errors, errors
    assert rows == len(load_catalogue()) + 1
    assert shot.stat().st_size > 50_000


def test_a_failed_step_keeps_its_evidence_and_resume_goes_on(live_stack, engine, isolated_root: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def steps(fail: str | None) -> dict:
        def step(name: str):
            def run() -> None:
                calls.append(name)
                if name == fail:
                    raise RuntimeError(f"{name} broke on purpose")
            return run
        return {name: step(name) for name in harness.pipeline.STEPS[:-1]}

    monkeypatch.setattr(harness.pipeline, "_steps", lambda *_args: steps("restore"))
    first = run_all(live_stack.stack, resume=False, run_id=None)
    assert first.data["steps"]["restore"]["status"] == "failed" and not first.data["finished"]
    evidence = json.loads((first.run_dir / "evidence.json").read_text())
    assert {r["id"] for r in evidence["requirements"]} == {r.id for r in load_catalogue()}
    assert all(r["verdict"] in ("not_tested", "organisational", "pass", "partial", "fail")
               for r in evidence["requirements"])
    assert next(r for r in evidence["requirements"] if r["id"] == "EH-3.3.2")["verdict"] == "not_tested"
    calls.clear()
    monkeypatch.setattr(harness.pipeline, "_steps", lambda *_args: steps(None))
    second = run_all(live_stack.stack, resume=True, run_id=first.data["id"])
    assert calls == ["restore", "load"], "steps done before are not run again"
    assert second.data["finished"] and second.run_dir == first.run_dir


def test_the_report_is_rebuilt_from_the_run_folder_alone(quick_run: Path, tmp_path: Path) -> None:
    """No stack state, no Docker, another folder: the same verdicts, said to be unsigned (no key here)."""
    copy = tmp_path / "evidence" / quick_run.name
    shutil.copytree(quick_run, copy)
    (copy / "preview.json").unlink()
    (copy / "topology.svg").unlink()
    env = {**os.environ, "IHH_STATE_DIR": str(tmp_path / "no-state"), "DOCKER_HOST": "unix:///nonexistent.sock",
           "IHH_EVIDENCE_KEY": str(tmp_path / "no-key.pem")}
    rebuilt = subprocess.run([str(HARNESS), "report", str(copy)], capture_output=True, text=True, check=False,
                             timeout=120, env=env)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "NOT SIGNED" in rebuilt.stdout
    original = json.loads((quick_run / "evidence.json").read_text())
    again = json.loads((copy / "evidence.json").read_text())
    assert again["summary"] == original["summary"]
    assert [(r["id"], r["verdict"]) for r in again["requirements"]] == [
        (r["id"], r["verdict"]) for r in original["requirements"]]
    assert again["run"]["project_commit"] == original["run"]["project_commit"]
    assert (copy / "topology.svg").read_text().startswith("<svg")
    assert not (copy / "manifest.sha256.sig").exists(), "a stale signature must not be left to mislead"


@pytest.mark.takes_stack_down
def test_down_leaves_nothing_behind_and_an_old_bundle_still_verifies(live_stack, engine, tmp_path: Path) -> None:
    """The key that seals a bundle is the operator's: with the stack gone — containers, networks, volumes and its
    generated secrets — the bundle still verifies. Sealed as `harness all`'s report step seals it, from a snapshot
    of the running stack. The session's last test: `down` is what it tests, once."""
    from harness.core.state import STATE_ROOT
    from harness.evidence.report import build_report
    from harness.evidence.signing_key import init_key
    from harness.provisioning.docker_apply import DockerApplier
    from harness.provisioning.run_snapshot import snapshot
    from harness.provisioning.stack_ops import down

    live_stack.ensure_up()
    folder = tmp_path / "evidence" / "old-run"
    folder.mkdir(parents=True)
    snapshot(live_stack.stack, folder)
    key, _ = init_key()
    build_report(folder, live_stack.stack, folder.name, "2026-11-25T00:00:00Z", signing_key=key)
    report = down(live_stack.stack)
    live_stack.brought_up = False
    assert report.removed
    applier = DockerApplier(engine.client, live_stack.stack)
    assert not applier.existing_containers() and not applier.existing_networks() and not applier.existing_volumes()
    assert not (STATE_ROOT / live_stack.stack).exists(), "down keeps no generated secret of the stack"
    code, result = _verify(folder, "--fingerprint", key.fingerprint)
    assert (code, result["status"]) == (0, "verified"), result

"""Verdicts claim no more than was shown: untested shares, errored checks and unattested parts are not passes."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from harness.evidence.attestations import Attestation
from harness.evidence.catalogue import load_catalogue
from harness.evidence.verdicts import Item, chaos_items, host_items, judge

TODAY = datetime.date(2026, 11, 25)
CATALOGUE = {r.id: r for r in load_catalogue()}


def attestation(requirement: str, expires: str = "2027-11-01") -> Attestation:
    return Attestation(requirement, "MLPS level-3 filing certificate", "Li Wei", "Security officer", "2026-11-01",
                       "ab" * 32, expires)


def test_a_fault_that_could_not_be_injected_leaves_its_share_not_tested(tmp_path: Path) -> None:
    journal = tmp_path / "chaos" / "media-path" / "journal.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(json.dumps({
        "experiment": {"name": "media-path", "requirements": ["GD-1.2.4"]}, "verdict": "pass",
        "reason": "not possible here: udp-delay", "measurements": {"allocation_p95_ms": 12},
        "activities": [{"name": "udp-loss", "kind": "action", "status": "succeeded"},
                       {"name": "udp-delay", "kind": "action", "status": "not_possible_here",
                        "error": "this kernel has no netem"}]}))
    items = chaos_items(tmp_path)["GD-1.2.4"]
    assert [i.status for i in items] == ["pass", "not_tested"]
    policy = Item("policy", "pass", "every rule holds")
    host = Item("host", "pass", "8 pass")
    verdict = judge(CATALOGUE["GD-1.2.4"], [policy, host, *items], [], TODAY)
    assert verdict.verdict == "partial", verdict
    assert "udp-delay could not be injected here: this kernel has no netem" in verdict.reason
    assert "udp-delay" in verdict.to_pass and "drill media-path step udp-delay: not possible here" in verdict.rests_on


def test_an_errored_check_fails_its_requirement(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    records = [{"host": "db-1", "check": "database::test_tls_is_on", "requirements": ["EH-1.2.1"], "status": "pass",
                "message": ""},
               {"host": "db-2", "check": "database::test_tls_is_on", "requirements": ["EH-1.2.1"], "status": "error",
                "message": "SSH to db-2 failed: timed out"}]
    (tmp_path / "checks" / "checks.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    [item] = host_items(tmp_path)["EH-1.2.1"]
    assert item.status == "fail" and "db-2 database::test_tls_is_on: error: SSH to db-2 failed" in item.detail
    assert judge(CATALOGUE["EH-1.2.1"], [item], [], TODAY).verdict == "fail"


def test_a_check_skipped_everywhere_is_an_untested_share_and_skipped_on_one_host_is_not(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    records = [
        {"host": "db-1", "check": "database::test_service_sessions_use_tls", "requirements": ["TM-5.2"],
         "status": "pass", "message": ""},
        {"host": "db-2", "check": "database::test_service_sessions_use_tls", "requirements": ["TM-5.2"],
         "status": "skip", "message": "the service connects to the primary only"},
        {"host": "db-1", "check": "database::test_data_directory_is_encrypted_at_rest", "requirements": ["TM-5.2"],
         "status": "skip", "message": "a container of the local replica: not encrypted"}]
    (tmp_path / "checks" / "checks.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    items = host_items(tmp_path)["TM-5.2"]
    assert [i.status for i in items] == ["pass", "not_tested"]
    assert "encrypted_at_rest" in items[1].detail and "sessions_use_tls" not in items[1].detail
    assert judge(CATALOGUE["TM-5.2"], items, [], TODAY).verdict == "partial"


def test_an_organisational_part_makes_a_requirement_partial_until_attested() -> None:
    host = Item("host", "pass", "70 pass", basis=["host check common::test_sshd_is_key_only on app-1: pass"])
    policy = Item("policy", "pass", "every rule holds over 120 resources")
    unattested = judge(CATALOGUE["GD-1.2.1"], [host, policy], [], TODAY)
    assert unattested.verdict == "partial" and "organisational part not attested" in unattested.reason
    assert "attestation" in unattested.to_pass
    attested = judge(CATALOGUE["GD-1.2.1"], [host, policy], [attestation("GD-1.2.1")], TODAY)
    assert attested.verdict == "pass" and attested.to_pass == ""
    assert any(r.startswith("attestation: MLPS level-3 filing") for r in attested.rests_on)
    expired = judge(CATALOGUE["GD-1.2.1"], [host, policy], [attestation("GD-1.2.1", "2026-11-20")], TODAY)
    assert expired.verdict == "partial" and "expired on 2026-11-20" in expired.reason


def test_a_purely_organisational_requirement_passes_only_when_attested() -> None:
    assert judge(CATALOGUE["OP-7.2"], [], [], TODAY).verdict == "organisational"
    assert judge(CATALOGUE["OP-7.2"], [], [attestation("OP-7.2")], TODAY).verdict == "pass"


def test_a_method_that_produced_nothing_keeps_a_requirement_partial() -> None:
    verdict = judge(CATALOGUE["GD-1.2.5"], [Item("load", "pass", "both uplinks carried load")], [], TODAY)
    assert verdict.verdict == "partial" and "not exercised in this run: policy, chaos" in verdict.reason


def test_a_plan_whose_drill_injected_nothing_is_not_drilled(tmp_path: Path) -> None:
    from harness.evidence.verdicts import report_items

    for name, mode, verdict in [("uplink-outage", "uplink-outage", "not_tested"),
                                ("app-server-kill", "app-server-failure", "pass")]:
        (tmp_path / "chaos" / name).mkdir(parents=True)
        (tmp_path / "chaos" / name / "journal.json").write_text(json.dumps({"failure_mode": mode,
                                                                            "verdict": verdict}))
    plans = report_items(tmp_path, {})["GD-3.2.3"][0]
    assert plans.status == "fail"
    assert "plans drilled: equipment; not drilled: power, network" in plans.detail, plans.detail

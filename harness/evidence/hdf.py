"""The host-check results in the Heimdall Data Format (HDF), the format MITRE's SAF tools and Heimdall read.

One file per host, shaped like an InSpec JSON report of one target: a profile of the
check suites, one control per check with its impact (0.0-1.0), its requirement IDs and
MLPS control points as tags, the result on that host, and waivers as waiver data.
Assessors load them in Heimdall Lite or gate a pipeline with ``saf validate threshold``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness.evidence.catalogue import controls_by_requirement, load_controls

IMPACT = {"critical": 0.9, "high": 0.7, "medium": 0.5, "low": 0.3}
"""InSpec's bands: 0.7-1.0 high/critical, 0.4-0.7 medium, 0.1-0.4 low."""
RESULT_STATUS = {"pass": "passed", "fail": "failed", "waived": "failed", "skip": "skipped", "error": "error"}
PROFILE = "ihh-host-checks"
FOLDER = "hdf"


def _title(check: str) -> str:
    suite, _, test = check.partition("::")
    words = test.removeprefix("test_").replace("_", " ")
    return f"{suite}: {words[:1].upper()}{words[1:]}"


def _waiver(record: dict[str, Any]) -> dict[str, Any]:
    if record["status"] != "waived":
        return {}
    justification = record["message"].split(";", 1)[0]
    expires = justification.removeprefix("waived until ").split(" ", 1)[0]
    return {"justification": justification, "run": True, "skipped_due_to_waiver": False,
            "message": record["message"], "expiration_date": expires}


def _control(record: dict[str, Any], started: str, mlps: dict[str, list[str]]) -> dict[str, Any]:
    suite = record["check"].split("::", 1)[0]
    status = RESULT_STATUS[record["status"]]
    result: dict[str, Any] = {"status": status, "code_desc": f"{record['host']}: {_title(record['check'])}",
                              "run_time": record["seconds"], "start_time": started}
    if status in ("failed", "error"):
        result["message"] = record["message"] or record["status"]
    elif status == "skipped":
        result["skip_message"] = record["message"] or "skipped"
    requirements = list(record.get("requirements", []))
    return {
        "id": record["check"], "title": _title(record["check"]),
        "desc": f"Host check {record['check']} (requirements {', '.join(requirements) or 'none'})",
        "descriptions": [{"label": "default", "data": f"Requirements: {', '.join(requirements)}"}],
        "impact": IMPACT.get(record["impact"], 0.5), "refs": [],
        "tags": {"requirements": requirements, "severity": record["impact"],
                 "mlps": sorted({c for r in requirements for c in mlps.get(r, [])}), "roles": record["roles"]},
        "code": "", "source_location": {"ref": f"checks/suites/test_{suite}.py", "line": 1},
        "waiver_data": _waiver(record), "results": [result],
    }


def host_report(host: str, records: list[dict[str, Any]], run: dict[str, Any],
                mlps: dict[str, list[str]]) -> dict[str, Any]:
    """The InSpec-shaped report of one host: platform, statistics, one profile with one control per check."""
    controls = [_control(r, run["started"], mlps) for r in records]
    groups: dict[str, list[str]] = {}
    for control in controls:
        groups.setdefault(control["source_location"]["ref"], []).append(control["id"])
    profile: dict[str, Any] = {
        "name": PROFILE, "title": "Internet-hospital host checks 互联网医院主机检查", "version": "1.0.0",
        "maintainer": "ihh-harness", "summary": "testinfra checks over SSH, tagged with requirement IDs",
        "license": "Apache-2.0", "copyright": "ihh-harness", "copyright_email": "", "supports": [],
        "attributes": [], "depends": [], "status": "loaded",
        "groups": [{"id": ref, "title": ref, "controls": ids} for ref, ids in groups.items()],
        "controls": controls,
    }
    profile["sha256"] = hashlib.sha256(json.dumps(controls, sort_keys=True).encode()).hexdigest()
    return {"platform": {"name": "ihh-harness", "release": str(run.get("project_commit", "unknown")),
                         "target_id": f"{run['stack']}/{host}"},
            "version": "1.0.0", "statistics": {"duration": round(sum(r["seconds"] for r in records), 3)},
            "profiles": [profile], "passthrough": {"run": run["id"], "stack": run["stack"], "host": host}}


def write_hdf(run_dir: Path, run: dict[str, Any]) -> list[str]:
    """hdf/<host>.json for every host with check records; the relative paths written."""
    path = run_dir / "checks" / "checks.jsonl"
    if not path.exists():
        return []
    by_host: dict[str, list[dict[str, Any]]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            by_host.setdefault(record["host"], []).append(record)
    mlps = controls_by_requirement(load_controls())  # read once per run, not once per requirement and host
    folder = run_dir / FOLDER
    folder.mkdir(exist_ok=True)
    written = []
    for host, records in sorted(by_host.items()):
        (folder / f"{host}.json").write_text(json.dumps(host_report(host, records, run, mlps), indent=2,
                                                        ensure_ascii=False))
        written.append(f"{FOLDER}/{host}.json")
    return written

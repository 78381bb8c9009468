"""The run as an OSCAL assessment-results document, built with compliance-trestle's models.

One finding per catalogue requirement (its verdict as the objective's state, and as a
property, since OSCAL has only satisfied / not-satisfied), one observation per piece of
evidence linking the artefact it came from, attestations as interview observations.
UUIDs derive from the run and the requirement, so a rebuilt report yields the same document.
"""

from __future__ import annotations

import datetime
import uuid
from pathlib import Path
from typing import Any

from trestle.oscal import OSCAL_VERSION, common
from trestle.oscal import assessment_results as ar

from harness.evidence.verdicts import Item, RequirementVerdict

NAMESPACE = "https://ihh-harness.invalid/ns/oscal"
"""The namespace of this harness's own properties (``.invalid`` is reserved: it never resolves)."""
FILE = "oscal/assessment-results.json"
EXAMINE = {"policy", "report"}
"""Methods that read a description (the resource graph, the report's products) rather than test a system."""


def _uuid(run_id: str, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(("ihh-harness", run_id, *parts))))


def _when(stamp: str) -> datetime.datetime:
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)


def _prop(name: str, value: str) -> common.Property:
    return common.Property(name=name, value=value, ns=NAMESPACE)


def _observation(run_id: str, requirement: str, index: int, item: Item, collected: datetime.datetime
                 ) -> ar.Observation:
    method = common.Methods.EXAMINE if item.method in EXAMINE else common.Methods.TEST
    evidence = [common.RelevantEvidence(href=item.artefact, description=f"{item.method} evidence: {item.artefact}")
                ] if item.artefact else None
    return ar.Observation(uuid=_uuid(run_id, requirement, "observation", str(index)), title=f"{item.method}",
                          description=item.detail or item.method, methods=[method], collected=collected,
                          props=[_prop("status", item.status)], relevant_evidence=evidence)


def _attested(run_id: str, requirement: str, attestation: dict[str, Any], collected: datetime.datetime
              ) -> ar.Observation:
    return ar.Observation(
        uuid=_uuid(run_id, requirement, "attestation", attestation["sha256"]), title="attestation",
        description=(f"{attestation['part']}: attested by {attestation['attested_by']} ({attestation['role']}) on "
                     f"{attestation['date']}, valid until {attestation['expires']}; document SHA-256 "
                     f"{attestation['sha256']}"),
        methods=[common.Methods.INTERVIEW], collected=collected, props=[_prop("status", "attested")])


def _finding(run_id: str, verdict: RequirementVerdict, observations: list[ar.Observation],
             controls: list[str]) -> common.Finding:
    state = (common.ObjectiveStatusStateValidValues.satisfied if verdict.verdict == "pass"
             else common.ObjectiveStatusStateValidValues.not_satisfied)
    status = common.ObjectiveStatus(state=state, reason="pass" if verdict.verdict == "pass" else
                                    "fail" if verdict.verdict == "fail" else "other", remarks=verdict.reason[:4000])
    props = [_prop("verdict", verdict.verdict)] + [_prop("mlps-control", c) for c in controls]
    return common.Finding(
        uuid=_uuid(run_id, verdict.id, "finding"), title=f"{verdict.id} {verdict.en}",
        description=f"{verdict.zh} / {verdict.en}", props=props,
        target=common.FindingTarget(type=common.FindingTargetTypeValidValues.objective_id, target_id=verdict.id,
                                    status=status, title=verdict.id),
        related_observations=[common.RelatedObservation(observation_uuid=o.uuid) for o in observations] or None,
        remarks=f"to pass: {verdict.to_pass}" if verdict.to_pass else None)


def assessment_results(run: dict[str, Any], verdicts: list[RequirementVerdict],
                       controls: dict[str, list[str]]) -> ar.AssessmentResults:
    started, ended = _when(run["started"]), _when(run["ended"])
    observations: list[ar.Observation] = []
    findings: list[common.Finding] = []
    for verdict in verdicts:
        mine = [_observation(run["id"], verdict.id, i, item, ended) for i, item in enumerate(verdict.evidence)]
        mine += [_attested(run["id"], verdict.id, a, ended) for a in verdict.attestations]
        observations += mine
        findings.append(_finding(run["id"], verdict, mine, controls.get(verdict.id, [])))
    result = ar.Result(
        uuid=_uuid(run["id"], "result"), title=f"Resilience evidence run {run['id']} on stack {run['stack']}",
        description="Every requirement of the internet-hospital catalogue, judged from this run's artefacts",
        start=started, end=ended, props=[_prop("stack", run["stack"]),
                                         _prop("signer-fingerprint", run["signer"]["fingerprint"] or "unsigned")],
        reviewed_controls=common.ReviewedControls(control_selections=[common.ControlSelections(
            include_controls=[common.SelectControlById(control_id=v.id) for v in verdicts])]),
        observations=observations or None, findings=findings or None)
    metadata = common.Metadata(title=f"互联网医院韧性测评 Internet-hospital resilience assessment {run['id']}",
                               last_modified=ended, version=str(run.get("project_commit", "unknown")),
                               oscal_version=OSCAL_VERSION)
    return ar.AssessmentResults(
        uuid=_uuid(run["id"], "assessment-results"), metadata=metadata,
        import_ap=ar.ImportAp(href="../evidence.json", remarks="No separate assessment plan: the plan is the "
                              "requirement catalogue shipped with the harness, as listed in evidence.json"),
        results=[result])


def write_oscal(run_dir: Path, run: dict[str, Any], verdicts: list[RequirementVerdict],
                controls: dict[str, list[str]]) -> str:
    document = assessment_results(run, verdicts, controls)
    path = run_dir / FILE
    path.parent.mkdir(exist_ok=True)
    document.oscal_write(path)
    return FILE

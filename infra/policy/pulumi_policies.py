"""The rules as pulumi-policy policies; ``pack/__main__.py`` serves them to the Pulumi CLI."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from infra.policy.rules import check, rule_requirements, subjects_from

PACK_NAME = "ihh-compliance"
ENFORCEMENT = EnforcementLevel.MANDATORY


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Report every violation against the resource it concerns, requirement ID first."""
    for violation in check(subjects_from(args.resources)):
        report_violation(f"{violation.requirement}: {violation.rule}", violation.urn)


POLICIES = [
    StackValidationPolicy(
        name="ihh-requirements",
        description=f"Topology rules of the requirement catalogue ({', '.join(rule_requirements())}).",
        validate=validate,
        enforcement_level=ENFORCEMENT,
    )
]

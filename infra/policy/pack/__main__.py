"""Policy pack for users with the Pulumi CLI: `pulumi up --policy-pack infra/policy/pack`.

It runs the same rules the offline executor runs before it applies anything.
"""

from pulumi_policy import EnforcementLevel, PolicyPack, ReportViolation, StackValidationArgs, StackValidationPolicy

from infra.policy.rules import check, subjects_from


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for violation in check(subjects_from(args.resources)):
        report_violation(f"{violation.requirement}: {violation.rule}", violation.urn)


PolicyPack(
    name="ihh-compliance",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        StackValidationPolicy(
            name="ihh-requirements",
            description="Topology rules of the requirement catalogue (GD-1.2.3a/b/c, GD-1.2.4, GD-1.2.5, "
            "EH-2.2.1, EH-2.2.3, EH-1.2.3, TM-5.2).",
            validate=validate,
        )
    ],
)

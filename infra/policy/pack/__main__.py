"""Policy pack for users with the Pulumi CLI: `pulumi up --policy-pack infra/policy/pack`.

It serves the same rules the offline executor checks before it applies anything.
"""

from pulumi_policy import PolicyPack

from infra.policy.pulumi_policies import ENFORCEMENT, PACK_NAME, POLICIES

PolicyPack(name=PACK_NAME, enforcement_level=ENFORCEMENT, policies=POLICIES)

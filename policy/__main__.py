"""The gke-aci policy pack; Pulumi runs it from this folder (`pulumi preview --policy-pack policy`).

Building the PolicyPack starts the analyzer's gRPC server and blocks, so it happens only here;
the policies themselves live in policies.py, importable and unit-tested (tests/test_policy.py).
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from policies import ALL_POLICIES

PolicyPack(
    name="gke-aci-security",
    policies=list(ALL_POLICIES),
    enforcement_level=EnforcementLevel.MANDATORY,
)

"""The gke-aci policy pack; Pulumi runs it from this folder (`pulumi preview --policy-pack policy`).

Building the PolicyPack starts the analyzer's gRPC server and blocks, so it happens only here;
the policies themselves live in policies.py, importable and unit-tested (tests/test_policy.py).
"""

import sys
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyPack

# The pack reads the project's dependency-free core (the ACI rules, the resource types) from the
# checkout it lives in (docs/decisions/0020-core-package.md).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from policies import ALL_POLICIES

PolicyPack(
    name="gke-aci-security",
    policies=list(ALL_POLICIES),
    enforcement_level=EnforcementLevel.MANDATORY,
)

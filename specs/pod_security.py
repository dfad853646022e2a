"""How the stack's own pods run where Kubernetes enforces it: no root, no capability, read-only.

One place for the hardening the connector, the node guard, the entry proxy and the app's
replicas share. ACI ignores ``securityContext`` (azure-aci maps none of it), so on the virtual
node it is neither enforced nor refused; on GKE nodes it is enforced.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

# distroless's "nonroot" user, which the connector's, the entry proxy's (Envoy distroless) and
# the node guard's processes run as; any non-zero id would do for them.
DISTROLESS_NONROOT = 65532


def pod_security(user: int | None) -> k8s.core.v1.PodSecurityContextArgsDict:
    """The runtime's default seccomp profile, and ``user`` (and its group) when it is known."""
    security: k8s.core.v1.PodSecurityContextArgsDict = {
        "seccomp_profile": {"type": "RuntimeDefault"}
    }
    if user is not None:
        security.update(run_as_non_root=True, run_as_user=user, run_as_group=user, fs_group=user)
    return security


def container_security(*, read_only_root: bool = True) -> k8s.core.v1.SecurityContextArgsDict:
    """No privilege, no escalation, no capability; a read-only root file system when it can be."""
    return {
        "allow_privilege_escalation": False,
        "privileged": False,
        "read_only_root_filesystem": read_only_root,
        "capabilities": {"drop": ["ALL"]},
    }

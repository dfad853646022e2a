"""The shape shared by the stack's small API clients on GKE: the node guard and the approver.

Each runs one process that calls the Kubernetes API with a token of its own, one replica at a
time, from a script mounted from a ConfigMap, and is called by nobody.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

# The mounted script: readable by the pod's user and group, writable by none.
SCRIPT_MODE = 0o440


def role_ref(kind: str, name: pulumi.Input[str]) -> k8s.rbac.v1.RoleRefArgsDict:
    """A binding's reference to a ``Role`` or ``ClusterRole`` by name."""
    return {"api_group": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def one_at_a_time(
    pod_labels: dict[str, str],
    service_account: pulumi.Input[str],
    pod_security: k8s.core.v1.PodSecurityContextArgsDict,
    container: k8s.core.v1.ContainerArgsDict,
    script: tuple[str, pulumi.Input[str]],
) -> k8s.apps.v1.DeploymentSpecArgsDict:
    """One replica, replaced rather than rolled (two would act twice), with its own token and
    ``script`` (volume name, ConfigMap name) mounted read-only."""
    volume, config_map = script
    return {
        "replicas": 1,
        "strategy": {"type": "Recreate"},
        "selector": {"match_labels": pod_labels},
        "template": {
            "metadata": {"labels": pod_labels},
            "spec": {
                "service_account_name": service_account,
                "automount_service_account_token": True,
                "security_context": pod_security,
                "containers": [container],
                "volumes": [
                    {
                        "name": volume,
                        "config_map": {"name": config_map, "default_mode": SCRIPT_MODE},
                    }
                ],
            },
        },
    }


def no_ingress(pod_labels: dict[str, str]) -> k8s.networking.v1.NetworkPolicySpecArgsDict:
    """Nothing may call these pods: the kubelet's probes from their own node pass regardless."""
    return {
        "pod_selector": {"match_labels": pod_labels},
        "policy_types": ["Ingress"],
        "ingress": [],
    }

"""The shape shared by the node guard and the approver (specs/api_client_pod.py)."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from specs.api_client_pod import SCRIPT_MODE, no_ingress, one_at_a_time, role_ref


def test_one_replica_replaced_not_rolled_with_its_script_read_only() -> None:
    labels = {"app": "x"}
    container: k8s.core.v1.ContainerArgsDict = {"name": "x", "image": "i"}
    assert one_at_a_time(labels, "x-account", {}, container, ("s", "cm")) == {
        "replicas": 1,
        "strategy": {"type": "Recreate"},
        "selector": {"match_labels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "service_account_name": "x-account",
                "automount_service_account_token": True,
                "security_context": {},
                "containers": [container],
                "volumes": [
                    {"name": "s", "config_map": {"name": "cm", "default_mode": SCRIPT_MODE}}
                ],
            },
        },
    }
    assert SCRIPT_MODE & 0o222 == 0  # nobody may write the script


def test_nothing_may_call_the_pods_and_roles_are_referenced_by_kind() -> None:
    assert no_ingress({"app": "x"}) == {
        "pod_selector": {"match_labels": {"app": "x"}},
        "policy_types": ["Ingress"],
        "ingress": [],
    }
    assert role_ref("Role", "r") == {
        "api_group": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "r",
    }

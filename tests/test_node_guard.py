"""The node guard's objects in the program, under the fake cloud: the script it ships, its own
service account with the rights it calls and no more, and its Deployment beside the connector's
(the process itself: tests/test_node_guard_process.py).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fake_cloud import UNKNOWN, Deployment, Registration, reveal, run_program

from components.node_guard import HEALTH_PORT, SCRIPT
from settings import DEFAULT_NODE_GUARD_IMAGE

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
CLUSTER_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
GUARD = "aci-connector-node-guard"
RESTART = f"{GUARD}-restart"
CONNECTOR = "aci-connector"


@pytest.fixture
def stack() -> Deployment:
    return run_program()


def pod_spec(stack: Deployment, name: str = GUARD) -> dict[str, Any]:
    return reveal(stack.one(DEPLOYMENT, name).inputs["spec"])["template"]["spec"]


def guard_container(stack: Deployment) -> dict[str, Any]:
    [container] = pod_spec(stack)["containers"]
    return container


def output(registration: Registration, name: str) -> Any:
    return reveal(registration.outputs[name])


def account_subject(stack: Deployment, name: str) -> dict[str, str]:
    metadata = reveal(stack.one(SERVICE_ACCOUNT, name).inputs["metadata"])
    return {"kind": "ServiceAccount", "name": metadata["name"], "namespace": metadata["namespace"]}


def test_the_guard_may_only_get_and_patch_the_virtual_node(stack: Deployment) -> None:
    role = stack.one(CLUSTER_ROLE, GUARD)
    assert role.inputs["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["nodes"],
            "resourceNames": ["aci-connector"],
            "verbs": ["get", "patch"],
        }
    ]
    binding = stack.one(CLUSTER_BINDING, GUARD).inputs
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": output(role, "metadata")["name"],
    }
    assert binding["subjects"] == [account_subject(stack, GUARD)]


def test_the_guard_may_only_restart_the_connectors_deployment_in_its_namespace(
    stack: Deployment,
) -> None:
    role = stack.one(ROLE, RESTART)
    assert reveal(role.inputs["metadata"])["namespace"] == "aci-connector"
    connector_name = output(stack.one(DEPLOYMENT, CONNECTOR), "metadata")["name"]
    assert reveal(role.inputs["rules"]) == [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "resourceNames": [connector_name],
            "verbs": ["patch"],
        }
    ]
    binding = reveal(stack.one(ROLE_BINDING, RESTART).inputs)
    assert binding["metadata"]["namespace"] == "aci-connector"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": output(role, "metadata")["name"],
    }
    assert binding["subjects"] == [account_subject(stack, GUARD)]


def test_the_guard_runs_under_its_own_account_and_the_connector_under_its_own(
    stack: Deployment,
) -> None:
    guard, connector = account_subject(stack, GUARD), account_subject(stack, CONNECTOR)
    assert guard["name"] != connector["name"]
    assert pod_spec(stack)["serviceAccountName"] == guard["name"]
    assert pod_spec(stack, CONNECTOR)["serviceAccountName"] == connector["name"]
    # A pod mounts its own account's token in each of its containers: one container each, so
    # the guard's container holds no token of the connector's and the connector's none of its.
    assert [c["name"] for c in pod_spec(stack)["containers"]] == ["node-guard"]
    assert [c["name"] for c in pod_spec(stack, CONNECTOR)["containers"]] == ["virtual-kubelet"]
    # Neither account hands a token to pods that do not ask for one.
    for name in (GUARD, CONNECTOR):
        assert stack.one(SERVICE_ACCOUNT, name).inputs["automountServiceAccountToken"] is False
    # The guard's pod starts only once its rights exist.
    deployment = stack.one(DEPLOYMENT, GUARD)
    for binding in (stack.one(CLUSTER_BINDING, GUARD), stack.one(ROLE_BINDING, RESTART)):
        assert binding.urn in deployment.dependencies


def test_the_role_follows_the_virtual_node_name() -> None:
    stack = run_program({"gke-aci:virtualNodeName": "burst-node"})
    [rule] = stack.one(CLUSTER_ROLE, GUARD).inputs["rules"]
    assert rule["resourceNames"] == ["burst-node"]
    assert {"name": "NODE_NAME", "value": "burst-node"} in guard_container(stack)["env"]


def test_the_pod_runs_the_very_script_in_the_repository(stack: Deployment) -> None:
    script = stack.one(CONFIG_MAP, GUARD)
    assert script.inputs["data"] == {"node_guard.py": SCRIPT.read_text()}
    assert script.inputs["immutable"] is True
    assert script.inputs["metadata"]["namespace"] == "aci-connector"
    [volume] = pod_spec(stack)["volumes"]
    assert volume == {
        "name": "node-guard",
        "configMap": {"name": output(script, "metadata")["name"], "defaultMode": 0o440},
    }
    guard = guard_container(stack)
    [mount] = guard["volumeMounts"]
    assert mount == {"name": "node-guard", "mountPath": "/opt/node-guard", "readOnly": True}
    assert guard["command"] == ["python", "-I", "-B", "/opt/node-guard/node_guard.py"]


def test_the_guard_is_told_its_node_and_the_connector_to_restart_and_nothing_secret(
    stack: Deployment,
) -> None:
    connector_name = output(stack.one(DEPLOYMENT, CONNECTOR), "metadata")["name"]
    assert guard_container(stack)["env"] == [
        {"name": "NODE_NAME", "value": "aci-connector"},
        {"name": "CONNECTOR_NAMESPACE", "value": "aci-connector"},
        {"name": "CONNECTOR_DEPLOYMENT", "value": connector_name},
        {"name": "NODE_GUARD_HEALTH_PORT", "value": str(HEALTH_PORT)},
    ]
    # It names the connector's Deployment by its output, so it starts once the connector is up.
    guard = stack.one(DEPLOYMENT, GUARD)
    assert stack.one(DEPLOYMENT, CONNECTOR).urn in guard.all_dependencies()


def test_the_guard_is_hardened_like_the_connector(stack: Deployment) -> None:
    guard = guard_container(stack)
    [connector] = pod_spec(stack, CONNECTOR)["containers"]
    assert (
        guard["securityContext"]
        == connector["securityContext"]
        == {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
    )
    pod = pod_spec(stack)["securityContext"]
    assert pod == pod_spec(stack, CONNECTOR)["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert guard["resources"]["requests"] == guard["resources"]["limits"]
    assert guard["resources"]["limits"] == {"cpu": "50m", "memory": "64Mi"}


def test_the_probes_ask_the_guard_whether_it_runs_and_the_node_is_guarded(
    stack: Deployment,
) -> None:
    guard = guard_container(stack)
    assert guard["ports"] == [
        {"name": "guard-health", "containerPort": HEALTH_PORT, "protocol": "TCP"}
    ]
    assert guard["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": HEALTH_PORT}
    assert guard["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": HEALTH_PORT}
    # Nothing reaches the guard's pod but the kubelet on its own node.
    policy = reveal(stack.one(POLICY, GUARD).inputs)
    pod_labels = reveal(stack.one(DEPLOYMENT, GUARD).inputs["spec"])["template"]["metadata"]
    assert policy["spec"] == {
        "podSelector": {"matchLabels": pod_labels["labels"]},
        "policyTypes": ["Ingress"],
        "ingress": [],
    }
    assert policy["metadata"]["namespace"] == "aci-connector"


def test_one_guard_at_a_time_apart_from_the_connector(stack: Deployment) -> None:
    spec = reveal(stack.one(DEPLOYMENT, GUARD).inputs["spec"])
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"] == {"matchLabels": labels}
    # Neither Deployment's selector takes the other's pods.
    connector = reveal(stack.one(DEPLOYMENT, CONNECTOR).inputs["spec"])
    connector_labels = connector["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "node-guard"
    assert connector_labels["app.kubernetes.io/component"] == "virtual-kubelet"


def test_the_virtual_node_name_waits_for_the_guard(stack: Deployment) -> None:
    """The app is placed on the node only once the guard is ready: the node is guarded."""
    guard = stack.one(DEPLOYMENT, GUARD).urn
    [web] = [r for r in stack.registrations if r.type == "kubernetes:core/v1:Pod"]
    assert guard in stack.transitive_dependencies(web)


def test_the_image_is_a_setting_pulled_once_per_node(stack: Deployment) -> None:
    guard = guard_container(stack)
    assert guard["image"] == DEFAULT_NODE_GUARD_IMAGE
    # An exact release of the official image (x.y.z), never a floating tag such as 3-slim.
    assert re.fullmatch(
        r"docker\.io/library/python:\d+\.\d+\.\d+-slim-\w+", DEFAULT_NODE_GUARD_IMAGE
    )
    # A restart, which is how the virtual node heals, never waits on Docker Hub.
    assert guard["imagePullPolicy"] == "IfNotPresent"
    annotations = stack.one(DEPLOYMENT, GUARD).inputs["metadata"]["annotations"]
    skipped = sorted(v.partition("=")[0] for v in annotations.values())
    assert skipped == ["CKV_K8S_15", "CKV_K8S_38", "CKV_K8S_43"]


def test_an_image_pinned_by_digest_is_run_as_named_with_no_scan_skip_for_it() -> None:
    image = "registry.example.com/python:3.14.7-slim-trixie@sha256:" + "ab" * 32
    pinned = run_program({"gke-aci:nodeGuardImage": image})
    assert guard_container(pinned)["image"] == image
    annotations = pinned.one(DEPLOYMENT, GUARD).inputs["metadata"]["annotations"]
    assert [v.partition("=")[0] for v in annotations.values()] == ["CKV_K8S_38"]


def test_the_connectors_scan_skip_names_only_its_own_image(stack: Deployment) -> None:
    annotations = stack.one(DEPLOYMENT, CONNECTOR).inputs["metadata"]["annotations"]
    [digest_skip] = [v for v in annotations.values() if v.startswith("CKV_K8S_43=")]
    assert "connectorImage" in digest_skip
    assert "nodeGuardImage" not in digest_skip


def test_a_first_preview_plans_the_guard_with_unknown_names() -> None:
    preview = run_program(preview=True)
    [volume] = pod_spec(preview)["volumes"]
    assert volume["configMap"]["name"] == UNKNOWN
    assert guard_container(preview)["image"] == DEFAULT_NODE_GUARD_IMAGE
    assert preview.one(CLUSTER_ROLE, GUARD).inputs["rules"][0]["resourceNames"] == ["aci-connector"]
    [rule] = reveal(preview.one(ROLE, RESTART).inputs["rules"])
    assert rule["verbs"] == ["patch"]
    # The connector's Deployment's name, not known before it is created.
    assert rule["resourceNames"] == [UNKNOWN]

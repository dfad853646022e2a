"""The node guard's objects in the program, under the fake cloud: the script it ships, the one
node it may touch, and its container beside the connector (the process itself:
tests/test_node_guard_process.py).
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
CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
GUARD = "aci-connector-node-guard"


@pytest.fixture(scope="module")
def stack() -> Deployment:
    return run_program()


def pod_spec(stack: Deployment) -> dict[str, Any]:
    return reveal(stack.one(DEPLOYMENT).inputs["spec"])["template"]["spec"]


def containers(stack: Deployment) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in pod_spec(stack)["containers"]}


def output(registration: Registration, name: str) -> Any:
    return reveal(registration.outputs[name])


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
    binding = stack.one(BINDING, GUARD).inputs
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": output(role, "metadata")["name"],
    }
    # Bound to the pod's one service account, the connector's.
    account = stack.one("kubernetes:core/v1:ServiceAccount")
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": output(account, "metadata")["name"],
            "namespace": "aci-connector",
        }
    ]
    assert pod_spec(stack)["serviceAccountName"] == output(account, "metadata")["name"]
    # The pod starts only once the permission exists.
    assert stack.one(BINDING, GUARD).urn in stack.one(DEPLOYMENT).dependencies


def test_the_role_follows_the_virtual_node_name() -> None:
    stack = run_program({"gke-aci:virtualNodeName": "burst-node"})
    [rule] = stack.one(CLUSTER_ROLE, GUARD).inputs["rules"]
    assert rule["resourceNames"] == ["burst-node"]
    guard = containers(stack)["node-guard"]
    assert {"name": "NODE_NAME", "value": "burst-node"} in guard["env"]


def test_the_pod_runs_the_very_script_in_the_repository(stack: Deployment) -> None:
    script = stack.one(CONFIG_MAP, GUARD)
    assert script.inputs["data"] == {"node_guard.py": SCRIPT.read_text()}
    assert script.inputs["immutable"] is True
    assert script.inputs["metadata"]["namespace"] == "aci-connector"
    [volume] = [v for v in pod_spec(stack)["volumes"] if v["name"] == "node-guard"]
    assert volume["configMap"]["name"] == output(script, "metadata")["name"]
    guard = containers(stack)["node-guard"]
    [mount] = guard["volumeMounts"]
    assert mount == {"name": "node-guard", "mountPath": "/opt/node-guard", "readOnly": True}
    assert guard["command"] == ["python", "-I", "-B", "/opt/node-guard/node_guard.py"]


def test_the_guard_is_hardened_like_the_connector(stack: Deployment) -> None:
    by_name = containers(stack)
    guard, connector = by_name["node-guard"], by_name["virtual-kubelet"]
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
    # Non-root with the RuntimeDefault seccomp profile for the whole pod.
    pod = pod_spec(stack)["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert guard["resources"]["requests"] == guard["resources"]["limits"]
    assert guard["resources"]["limits"] == {"cpu": "50m", "memory": "64Mi"}
    assert guard["imagePullPolicy"] == "Always"
    # No secret reaches its environment; the API token comes from the pod's mount.
    assert guard["env"] == [
        {"name": "NODE_NAME", "value": "aci-connector"},
        {"name": "NODE_GUARD_HEALTH_PORT", "value": str(HEALTH_PORT)},
    ]


def test_the_probes_ask_the_guard_whether_it_runs_and_the_node_is_guarded(
    stack: Deployment,
) -> None:
    guard = containers(stack)["node-guard"]
    assert guard["ports"] == [
        {"name": "guard-health", "containerPort": HEALTH_PORT, "protocol": "TCP"}
    ]
    assert guard["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": HEALTH_PORT}
    assert guard["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": HEALTH_PORT}
    # Nothing but the kubelet on the pod's own node reaches the health port.
    policy = stack.one("kubernetes:networking.k8s.io/v1:NetworkPolicy").inputs["spec"]
    assert [port for rule in policy["ingress"] for port in rule["ports"]] == [
        {"protocol": "TCP", "port": 10250}
    ]


def test_one_connector_and_one_guard_at_a_time(stack: Deployment) -> None:
    spec = reveal(stack.one(DEPLOYMENT).inputs["spec"])
    # A rollout (a rotated credential, a new script) stops the old pod before the new one starts.
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert list(containers(stack)) == ["virtual-kubelet", "node-guard"]


def test_the_image_is_a_setting_with_an_exact_default(stack: Deployment) -> None:
    assert containers(stack)["node-guard"]["image"] == DEFAULT_NODE_GUARD_IMAGE
    # An exact release of the official image (x.y.z), never a floating tag such as 3-slim.
    assert re.fullmatch(
        r"docker\.io/library/python:\d+\.\d+\.\d+-slim-\w+", DEFAULT_NODE_GUARD_IMAGE
    )
    pinned = run_program({"gke-aci:nodeGuardImage": "registry.example.com/python:3.12-slim"})
    assert containers(pinned)["node-guard"]["image"] == "registry.example.com/python:3.12-slim"


def test_the_checkov_skips_name_both_images(stack: Deployment) -> None:
    annotations = stack.one(DEPLOYMENT).inputs["metadata"]["annotations"]
    [digest_skip] = [v for v in annotations.values() if v.startswith("CKV_K8S_43=")]
    assert "connectorImage" in digest_skip
    assert "nodeGuardImage" in digest_skip


def test_a_first_preview_plans_the_guard_with_its_script_name_unknown() -> None:
    preview = run_program(preview=True)
    [volume] = [v for v in pod_spec(preview)["volumes"] if v["name"] == "node-guard"]
    assert volume["configMap"]["name"] == UNKNOWN
    guard = containers(preview)["node-guard"]
    assert guard["image"] == DEFAULT_NODE_GUARD_IMAGE
    assert preview.one(CLUSTER_ROLE, GUARD).inputs["rules"][0]["resourceNames"] == ["aci-connector"]

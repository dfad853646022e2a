"""The ACI connector's contracts, asserted whole: its Kubernetes permissions, its rollout, and how
its credentials are mounted.

The expected permissions are written here from upstream, not read from components/aci_connector.py,
so that a verb dropped from a rule the connector needs, or a verb added that it does not, fails.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from fake_cloud import Deployment, Registration, reveal, run_program

from settings import DEFAULT_KUBELET_SERVING_IMAGE
from specs.connector_pod import SCRIPT

CLUSTER_ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
CLUSTER_ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

Grant = tuple[str, str, tuple[str, ...]]
"""(API group, resource, resourceNames); () means every object of that resource."""

# What the connector calls, cluster-wide: the ClusterRole that virtual-kubelet v1.11.0 ships for
# itself (hack/skaffold/virtual-kubelet/base.yml), which the azure-aci v1.6.4 provider runs on:
# informers on pods, secrets, config maps and services (node/nodeutil/controller.go); pod
# deletes and status updates (node/pod.go); node create, get and status patch (node/node.go);
# events from its recorder (node/nodeutil/controller.go).
CLUSTER_GRANTS: dict[Grant, set[str]] = {
    ("", "configmaps", ()): {"get", "list", "watch"},
    ("", "secrets", ()): {"get", "list", "watch"},
    ("", "services", ()): {"get", "list", "watch"},
    ("", "pods", ()): {"get", "list", "watch", "delete", "patch"},
    ("", "pods/status", ()): {"update", "patch"},
    ("", "nodes", ()): {"create", "get"},
    ("", "nodes/status", ()): {"update", "patch"},
    ("", "events", ()): {"create", "patch"},
    # The pod's serving-certificate step (kubelet_serving/kubelet_serving.py `request`): it
    # creates its CertificateSigningRequest and reads it back until the certificate is there.
    ("certificates.k8s.io", "certificatesigningrequests", ()): {"create", "get"},
}
# The node guard (node_guard/node_guard.py), under an account of its own: reads and patches its
# own node, and only that one (the virtual node's providerID and label;
# docs/decisions/0010-node-guard.md), and restarts the connector's Deployment, and only that one,
# in its namespace (docs/decisions/0017-virtual-node-self-healing.md).
GUARD_GRANTS: dict[Grant, set[str]] = {
    ("", "nodes", ("aci-connector",)): {"get", "patch"},
}
NAMESPACE = "aci-connector"
GUARD_RESTART_GRANTS: dict[Grant, set[str]] = {
    ("apps", "deployments", ("aci-connector",)): {"patch"},
}
# The approver (kubelet_serving/kubelet_serving.py `approve`), under an account of its own:
# lists requests and approves or denies them for the kubelet-serving signer alone (kubernetes
# plugin/pkg/admission/certificates/approval: `approve` on `signers`, named by the signer), and
# reads the pod a request names, in the connector's namespace.
APPROVER_GRANTS: dict[Grant, set[str]] = {
    ("certificates.k8s.io", "certificatesigningrequests", ()): {"list"},
    ("certificates.k8s.io", "certificatesigningrequests/approval", ()): {"update"},
    ("certificates.k8s.io", "signers", ("kubernetes.io/kubelet-serving",)): {"approve"},
}
# Renewal: it lists the connector's pods and restarts the connector's Deployment, that one alone.
APPROVER_POD_GRANTS: dict[Grant, set[str]] = {
    ("", "pods", ()): {"get", "list"},
    ("apps", "deployments", ("aci-connector",)): {"patch"},
}
# Its node lease heartbeat (node/lease_controller_v1.go: get, create, update), only in the
# namespace where node leases live.
LEASE_NAMESPACE = "kube-node-lease"
LEASE_GRANTS: dict[Grant, set[str]] = {
    ("coordination.k8s.io", "leases", ()): {"get", "create", "update"},
}
# Every right of each identity, by where it holds ("" for the whole cluster): what it may do and
# nothing else.
RIGHTS = {
    "aci-connector": {"": CLUSTER_GRANTS, LEASE_NAMESPACE: LEASE_GRANTS},
    "aci-connector-node-guard": {"": GUARD_GRANTS, NAMESPACE: GUARD_RESTART_GRANTS},
    "aci-connector-approver": {"": APPROVER_GRANTS, NAMESPACE: APPROVER_POD_GRANTS},
}


@pytest.fixture
def stack() -> Deployment:
    return run_program()


@pytest.fixture(params=[False, True], ids=["update", "first-preview"])
def either_stack(request: pytest.FixtureRequest) -> Deployment:
    """The rules are literals: the same on a first preview, where every cloud value is unknown."""
    return run_program(preview=request.param)


def grants(rules: Iterable[dict[str, Any]]) -> dict[Grant, set[str]]:
    """Rules as {(group, resource, names): verbs}, however the rules group them."""
    found: dict[Grant, set[str]] = {}
    for rule in rules:
        assert set(rule) <= {"apiGroups", "resources", "verbs", "resourceNames"}, rule
        names = tuple(sorted(rule.get("resourceNames", [])))
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                found.setdefault((group, resource, names), set()).update(rule["verbs"])
    return found


def name_of(registration: Registration) -> str:
    return reveal(registration.inputs["metadata"])["name"]


def subject_of(stack: Deployment, name: str) -> dict[str, str]:
    account = stack.one(SERVICE_ACCOUNT, name)
    metadata = reveal(account.inputs["metadata"])
    return {"kind": "ServiceAccount", "name": metadata["name"], "namespace": metadata["namespace"]}


def connector_pod_spec(stack: Deployment) -> dict[str, Any]:
    return reveal(stack.one(DEPLOYMENT, "aci-connector").inputs["spec"])["template"]["spec"]


def rights_of(stack: Deployment, subject: dict[str, str]) -> dict[str, dict[Grant, set[str]]]:
    """Every grant bound to ``subject``, by namespace ("" for cluster-wide)."""
    roles = {
        (kind, reveal(r.inputs["metadata"]).get("namespace", ""), name_of(r)): r
        for kind, typ in (("ClusterRole", CLUSTER_ROLE), ("Role", ROLE))
        for r in stack.of_type(typ)
    }
    rights: dict[str, dict[Grant, set[str]]] = {}
    for typ in (CLUSTER_ROLE_BINDING, ROLE_BINDING):
        for binding in stack.of_type(typ):
            inputs = reveal(binding.inputs)
            if subject not in inputs["subjects"]:
                continue
            assert inputs["subjects"] == [subject], "one subject per binding"
            namespace = inputs["metadata"].get("namespace", "")
            ref = inputs["roleRef"]
            assert ref["apiGroup"] == "rbac.authorization.k8s.io"
            role_namespace = "" if ref["kind"] == "ClusterRole" else namespace
            role = roles[(ref["kind"], role_namespace, ref["name"])]
            held = rights.setdefault(namespace, {})
            for grant, verbs in grants(reveal(role.inputs["rules"])).items():
                held.setdefault(grant, set()).update(verbs)
    return rights


# --- Kubernetes permissions ---------------------------------------------------------------------


def test_the_cluster_roles_grant_exactly_what_the_connector_and_its_guard_call(
    either_stack: Deployment,
) -> None:
    roles = {
        name_of(role): grants(reveal(role.inputs["rules"]))
        for role in either_stack.of_type(CLUSTER_ROLE)
    }
    assert roles == {
        "aci-connector": CLUSTER_GRANTS,
        "aci-connector-node-guard": GUARD_GRANTS,
        "kubelet-serving-approver": APPROVER_GRANTS,
    }


def test_namespaced_rights_are_leases_in_the_lease_namespace_and_the_guards_restart(
    either_stack: Deployment,
) -> None:
    found = {role.name: reveal(role.inputs) for role in either_stack.of_type(ROLE)}
    assert set(found) == {
        "aci-connector-leases",
        "aci-connector-node-guard-restart",
        "aci-connector-approver-pods",
    }
    leases = found["aci-connector-leases"]
    assert leases["metadata"]["namespace"] == LEASE_NAMESPACE
    assert grants(leases["rules"]) == LEASE_GRANTS
    # The guard's, in the connector's namespace (unknown on a first preview; held exactly by
    # test_each_identity_holds_exactly_its_own_rights).
    [rule] = found["aci-connector-node-guard-restart"]["rules"]
    assert (rule["apiGroups"], rule["resources"], rule["verbs"]) == (
        ["apps"],
        ["deployments"],
        ["patch"],
    )
    assert len(rule["resourceNames"]) == 1


@pytest.mark.parametrize("account", sorted(RIGHTS))
def test_each_identity_holds_exactly_its_own_rights(stack: Deployment, account: str) -> None:
    assert rights_of(stack, subject_of(stack, account)) == RIGHTS[account]


def test_every_binding_binds_one_of_the_three_identities(stack: Deployment) -> None:
    subjects = [subject_of(stack, name) for name in RIGHTS]
    bindings = [*stack.of_type(CLUSTER_ROLE_BINDING), *stack.of_type(ROLE_BINDING)]
    assert len(bindings) == 6
    for binding in bindings:
        [subject] = reveal(binding.inputs)["subjects"]
        assert subject in subjects, binding.name


def test_each_pod_runs_as_its_own_identity_in_the_connectors_namespace(stack: Deployment) -> None:
    for account in RIGHTS:
        subject = subject_of(stack, account)
        spec = reveal(stack.one(DEPLOYMENT, account).inputs["spec"])["template"]["spec"]
        assert spec["serviceAccountName"] == subject["name"]
        deployment_namespace = reveal(stack.one(DEPLOYMENT, account).inputs["metadata"])[
            "namespace"
        ]
        assert deployment_namespace == subject["namespace"] == NAMESPACE
    assert len({str(subject_of(stack, account)) for account in RIGHTS}) == len(RIGHTS)


def test_the_deployments_wait_for_their_permissions(stack: Deployment) -> None:
    for account in RIGHTS:
        deployment = stack.one(DEPLOYMENT, account)
        subject = subject_of(stack, account)
        bindings = [
            b
            for typ in (CLUSTER_ROLE_BINDING, ROLE_BINDING)
            for b in stack.of_type(typ)
            if reveal(b.inputs)["subjects"] == [subject]
        ]
        assert len(bindings) == 2
        for binding in bindings:
            assert binding.urn in deployment.all_dependencies(), binding.name


# --- rollout ----------------------------------------------------------------------------------


def test_one_connector_at_a_time_even_during_an_update(stack: Deployment) -> None:
    """Two connectors registering the same node at once fight over it and its pods."""
    spec = reveal(stack.one(DEPLOYMENT, "aci-connector").inputs["spec"])
    assert spec["replicas"] == 1
    # Recreate stops the old pod before the new one starts; RollingUpdate would overlap them.
    assert spec["strategy"] == {"type": "Recreate"}
    assert {d.name for d in stack.of_type(DEPLOYMENT)} == {
        "aci-connector",
        "aci-connector-node-guard",
        "aci-connector-approver",
    }
    # The Deployment owns its pods by their labels, and only its pods.
    labels = spec["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "aci-connector"
    assert spec["selector"] == {"matchLabels": labels}


def quantity(text: str) -> float:
    """A Kubernetes quantity ("100m", "512Mi", "1") as a number."""
    suffixes = {"m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    for suffix in sorted(suffixes, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * suffixes[suffix]
    return float(text)


def test_the_connector_runs_upstreams_binary_and_fits_a_node(stack: Deployment) -> None:
    [connector] = [c for c in connector_pod_spec(stack)["containers"]
                   if c["name"] == "virtual-kubelet"]  # fmt: skip
    # The binary in upstream's image, where azure-aci's Dockerfile installs it.
    assert connector["command"] == ["/usr/bin/virtual-kubelet"]
    # Named by tag (a setting): a tag moved upstream is pulled again.
    assert connector["imagePullPolicy"] == "Always"
    assert connector["ports"] == [{"name": "kubelet", "containerPort": 10250, "protocol": "TCP"}]
    # Requests within limits, limits within one e2-standard-2 node (2 vCPU, 8 GB).
    resources = connector["resources"]
    for kind, most in (("cpu", 2.0), ("memory", 8 * 10**9)):
        request, limit = (quantity(resources[key][kind]) for key in ("requests", "limits"))
        assert 0 < request <= limit <= most, kind


# --- credentials on disk ----------------------------------------------------------------------

# Secret volume -> file mode: read by the owner (root) and by the pod's fsGroup, through which the
# non-root connector reads them; nobody else. (Which Secret each mounts: tests/test_stack.py.)
SECRET_VOLUMES = {"azure-credentials": 0o440}


def test_credentials_are_mounted_read_only_readable_by_the_connectors_group_alone(
    stack: Deployment,
) -> None:
    pod = connector_pod_spec(stack)
    secret_volumes = {v["name"]: v["secret"] for v in pod["volumes"] if "secret" in v}
    assert set(secret_volumes) == set(SECRET_VOLUMES)
    for volume, mode in SECRET_VOLUMES.items():
        source = secret_volumes[volume]
        assert source["defaultMode"] == mode, volume
        assert "items" not in source, volume  # no per-file mode that would override it
    # The group the files are readable by is the connector's own.
    security = pod["securityContext"]
    assert security["fsGroup"] == security["runAsGroup"]
    assert security["runAsUser"] != 0
    [connector] = [c for c in pod["containers"] if c["name"] == "virtual-kubelet"]
    mounted = {m["name"]: m for m in connector["volumeMounts"]}
    for volume in SECRET_VOLUMES:
        assert mounted[volume]["readOnly"] is True, volume


# --- the kubelet serving certificate ----------------------------------------------------------


def test_no_serving_key_is_made_by_the_stack(stack: Deployment) -> None:
    """The key is made in the connector's pod at each start (tests/test_connector_pod.py), so
    none is in the state."""
    assert [r.type for r in stack.registrations if r.type.startswith("tls:")] == []
    secrets = {r.name for r in stack.of_type("kubernetes:core/v1:Secret")}
    assert "aci-connector-azure" in secrets
    assert "aci-connector-kubelet-tls" not in secrets


def test_the_approver_runs_the_connectors_script_with_its_policy(stack: Deployment) -> None:
    approver = reveal(stack.one(DEPLOYMENT, "aci-connector-approver").inputs["spec"])
    spec = approver["template"]["spec"]
    [container] = spec["containers"]
    assert container["image"] == DEFAULT_KUBELET_SERVING_IMAGE
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["command"][-1] == "approve"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "NODE_NAME": "aci-connector",
        "CONNECTOR_NAMESPACE": NAMESPACE,
        "CONNECTOR_SERVICE_ACCOUNT": subject_of(stack, "aci-connector")["name"],
        "CONNECTOR_DEPLOYMENT": "aci-connector",
        "SERVING_CERT_MAX_LIFETIME_SECONDS": str(365 * 24 * 3600),
        "SERVING_CERT_RENEW_AFTER_SECONDS": str(335 * 24 * 3600),
    }
    # The very script the connector's step runs, from the same ConfigMap.
    [step] = connector_pod_spec(stack)["initContainers"]
    assert step["command"][:-1] == container["command"][:-1]
    scripts = {v["name"]: v["configMap"]["name"] for v in spec["volumes"]}
    connector_scripts = {
        v["name"]: v["configMap"]["name"] for v in connector_pod_spec(stack)["volumes"]
        if "configMap" in v
    }  # fmt: skip
    assert scripts == connector_scripts
    script = stack.one("kubernetes:core/v1:ConfigMap", "aci-connector-kubelet-serving")
    assert reveal(script.inputs)["data"] == {SCRIPT.name: SCRIPT.read_text()}
    assert reveal(script.inputs)["immutable"] is True


def test_a_serving_image_pinned_by_digest_runs_as_named_with_no_pull_policy_skip() -> None:
    image = "registry.example.com/python:3.14.7-slim-trixie@sha256:" + "ab" * 32
    pinned = run_program({"gke-aci:kubeletServingImage": image})
    [step] = connector_pod_spec(pinned)["initContainers"]
    assert step["image"] == image
    annotations = pinned.one(DEPLOYMENT, "aci-connector").inputs["metadata"]["annotations"]
    assert sorted(v.partition("=")[0] for v in annotations.values()) == [
        "CKV_K8S_38",
        "CKV_K8S_43",
    ]
    approver = pinned.one(DEPLOYMENT, "aci-connector-approver").inputs
    assert reveal(approver["spec"])["template"]["spec"]["containers"][0]["image"] == image

"""What the stack promises, as verify checks it: the shared contracts in one place.

The program defines these in ``components/`` (tests/test_verify_contract.py pins that both agree);
verify keeps its own copy so that it runs without importing Pulumi, except the virtual node,
which it reads from the dependency-free ACI rules the program and the policy pack share, and the
node guard's marks, which it reads from the guard's own (standard-library) script.
"""

from __future__ import annotations

from node_guard.node_guard import PROVIDER_ID_SCHEME
from node_guard.node_guard import UNMANAGED_LABEL as _GUARD_LABEL
from policy.aci_rules import VIRTUAL_NODE_TAINT as _TAINT
from policy.aci_rules import virtual_node

# The app's namespace, workload and the connector, for stacks deployed before the outputs
# `appNamespace`, `appWorkload`, `connectorNamespace` and `connectorDeployment` existed: the
# single `web` pod of the `aci` mode.
DEFAULT_APP_NAMESPACE = "todo"
DEFAULT_SELECTOR = {"app": "todoapp", "name": "web"}
DEFAULT_CONNECTOR_NAMESPACE = "aci-connector"
DEFAULT_CONNECTOR_DEPLOYMENT = "aci-connector"
# The node guard's own Deployment, in the connector's namespace (components/node_guard.py).
NODE_GUARD_DEPLOYMENT = "aci-connector-node-guard"

POD, DEPLOYMENT = "Pod", "Deployment"
ACI, BURST = "aci", "burst"

# How azure-aci v1.6.4 labels and taints the node it registers: the ACI rules' own model of it
# (policy/aci_rules/placement.py, dependency-free, so verify still needs no Pulumi).
VIRTUAL_NODE_TAINT = (_TAINT.key, _TAINT.value, _TAINT.effect)
# The node guard (node_guard/node_guard.py, standard library only): a
# providerID outside gce:// makes GKE's cloud node-lifecycle controller skip the node instead of
# deleting it; newer cloud-provider-gcp controllers skip nodes with this label.
UNMANAGED_LABEL = (_GUARD_LABEL, "true")
# The reason cloud-provider's node-lifecycle controller records when it deletes a node whose
# instance it cannot find (k8s.io/cloud-provider controllers/nodelifecycle: deleteNodeEvent).
NODE_DELETED_REASON = "DeletingNode"
# GKE's add-on manager reverts edits to objects with this label.
RECONCILED_LABEL = ("addonmanager.kubernetes.io/mode", "Reconcile")

# Our app (app/todo): the header naming the pod and node that answered, and the page's title.
SERVED_BY_HEADER = "X-Served-By"
PAGE_MARKER = "<title>Todos</title>"


def virtual_node_labels(node: str) -> dict[str, str]:
    """The labels azure-aci puts on its node (pkg/provider/vk_node.go ConfigureNode)."""
    return dict(virtual_node(node).labels)


def provider_id(node: str) -> str:
    """The providerID the node guard gives the virtual node."""
    return f"{PROVIDER_ID_SCHEME}{node}"


def container_group_name(namespace: str, pod: str) -> str:
    """azure-aci names a pod's container group ``<namespace>-<pod>`` (pkg/provider/aci.go)."""
    return f"{namespace}-{pod}"


def parse_served_by(value: str) -> dict[str, str]:
    """``pod=<pod>; node=<node>`` as ``{"pod": ..., "node": ...}`` (parts may be missing)."""
    parts: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, name = part.strip().partition("=")
        if sep and key.strip() in ("pod", "node") and name.strip():
            parts[key.strip()] = name.strip()
    return parts

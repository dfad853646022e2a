"""What the stack promises, as verify checks it.

The app's names and labels and the virtual node come from the project's dependency-free core
(``core/``), which the program reads too; the node guard's marks from the guard's own
standard-library script. So verify runs without importing Pulumi and cannot drift from what the
program deploys.
"""

from __future__ import annotations

from core.aci_rules import VIRTUAL_NODE_TAINT as _TAINT
from core.aci_rules import virtual_node
from core.app_contract import NAMESPACE, WEB_LABELS

# Our app's header naming the pod and node that answered, and its page's title.
from core.app_contract import PAGE_MARKER as PAGE_MARKER
from core.app_contract import SERVED_BY_HEADER as SERVED_BY_HEADER
from node_guard.node_guard import PROVIDER_ID_SCHEME
from node_guard.node_guard import UNMANAGED_LABEL as _GUARD_LABEL

# The app's namespace, workload and the connector, for stacks deployed before the outputs
# `appNamespace`, `appWorkload`, `connectorNamespace` and `connectorDeployment` existed: the
# single `web` pod of the `aci` mode.
DEFAULT_APP_NAMESPACE = NAMESPACE
DEFAULT_SELECTOR = WEB_LABELS
DEFAULT_CONNECTOR_NAMESPACE = "aci-connector"
DEFAULT_CONNECTOR_DEPLOYMENT = "aci-connector"
# The node guard's own Deployment, in the connector's namespace (components/node_guard.py).
NODE_GUARD_DEPLOYMENT = "aci-connector-node-guard"

POD, DEPLOYMENT = "Pod", "Deployment"
ACI, BURST = "aci", "burst"

# How azure-aci v1.6.4 labels and taints the node it registers: the ACI rules' own model of it
# (core/aci_rules/placement.py, dependency-free, so verify still needs no Pulumi).
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

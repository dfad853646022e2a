"""Whether the scheduler may place a pod on the ACI virtual node.

The virtual node is what azure-aci v1.6.4 registers: labels from virtual-kubelet v1.11.0
``node/nodeutil/controller.go`` (``type``, ``kubernetes.io/role``, ``kubernetes.io/hostname``) and
azure-aci ``pkg/provider/vk_node.go`` ``ConfigureNode`` 27-36 (the OS, the load-balancer
exclusions, ``kubernetes.azure.com/managed``), and the taint
``virtual-kubelet.io/provider=azure:NoSchedule`` (``cmd/virtual-kubelet/main.go`` 53-55). A pod
lands there when it is bound to the node by name, or when it tolerates the taint and its node
selector and required node affinity match those labels (N1-N3 in ``docs/aci-rules.md``).
A blanket toleration (``operator: Exists`` without a key)
tolerates the taint too, which is how DaemonSets end up on the virtual node (N5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .values import IsUnknown, at, never_unknown

__all__ = [
    "VIRTUAL_NODE_LABEL",
    "VIRTUAL_NODE_TAINT",
    "Node",
    "Taint",
    "may_run_on",
    "tolerates",
    "virtual_node",
]


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str


VIRTUAL_NODE_TAINT = Taint("virtual-kubelet.io/provider", "azure", "NoSchedule")
# The label the stack's pods select the virtual node by.
VIRTUAL_NODE_LABEL = ("type", "virtual-kubelet")


def _connector_labels(name: str) -> dict[str, str]:
    return {
        VIRTUAL_NODE_LABEL[0]: VIRTUAL_NODE_LABEL[1],
        "kubernetes.io/role": "agent",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "beta.kubernetes.io/os": "linux",
        "node.kubernetes.io/exclude-from-external-load-balancers": "true",
        "alpha.service-controller.kubernetes.io/exclude-balancer": "true",
        "kubernetes.azure.com/managed": "false",
    }


@dataclass(frozen=True)
class Node:
    """A node as the scheduler sees it: its name, labels and taints."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()


def virtual_node(name: str) -> Node:
    """The virtual node the connector registers under ``name``."""
    return Node(name, _connector_labels(name), (VIRTUAL_NODE_TAINT,))


def tolerates(tolerations: Any, taint: Taint, is_unknown: IsUnknown = never_unknown) -> bool:
    """Whether one of ``tolerations`` tolerates ``taint`` (Kubernetes ``ToleratesTaint``)."""
    if is_unknown(tolerations):
        return True
    for toleration in tolerations if isinstance(tolerations, list) else []:
        if not isinstance(toleration, Mapping):
            continue
        effect = toleration.get("effect") or ""
        if effect and effect != taint.effect:
            continue
        key = toleration.get("key") or ""
        operator = toleration.get("operator") or "Equal"
        if key and key != taint.key:
            continue
        if operator == "Exists" or (key and toleration.get("value", "") == taint.value):
            return True
    return False


def _expression_matches(expression: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, operator = expression.get("key"), expression.get("operator")
    values = [str(v) for v in expression.get("values") or []]
    present = key in labels
    value = labels.get(str(key))
    if operator == "In":
        return present and value in values
    if operator == "NotIn":
        return not present or value not in values
    if operator == "Exists":
        return present
    if operator == "DoesNotExist":
        return not present
    if operator in ("Gt", "Lt") and present and values:
        try:
            number, bound = int(str(value)), int(values[0])
        except ValueError:
            return False
        return number > bound if operator == "Gt" else number < bound
    return False


def _term_matches(term: Any, node: Node, is_unknown: IsUnknown) -> bool:
    if is_unknown(term):
        return True
    if not isinstance(term, Mapping):
        return False
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches no node (NodeSelectorTerm API reference)
    labels = node.labels
    for expression in expressions:
        if is_unknown(expression) or not isinstance(expression, Mapping):
            continue
        if not _expression_matches(expression, labels):
            return False
    for expression in fields:
        if is_unknown(expression) or not isinstance(expression, Mapping):
            continue
        if expression.get("key") == "metadata.name" and not _expression_matches(
            {**expression, "key": "metadata.name"}, {"metadata.name": node.name}
        ):
            return False
    return True


def may_run_on(
    pod_spec: Mapping[str, Any], node: Node, is_unknown: IsUnknown = never_unknown
) -> bool:
    """Whether a pod with ``pod_spec`` (API form) can end up on ``node``.

    Unknown values (an output of another resource, in a preview) count as matching: the answer
    is "it may", so the pod is held to the ACI rules.
    """
    node_name = pod_spec.get("nodeName")
    if node_name:
        # A pod bound by name bypasses the scheduler, taints included.
        return is_unknown(node_name) or node_name == node.name
    if not all(
        tolerates(pod_spec.get("tolerations"), taint, is_unknown)
        for taint in node.taints
        if taint.effect in ("NoSchedule", "NoExecute")
    ):
        return False
    selector = pod_spec.get("nodeSelector") or {}
    if isinstance(selector, Mapping):
        labels = node.labels
        for key, value in selector.items():
            if not is_unknown(value) and labels.get(key) != value:
                return False
    terms = at(
        pod_spec,
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
    )
    if is_unknown(terms):
        return True
    if isinstance(terms, list) and terms:
        return any(_term_matches(term, node, is_unknown) for term in terms)
    return True

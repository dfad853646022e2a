"""ACI conformance as code: what a pod must meet to run on the ACI virtual node.

One dependency-free package, used in three places (docs/decisions/0007-aci-rules-shared-module.md):
the program checks every pod and pod template it sends to the virtual node before it registers
any resource; the policy pack (``policy/policies.py``) applies the same rules to any workload
that may land there; ``make synth`` reports which workloads may run on ACI and that they
conform.

Objects are Kubernetes objects in API form (camelCase, as ``kubectl`` and the Pulumi engine see
them). Values not known yet (another resource's output in a preview) are passed through an
``is_unknown`` predicate and count as "may be anything": a rule that needs the value is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .checks import DNS_LABEL_ANNOTATION, GROUP_LIMITS, PodContext, Violation, check
from .placement import (
    VIRTUAL_NODE_LABEL,
    VIRTUAL_NODE_TAINT,
    Node,
    Taint,
    may_run_on,
    virtual_node,
)
from .quantities import (
    QuantityError,
    aci_cpu_request,
    aci_memory_request,
    millicores,
    parse_quantity,
    to_bytes,
)
from .values import IsUnknown, at, never_unknown

__all__ = [
    "DNS_LABEL_ANNOTATION",
    "GROUP_LIMITS",
    "POD_SPEC_PATHS",
    "VIRTUAL_NODE_LABEL",
    "VIRTUAL_NODE_TAINT",
    "Node",
    "PodTemplate",
    "QuantityError",
    "Taint",
    "Violation",
    "aci_cpu_request",
    "aci_memory_request",
    "aci_violations",
    "may_run_on",
    "millicores",
    "parse_quantity",
    "pod_template",
    "runs_on_virtual_node",
    "to_bytes",
    "virtual_node",
]


_TEMPLATE = (("spec", "template", "metadata"), ("spec", "template", "spec"))
# Every workload kind that makes pods: its API version, and where it keeps its pod template
# (metadata path, spec path).
POD_SPEC_PATHS: Mapping[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "Pod": ("v1", ("metadata",), ("spec",)),
    "ReplicationController": ("v1", *_TEMPLATE),
    "Deployment": ("apps/v1", *_TEMPLATE),
    "ReplicaSet": ("apps/v1", *_TEMPLATE),
    "StatefulSet": ("apps/v1", *_TEMPLATE),
    "DaemonSet": ("apps/v1", *_TEMPLATE),
    "Job": ("batch/v1", *_TEMPLATE),
    "CronJob": (
        "batch/v1",
        ("spec", "jobTemplate", "spec", "template", "metadata"),
        ("spec", "jobTemplate", "spec", "template", "spec"),
    ),
}

# Kubernetes' name generator keeps at most 58 characters of a prefix and adds 5 random ones
# (k8s.io/apiserver/pkg/storage/names: maxGeneratedNameLength = 63 - 5).
_MAX_PREFIX = 58
_RANDOM = "x2k4q"
# A ReplicaSet is named <deployment>-<pod-template-hash>, the hash at most 10 characters
# (rand.SafeEncodeString of a uint32); a CronJob's Job <cronjob>-<scheduled minute>, 8 digits
# until the year 2160.
_TEMPLATE_HASH = "5d8f7c9b4f"
_SCHEDULED_MINUTE = "29420160"


@dataclass(frozen=True)
class PodTemplate:
    """A workload's pod template: where it is, its metadata and spec, how its pods are named."""

    kind: str
    namespace: str | None
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]
    spec_path: str
    pod_name_example: str | None


def _generated(prefix: str) -> str:
    return prefix[:_MAX_PREFIX] + _RANDOM


def _pod_name_example(kind: str, obj: Mapping[str, Any], is_unknown: IsUnknown) -> str | None:
    """The longest name a pod of this workload gets, as an example (None when not known)."""
    name, generate = at(obj, "metadata", "name"), at(obj, "metadata", "generateName")
    if kind == "Pod" and isinstance(generate, str) and not name and not is_unknown(generate):
        return _generated(generate)
    if not isinstance(name, str) or is_unknown(name):
        return None
    if kind == "Pod":
        return name
    if kind == "Deployment":
        return _generated(f"{name}-{_TEMPLATE_HASH}-")
    if kind == "StatefulSet":
        replicas = at(obj, "spec", "replicas")
        last = (replicas if isinstance(replicas, int) and replicas > 0 else 1) - 1
        return f"{name}-{last}"
    if kind == "CronJob":
        return _generated(f"{name}-{_SCHEDULED_MINUTE}-")
    return _generated(f"{name}-")


def pod_template(
    obj: Mapping[str, Any], is_unknown: IsUnknown = never_unknown
) -> PodTemplate | None:
    """The pod template of a workload object, or None for any other kind."""
    kind = obj.get("kind")
    paths = POD_SPEC_PATHS.get(kind) if isinstance(kind, str) else None
    if kind is None or paths is None:
        return None
    _, metadata_path, spec_path = paths
    spec = at(obj, *spec_path)
    metadata = at(obj, *metadata_path)
    namespace = at(obj, "metadata", "namespace")
    return PodTemplate(
        kind=str(kind),
        namespace=(
            None
            if is_unknown(namespace)
            else (namespace if isinstance(namespace, str) and namespace else "default")
        ),
        metadata=metadata if isinstance(metadata, Mapping) else {},
        spec=spec if isinstance(spec, Mapping) else {},
        spec_path=".".join(spec_path),
        pod_name_example=_pod_name_example(str(kind), obj, is_unknown),
    )


def runs_on_virtual_node(
    obj: Mapping[str, Any],
    nodes: Sequence[Node],
    is_unknown: IsUnknown = never_unknown,
) -> bool:
    """Whether pods of this workload may be placed on one of ``nodes``."""
    template = pod_template(obj, is_unknown)
    return template is not None and any(
        may_run_on(template.spec, node, is_unknown) for node in nodes
    )


def aci_violations(
    obj: Mapping[str, Any],
    nodes: Sequence[Node],
    is_unknown: IsUnknown = never_unknown,
) -> list[Violation]:
    """Every ACI rule the workload breaks, if its pods may run on one of ``nodes``; else none."""
    template = pod_template(obj, is_unknown)
    if template is None or not runs_on_virtual_node(obj, nodes, is_unknown):
        return []
    annotations = template.metadata.get("annotations")
    context = PodContext(
        kind=template.kind,
        namespace=template.namespace,
        pod_name_example=template.pod_name_example,
        annotations=annotations if isinstance(annotations, Mapping) else {},
        spec_path=template.spec_path,
        is_unknown=is_unknown,
    )
    return check(template.spec, context)

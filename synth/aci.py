"""The synthesized workloads that may run on ACI: how many pods, how big, whether ACI takes them.

Read with the ACI rules the program and the policy pack use (core/aci_rules), from what the
program registers: a workload may run on ACI when the scheduler may place its pods on the
virtual node; it runs *only* there when no GKE node could take them. Sizes are the container
groups' as the connector computes them from the requests (its defaults for containers without
one). Used by plan.md's summary and the monthly cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.aci_rules import (
    Node,
    aci_cpu_request,
    aci_memory_request,
    aci_violations,
    may_run_on,
    pod_template,
    runs_on_virtual_node,
    virtual_node,
)
from synth.engine import UNKNOWN, Deployment, reveal
from synth.node_capacity import Room, pod_requests

DEFAULT_VIRTUAL_NODE = "aci-connector"
# Any node of the GKE node pool, as the scheduler sees it: no taint, the well-known labels.
GKE_NODE = Node(
    "gke-node",
    {
        "kubernetes.io/hostname": "gke-node",
        "kubernetes.io/os": "linux",
        "topology.kubernetes.io/zone": "zone",
    },
)


@dataclass(frozen=True)
class AciWorkload:
    """Pods that may run in ACI: how many, each group's size, where else they may run."""

    kind: str
    name: str
    replicas: int
    cpu: float
    memory_gb: float
    # True: only the virtual node can take them; False: GKE first, overflowing to ACI.
    pinned: bool
    # The ACI rules it breaks (the program refuses to deploy its own that do).
    violations: tuple[str, ...]
    # What each pod asks of a GKE node (cores, bytes), where it may run there.
    requests: Room

    @property
    def placement(self) -> str:
        return "only in ACI" if self.pinned else "on GKE nodes first, overflowing to ACI"


def _is_unknown(value: object) -> bool:
    return value == UNKNOWN


def _replicas(kind: str, obj: Mapping[str, Any]) -> int:
    spec = obj.get("spec")
    count = (
        spec.get("replicas")
        if isinstance(spec, Mapping) and kind in ("Deployment", "ReplicaSet", "StatefulSet")
        else None
    )
    return count if isinstance(count, int) and count >= 0 else 1


def aci_workloads(deployment: Deployment) -> list[AciWorkload]:
    """Every registered workload whose pods may run on the stack's virtual node."""
    name = deployment.stack_outputs.get("virtualNodeName")
    node = virtual_node(name if isinstance(name, str) and name else DEFAULT_VIRTUAL_NODE)
    found: list[AciWorkload] = []
    for registration in deployment.custom_resources():
        obj = reveal(registration.inputs)
        obj.setdefault("kind", registration.type.rsplit(":", 1)[-1])
        template = pod_template(obj, _is_unknown)
        if template is None or not runs_on_virtual_node(obj, [node], _is_unknown):
            continue
        requests = [
            ((c.get("resources") or {}).get("requests") or {})
            for c in template.spec.get("containers") or []
            if isinstance(c, Mapping)
        ]
        metadata = obj.get("metadata") or {}
        found.append(
            AciWorkload(
                kind=template.kind,
                name=f"{template.namespace or '?'}/{metadata.get('name') or registration.name}",
                replicas=_replicas(template.kind, obj),
                cpu=float(sum(aci_cpu_request(_known(r.get("cpu"))) for r in requests)),
                memory_gb=float(sum(aci_memory_request(_known(r.get("memory"))) for r in requests)),
                pinned=not may_run_on(template.spec, GKE_NODE, _is_unknown),
                violations=tuple(str(v) for v in aci_violations(obj, [node], _is_unknown)),
                requests=pod_requests(template.spec),
            )
        )
    return found


def _known(value: object) -> object | None:
    return None if value is None or _is_unknown(value) else value


def aci_summary_lines(workloads: list[AciWorkload]) -> list[str]:
    """One line per workload for the synth summary and plan.md."""
    if not workloads:
        return ["no workload may run on the virtual node"]
    return [
        f"{w.kind} {w.name}: {w.replicas} x {w.cpu:g} vCPU / {w.memory_gb:g} GB, {w.placement}; "
        + (
            "conforms to the ACI rules"
            if not w.violations
            else f"breaks {len(w.violations)} ACI rules: " + "; ".join(w.violations)
        )
        for w in workloads
    ]

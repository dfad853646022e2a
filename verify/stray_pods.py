"""Nothing the stack did not make runs on the virtual node.

The stack's pods there are the app's: the app's namespace and its selector labels. Anything else
is reported, DaemonSet pods grouped by DaemonSet (GKE system DaemonSets that select only
``kubernetes.io/os=linux`` and tolerate every taint land there: docs/verify.md), each with what it
costs (a pod that cannot start in ACI has no container group and costs nothing; a running one is
billed) and what it blocks (a DaemonSet's rolling update counts a pod that is not ready against
``maxUnavailable``, so its rollout stalls).

A failure, except GKE's own DaemonSet pods that cannot start: they cost nothing, and nothing can
keep them off without forking the connector (docs/decisions/0010-node-guard.md), so a failure
would only teach people to ignore the exit status. They are a warning: reported, with what they
block, and the run passes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kubernetes.client import V1DaemonSet, V1Pod

from verify import contract
from verify.cluster import ClusterError
from verify.context import Check, Context, Verdict, is_running, name_of, phase_of
from verify.inputs import Outputs

DOCS = "docs/verify.md#pods-on-the-virtual-node"
KEEP_OFF = (
    "give its pod template a node affinity `type NotIn [virtual-kubelet]` (or drop its "
    "toleration of virtual-kubelet.io/provider)"
)


def virtual_node_pods(ctx: Context) -> Verdict:
    outputs = ctx.outputs
    pods = ctx.cluster.pods_on_node(outputs.virtual_node)
    ours = [p for p in pods if _is_the_apps(p, outputs)]
    stray = [p for p in pods if not _is_the_apps(p, outputs)]
    if not stray:
        return Verdict(True, f"only the app's pods ({len(ours)})")
    by_daemon_set: dict[tuple[str, str], list[V1Pod]] = defaultdict(list)
    findings: list[Finding] = []
    for pod in stray:
        owner = _owner(pod)
        if owner is not None and owner[0] == "DaemonSet":
            by_daemon_set[(_namespace(pod), owner[1])].append(pod)
        else:
            kind = owner[0] if owner else "no owner"
            findings.append(
                Finding(
                    f"pod {_namespace(pod)}/{name_of(pod)} ({kind}) {phase_of(pod)}: "
                    f"{_cost([pod])}",
                    KEEP_OFF,
                    unfixable=False,
                )
            )
    for (namespace, name), members in sorted(by_daemon_set.items()):
        findings.append(_daemon_set_finding(ctx, namespace, name, members))
    seen = "; ".join(f.seen for f in findings)
    fix = "; ".join(dict.fromkeys(f.fix for f in findings))
    if all(f.unfixable for f in findings):
        return Verdict(True, seen, fix, warning=True)
    return Verdict(False, seen, fix)


@dataclass(frozen=True)
class Finding:
    """One stray pod, or one DaemonSet's pods: what it is, what to do, and whether anything can
    be done (GKE's own DaemonSet pods that cannot start cost nothing and cannot be kept off)."""

    seen: str
    fix: str
    unfixable: bool


def _daemon_set_finding(ctx: Context, namespace: str, name: str, pods: list[V1Pod]) -> Finding:
    daemon_set = _daemon_set(ctx, namespace, name)
    pod_names = ", ".join(f"{name_of(p)} {phase_of(p)}" for p in pods)
    seen = (
        f"DaemonSet {namespace}/{name} (pod {pod_names}): {_cost(pods)}; "
        f"{_blocks(daemon_set, pods)}"
    )
    labels = (daemon_set.metadata.labels if daemon_set and daemon_set.metadata else None) or {}
    key, value = contract.RECONCILED_LABEL
    if labels.get(key) != value:
        return Finding(seen, f"for {namespace}/{name}, {KEEP_OFF}", unfixable=False)
    fix = (
        f"{namespace}/{name} is GKE's: its add-on manager reverts edits ({key}={value}), and "
        f"azure-aci labels its node kubernetes.io/os=linux, so it cannot be kept off; see {DOCS}"
    )
    # Costs nothing while none of its pods runs there; a running one is billed: a failure.
    return Finding(seen, fix, unfixable=not any(is_running(p) for p in pods))


def _is_the_apps(pod: V1Pod, outputs: Outputs) -> bool:
    labels = (pod.metadata.labels if pod.metadata else None) or {}
    return _namespace(pod) == outputs.app_namespace and all(
        labels.get(k) == v for k, v in outputs.workload.selector.items()
    )


def _namespace(pod: V1Pod) -> str:
    return (pod.metadata.namespace if pod.metadata else None) or "default"


def _owner(pod: V1Pod) -> tuple[str, str] | None:
    references = (pod.metadata.owner_references if pod.metadata else None) or []
    controller = next(
        (r for r in references if r.controller), references[0] if references else None
    )
    return (controller.kind, controller.name) if controller else None


def _cost(pods: list[V1Pod]) -> str:
    running = sum(is_running(p) for p in pods)
    if running:
        return "runs in ACI, billed while it runs"
    return "costs nothing while it cannot start (no container group runs)"


def _ready(pod: V1Pod) -> bool:
    conditions = (pod.status.conditions if pod.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def _daemon_set(ctx: Context, namespace: str, name: str) -> V1DaemonSet | None:
    try:
        return ctx.cluster.daemon_set(namespace, name)
    except ClusterError:
        return None  # the line then says less about rollouts; the pod is reported all the same


def _blocks(daemon_set: V1DaemonSet | None, pods: list[V1Pod]) -> str:
    if all(_ready(p) for p in pods):
        return "blocks no rollout while it is ready"
    if daemon_set is None or daemon_set.spec is None:
        return "counts as unavailable in the DaemonSet's rolling updates, which it can stall"
    strategy = daemon_set.spec.update_strategy
    if strategy is not None and strategy.type == "OnDelete":
        return "blocks no rollout (OnDelete updates)"
    rolling = strategy.rolling_update if strategy else None
    # maxUnavailable defaults to 1 (apps/v1 DaemonSet).
    limit = rolling.max_unavailable if rolling and rolling.max_unavailable is not None else 1
    unavailable = (daemon_set.status.number_unavailable if daemon_set.status else None) or 0
    return (
        f"counts against maxUnavailable {limit} of its rolling updates (numberUnavailable "
        f"{unavailable}), so a rollout of it stalls"
    )


CHECKS = [
    Check(
        "virtual-node-pods",
        "nothing else on the virtual node",
        lambda o: f"only the app's pods on {o.virtual_node}",
        virtual_node_pods,
    ),
]

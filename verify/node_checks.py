"""The virtual node: registered and Ready as the connector makes it, guarded against deletion.

- ``virtual node``: Ready, with azure-aci's labels and its one taint (any other taint, such as
  ``node.kubernetes.io/unreachable``, means trouble: it evicts or keeps away the ACI pods);
- ``node guard``: the providerID and label the node guard sets (decision 0010): without them GKE's
  cloud node-lifecycle controller deletes the node about 40 s after the connector stops;
- ``node deletions``: no ``DeletingNode`` event for it (events are kept about an hour).
"""

from __future__ import annotations

from kubernetes.client import CoreV1Event, V1Node

from verify import contract
from verify.context import Check, Context, Skip, Verdict

CONNECTOR_LOGS = "kubectl -n {ns} logs deploy/{name} --all-containers"


def _node(ctx: Context) -> V1Node:
    node = ctx.cluster.node(ctx.outputs.virtual_node)
    if node is None:
        raise Skip(f"not checked: no node {ctx.outputs.virtual_node} (see virtual node)")
    return node


def virtual_node(ctx: Context) -> Verdict:
    name = ctx.outputs.virtual_node
    logs = CONNECTOR_LOGS.format(
        ns=ctx.outputs.connector_namespace, name=ctx.outputs.connector_deployment
    )
    node = ctx.cluster.node(name)
    if node is None:
        return Verdict(False, f"no node {name}", f"the connector registers it: read `{logs}`")
    problems: list[str] = []
    ready = next(
        (c for c in (node.status.conditions if node.status else None) or [] if c.type == "Ready"),
        None,
    )
    if ready is None:
        problems.append("no Ready condition")
    elif ready.status != "True":
        why = ": ".join(x for x in (ready.reason, ready.message) if x)
        problems.append(f"Ready={ready.status}" + (f" ({why})" if why else ""))
    labels = (node.metadata.labels if node.metadata else None) or {}
    for key, value in contract.virtual_node_labels(name).items():
        if key not in labels:
            problems.append(f"label {key}={value} missing")
        elif labels[key] != value:
            problems.append(f"label {key}={labels[key]} (expected {value})")
    taints = [
        (t.key, t.value or "", t.effect) for t in (node.spec.taints if node.spec else None) or []
    ]
    expected_taint = contract.VIRTUAL_NODE_TAINT
    if expected_taint not in taints:
        problems.append(f"taint {_taint(expected_taint)} missing")
    problems += [f"unexpected taint {_taint(t)}" for t in taints if t != expected_taint]
    if problems:
        return Verdict(
            False,
            f"{name}: " + "; ".join(problems),
            f"read the connector's logs (`{logs}`) and `kubectl describe node {name}`",
        )
    count = len(contract.virtual_node_labels(name))
    return Verdict(True, f"{name} Ready with the {count} labels and only that taint")


def node_guard(ctx: Context) -> Verdict:
    outputs = ctx.outputs
    name = outputs.virtual_node
    node = _node(ctx)
    problems: list[str] = []
    seen_id = node.spec.provider_id if node.spec else None
    if seen_id != contract.provider_id(name):
        problems.append(f"providerID {seen_id!r}" if seen_id else "no providerID")
    key, value = contract.UNMANAGED_LABEL
    labels = (node.metadata.labels if node.metadata else None) or {}
    if labels.get(key) != value:
        problems.append(f"label {key}={labels[key]}" if key in labels else f"no label {key}")
    if problems:
        return Verdict(
            False,
            "; ".join(problems),
            "the node guard sets both whenever the node is (re)created; read `kubectl -n "
            f"{outputs.connector_namespace} logs deploy/{contract.NODE_GUARD_DEPLOYMENT}`. "
            "Without them GKE deletes the node about 40 s after the connector stops",
        )
    return Verdict(True, f"providerID {seen_id} and label {key}={value}")


def node_deletions(ctx: Context) -> Verdict:
    name = ctx.outputs.virtual_node
    deletions = [
        e for e in ctx.cluster.node_events(name) if e.reason == contract.NODE_DELETED_REASON
    ]
    if not deletions:
        return Verdict(True, f"no {contract.NODE_DELETED_REASON} event for {name}")
    last = max(deletions, key=_when)
    times = sum(e.count or 1 for e in deletions)
    message = " ".join((last.message or "").split())[:200]
    return Verdict(
        False,
        f"{contract.NODE_DELETED_REASON} {times} time{'s' if times != 1 else ''}, last at "
        f"{_when(last)}" + (f": {message!r}" if message else ""),
        "GKE deleted the virtual node, and the ACI pods bound to it with it: check the node "
        "guard (node guard line) and that the app's pods came back (app line)",
    )


def _taint(taint: tuple[str, str, str]) -> str:
    key, value, effect = taint
    return f"{key}={value}:{effect}" if value else f"{key}:{effect}"


def _when(event: CoreV1Event) -> str:
    moment = event.last_timestamp or event.event_time or event.first_timestamp
    return moment.isoformat() if moment else "an unknown time"


CHECKS = [
    Check(
        "virtual-node",
        "virtual node",
        lambda o: (
            f"{o.virtual_node} Ready, with the virtual-kubelet labels and taint "
            f"{_taint(contract.VIRTUAL_NODE_TAINT)}"
        ),
        virtual_node,
    ),
    Check(
        "node-guard",
        "node guard",
        lambda o: (
            f"providerID {contract.provider_id(o.virtual_node)} and label "
            + "=".join(contract.UNMANAGED_LABEL)
        ),
        node_guard,
    ),
    Check(
        "node-deletions",
        "node deletions",
        lambda o: f"no {contract.NODE_DELETED_REASON} event for {o.virtual_node}",
        node_deletions,
    ),
]

"""The connector's Deployment and the app's pods, in either app mode of the shared contract.

- ``connector``: its Deployment has every replica available;
- ``app``: the single ``web`` pod Running on the virtual node with the IP ``webIp`` names; or the
  Deployment's replicas Running, counted on GKE nodes and on ACI (the ``aci`` placement puts them
  all on the virtual node; ``burst`` fills GKE first);
- ``kubectl logs``: the API server reads an ACI pod's log, which it fetches from the connector's
  kubelet API after verifying its serving certificate against the cluster CA for the node's
  InternalIP (docs/decisions/0021-kubelet-serving-certificate.md): the whole chain, end to end.
"""

from __future__ import annotations

from verify import contract
from verify.cluster import PodLogError
from verify.context import (
    Check,
    Context,
    Skip,
    Verdict,
    app_pods,
    ip_of,
    is_running,
    name_of,
    node_of,
    phase_of,
)
from verify.inputs import Outputs


def connector(ctx: Context) -> Verdict:
    namespace, name = ctx.outputs.connector_namespace, ctx.outputs.connector_deployment
    describe = f"`kubectl -n {namespace} describe deploy {name}` and its pod's logs"
    deployment = ctx.cluster.deployment(namespace, name)
    if deployment is None:
        return Verdict(False, f"no Deployment {namespace}/{name}", "run `make up`")
    wanted = deployment.spec.replicas if deployment.spec and deployment.spec.replicas else 1
    available = (deployment.status.available_replicas if deployment.status else None) or 0
    condition = next(
        (
            c
            for c in (deployment.status.conditions if deployment.status else None) or []
            if c.type == "Available"
        ),
        None,
    )
    seen = f"{available}/{wanted} available"
    if condition is not None and condition.status != "True":
        why = ": ".join(x for x in (condition.reason, condition.message) if x)
        seen += f" (Available={condition.status}" + (f", {why})" if why else ")")
    ok = available >= wanted and (condition is None or condition.status == "True")
    return Verdict(ok, seen, describe)


def app(ctx: Context) -> Verdict:
    if ctx.outputs.workload.kind == contract.POD:
        return _single_pod(ctx)
    return _replicas(ctx)


def _single_pod(ctx: Context) -> Verdict:
    outputs = ctx.outputs
    name, node = outputs.workload.name, outputs.virtual_node
    pods = app_pods(ctx)
    if not pods:
        return Verdict(False, f"no pod {outputs.app_namespace}/{name}", "run `make up`")
    pod = pods[0]
    on, ip = node_of(pod), ip_of(pod)
    seen = f"{name} {phase_of(pod)} on {on or '(no node)'} with IP {ip or '(none)'}"
    if not is_running(pod) or on != node:
        return Verdict(
            False,
            seen,
            f"`kubectl -n {outputs.app_namespace} describe pod {name}` says why",
        )
    if ip != outputs.web_ip:
        return Verdict(
            False,
            f"{seen}, but webIp is {outputs.web_ip}",
            "the pod was re-created since the last deploy (a new container group, a new IP): "
            "run `make up` to refresh webIp and webUrl",
        )
    return Verdict(True, seen)


def _replicas(ctx: Context) -> Verdict:
    outputs, workload = ctx.outputs, ctx.outputs.workload
    node = outputs.virtual_node
    pods = app_pods(ctx)
    running = [p for p in pods if is_running(p)]
    on_aci = sum(node_of(p) == node for p in running)
    on_gke = len(running) - on_aci
    seen = f"{len(running)} Running: {on_gke} on GKE nodes, {on_aci} on ACI ({node})"
    others = [f"{name_of(p)} {phase_of(p)}" for p in pods if not is_running(p)]
    if others:
        seen += (
            "; "
            + ", ".join(others[:5])
            + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        )
    fix = (
        f"`kubectl -n {outputs.app_namespace} get pods -l "
        + ",".join(f"{k}={v}" for k, v in sorted(workload.selector.items()))
        + " -o wide` and `kubectl describe` the ones not Running"
    )
    if len(running) != workload.replicas:
        return Verdict(False, seen, fix)
    if workload.placement == contract.ACI and on_gke:
        return Verdict(
            False,
            f"{seen}, but the aci placement runs every replica on the virtual node",
            fix,
        )
    return Verdict(True, seen)


def pod_logs(ctx: Context) -> Verdict:
    node = ctx.outputs.virtual_node
    on_aci = [p for p in app_pods(ctx) if node_of(p) == node and is_running(p)]
    if not on_aci:
        raise Skip(f"not checked: no app pod runs on {node} (see app)")
    pod = name_of(on_aci[0])
    namespace = ctx.outputs.app_namespace
    try:
        ctx.cluster.pod_log(namespace, pod)
    except PodLogError as error:
        return Verdict(
            False,
            f"the API server could not read {pod}'s log: {error}",
            f"the connector serves a self-signed certificate unless the cluster's signer issued "
            f"one at its start: see `kubectl get csr` and `kubectl -n "
            f"{ctx.outputs.connector_namespace} logs deploy/{ctx.outputs.connector_deployment} "
            "-c serving-certificate`, and docs/operations.md (check 5)",
        )
    return Verdict(True, f"read the last line of {pod}'s log through {node}'s kubelet API")


def _app_expected(outputs: Outputs) -> str:
    workload = outputs.workload
    if workload.kind == contract.POD:
        return (
            f"pod {workload.name} Running on {outputs.virtual_node} with IP {outputs.web_ip} "
            "(webIp)"
        )
    where = (
        f"all on {outputs.virtual_node}"
        if workload.placement == contract.ACI
        else "on GKE nodes first, the rest on ACI"
    )
    return f"Deployment {workload.name}: {workload.replicas} replicas Running, {where}"


CHECKS = [
    Check(
        "connector",
        "connector",
        lambda o: f"Deployment {o.connector_namespace}/{o.connector_deployment} available",
        connector,
    ),
    Check("app", "app", _app_expected, app),
    Check(
        "pod-logs",
        "kubectl logs",
        lambda o: (
            f"the API server reads an app pod's log from {o.virtual_node}, trusting its serving "
            "certificate"
        ),
        pod_logs,
    ),
]

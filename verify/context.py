"""What every check is given: the outputs, the three services, the budget; and shared facts.

A check is a function ``(Context) -> Verdict``. It may raise ``Skip`` (it does not apply, or a
check it needs failed), ``NoAnswerError`` (a service gave no answer), or an error whose message says
what went wrong; ``verify.run`` turns each into a line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubernetes.client import V1Pod

from verify import contract
from verify.aci import ContainerGroups
from verify.budget import Budget
from verify.cluster import Cluster
from verify.inputs import Outputs
from verify.web import App


class Skip(Exception):  # noqa: N818 - not an error: the check does not apply
    """The check does not apply here, or cannot run; the message says why."""


@dataclass
class Context:
    outputs: Outputs
    budget: Budget
    cluster: Cluster
    app: App
    # None with --skip azure.
    container_groups: ContainerGroups | None


@dataclass(frozen=True)
class Verdict:
    """What a check saw, whether that is what was expected, and what to do if not.

    ``warning``: not as expected, but nothing to fix and nothing it costs (the run passes).
    """

    ok: bool
    seen: str
    fix: str | None = None
    warning: bool = False


@dataclass(frozen=True)
class Check:
    """A check's id (for --json), title (for the line), what it expects, and the function."""

    id: str
    title: str
    expected: Callable[[Outputs], str]
    run: Callable[[Context], Verdict]


def app_pods(ctx: Context) -> list[V1Pod]:
    """The stack's app pods that are not being deleted: the ``web`` pod, or the Deployment's."""
    outputs, workload = ctx.outputs, ctx.outputs.workload
    if workload.kind == contract.POD:
        pod = ctx.cluster.pod(outputs.app_namespace, workload.name)
        pods = [pod] if pod is not None else []
    else:
        pods = ctx.cluster.pods(outputs.app_namespace, workload.selector)
    return [p for p in pods if p.metadata is None or p.metadata.deletion_timestamp is None]


def name_of(pod: V1Pod) -> str:
    return (pod.metadata.name if pod.metadata else None) or "(unnamed)"


def node_of(pod: V1Pod) -> str | None:
    return pod.spec.node_name if pod.spec else None


def phase_of(pod: V1Pod) -> str:
    """The phase, with the reason a pod that is not Running gives (``Pending (ProviderFailed)``)."""
    status = pod.status
    phase = (status.phase if status else None) or "Unknown"
    if phase == "Running" or status is None:
        return phase
    reason = status.reason
    for container in status.container_statuses or []:
        waiting = container.state.waiting if container.state else None
        if waiting is not None and waiting.reason:
            reason = reason or waiting.reason
    for condition in status.conditions or []:
        if condition.type == "PodScheduled" and condition.status == "False" and condition.reason:
            reason = reason or condition.reason
    return f"{phase} ({reason})" if reason else phase


def is_running(pod: V1Pod) -> bool:
    return pod.status is not None and pod.status.phase == "Running"


def ip_of(pod: V1Pod) -> str | None:
    return pod.status.pod_ip if pod.status else None

"""The check, before anything is deployed, that ACI will take the app's pods.

Renders the pod spec the program will send (components/web_workload.py) with placeholders for
the values other resources compute, in API form, and holds it to the ACI rules
(``core/aci_rules``): a pod ACI would refuse minutes into ``pulumi up`` stops the program at
once, naming the rule, the field, what was given, the fix and the setting that shaped it
(docs/decisions/0007-aci-rules-shared-module.md).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.kube_form import api_form, is_not_known_yet
from components.web_workload import (
    WebPodInputs,
    placeholder_inputs,
    web_deployment_spec,
    web_pod_annotations,
    web_pod_spec,
)
from core.aci_rules import DNS_LABEL_ANNOTATION, Violation, aci_violations, virtual_node
from core.app_contract import NAMESPACE, WEB, WEB_LABELS, AppContract
from settings import PROJECT, AppSettings

# Which settings shape the fields a violation can name (the first match counts).
_SETTINGS_OF_FIELD = {
    "resources.requests.cpu": ("appCpu",),
    "resources.limits.cpu": ("appCpu",),
    "resources.requests.memory": ("appMemory",),
    "resources.limits.memory": ("appMemory",),
    "resources.requests": ("appCpu", "appMemory"),
    "ports": ("appPort",),
    DNS_LABEL_ANNOTATION: ("aciDnsLabel",),
}


class AciConformanceError(pulumi.RunError):
    """A pod bound for the virtual node breaks the ACI rules; Pulumi prints this without a trace."""

    def __init__(self, workload: str, node: str, violations: list[Violation]) -> None:
        self.violations = violations
        lines = "\n".join(f"  - {v}{_setting_hint(v)}" for v in violations)
        super().__init__(
            f"{workload} may run on the virtual node {node!r}, where ACI would refuse it "
            f"(rules: core/aci_rules):\n{lines}"
        )


def _setting_hint(violation: Violation) -> str:
    for field, keys in _SETTINGS_OF_FIELD.items():
        if field in violation.field:
            return " [set by " + " and ".join(f"{PROJECT}:{key}" for key in keys) + "]"
    return ""


def web_workload_object(
    app: AppSettings, contract: AppContract, inputs: WebPodInputs
) -> dict[str, Any]:
    """The app's Pod or Deployment as the cluster will see it (API form)."""
    metadata = {"name": WEB, "namespace": NAMESPACE, "labels": WEB_LABELS}
    if app.single_pod:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {**metadata, "annotations": web_pod_annotations(app)},
            "spec": api_form(web_pod_spec(app, contract, inputs)),
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": api_form(web_deployment_spec(app, contract, inputs)),
    }


def require_aci_conformance(
    app: AppSettings, contract: AppContract, virtual_node_name: str, *, private_registry: bool
) -> None:
    """Stops the program (AciConformanceError) when the app's pods break an ACI rule."""
    inputs = placeholder_inputs(virtual_node_name, private_registry=private_registry)
    workload = web_workload_object(app, contract, inputs)
    violations = aci_violations(workload, [virtual_node(virtual_node_name)], is_not_known_yet)
    if violations:
        name = f"{workload['kind']} {NAMESPACE}/{WEB}"
        raise AciConformanceError(name, virtual_node_name, violations)

"""The check, before anything is deployed, that ACI will take the app's pods.

Renders the pod spec the program will send (specs/web_workload.py) with placeholders for
the values other resources compute, in API form, and holds it to the ACI rules
(``core/aci_rules``): a pod ACI would refuse minutes into ``pulumi up`` stops the program at
once, with any bad setting, naming the setting that shaped it, what was given, the rule and the
fix (docs/decisions/0007-aci-rules-shared-module.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.aci_rules import DNS_LABEL_ANNOTATION, Violation, aci_violations, virtual_node
from core.app_contract import NAMESPACE, WEB, WEB_LABELS, AppContract, contract_for
from settings import PROJECT, AppSettings, Settings
from specs.kube_form import api_form, is_not_known_yet
from specs.web_workload import (
    WebPodInputs,
    placeholder_inputs,
    web_deployment_spec,
    web_pod_annotations,
    web_pod_spec,
)

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
# How each of those settings reads back from the app's settings, as the stack file wrote it.
_VALUE_OF_SETTING: dict[str, Callable[[AppSettings], object]] = {
    "appCpu": lambda app: app.cpu,
    "appMemory": lambda app: app.memory,
    "appPort": lambda app: app.port,
    "aciDnsLabel": lambda app: app.dns_label,
}


def aci_problems(settings: Settings, refused: frozenset[str]) -> list[str]:
    """What ACI would refuse of the app's pods, one line per setting behind it.

    A check for ``load_settings``: a pod ACI would refuse minutes into ``pulumi up`` stops the
    program before any resource, in the same message as any bad setting. Rules broken through one
    setting (a CPU of 1.005 breaks the 10m steps in requests and limits, and the limit rule) are
    one line; a setting already refused is not judged again on its stand-in default.
    """
    app = settings.app
    node = settings.connector.virtual_node_name
    contract = contract_for(app.image)
    inputs = placeholder_inputs(node, private_registry=app.image is None)
    workload = web_workload_object(app, contract, inputs)
    violations = aci_violations(workload, [virtual_node(node)], is_not_known_yet)
    where = f"{workload['kind']} {NAMESPACE}/{WEB} on the virtual node {node!r}"
    by_settings: dict[tuple[str, ...], dict[str, str]] = {}
    for violation in violations:
        reasons = by_settings.setdefault(_settings_of(violation), {})
        reasons.setdefault(violation.rule, f"{violation.rule}: {violation.fix}")
    problems = []
    for shaped_by, reasons in by_settings.items():
        names = tuple(name for name in shaped_by if f"{PROJECT}:{name}" not in refused)
        if shaped_by and not names:
            continue
        problems.append(
            f"{_given(names, app)}; ACI would refuse the {where}: " + "; ".join(reasons.values())
        )
    return problems


def _settings_of(violation: Violation) -> tuple[str, ...]:
    for field, names in _SETTINGS_OF_FIELD.items():
        if field in violation.field:
            return names
    return ()


def _given(names: tuple[str, ...], app: AppSettings) -> str:
    if not names:
        return "the app's pod spec"
    keys = " and ".join(f"{PROJECT}:{name}" for name in names)
    values = " and ".join(repr(_VALUE_OF_SETTING[name](app)) for name in names)
    return f"{keys}: got {values}"


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

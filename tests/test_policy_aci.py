"""The policy pack's aci-conformance policy: the ACI rules for any workload bound for ACI.

A team that deploys its own workloads with ``--policy-pack policy`` gets the same check the
program applies to its own pods. Each workload kind, written here with its own pod-spec path,
is tried with a pod ACI would refuse and with one it takes, plainly and through the analyzer's
unknown-checking proxy.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policy.policies import ACI_CONFORMANCE, evaluate, validation_args

TOLERATION = {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"}


def pod_spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "tolerations": [TOLERATION],
        "nodeSelector": {"type": "virtual-kubelet"},
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": [
            {
                "name": "worker",
                "image": "example/worker:1.0",
                "resources": {
                    "requests": {"cpu": "1", "memory": "1Gi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
            }
        ],
    }
    spec.update(changes)
    return spec


# Written here, independently of the pack: each kind's type token and where its pod spec is.
def _in(spec: dict[str, Any], *path: str) -> dict[str, Any]:
    for key in reversed(path):
        spec = {key: spec}
    return spec


KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Pod": ("kubernetes:core/v1:Pod", ()),
    "ReplicationController": ("kubernetes:core/v1:ReplicationController", ("template", "spec")),
    "Deployment": ("kubernetes:apps/v1:Deployment", ("template", "spec")),
    "StatefulSet": ("kubernetes:apps/v1:StatefulSet", ("template", "spec")),
    "DaemonSet": ("kubernetes:apps/v1:DaemonSet", ("template", "spec")),
    "ReplicaSet": ("kubernetes:apps/v1:ReplicaSet", ("template", "spec")),
    "Job": ("kubernetes:batch/v1:Job", ("template", "spec")),
    "CronJob": ("kubernetes:batch/v1:CronJob", ("jobTemplate", "spec", "template", "spec")),
}


def workload(kind: str, spec: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    resource_type, path = KINDS[kind]
    return resource_type, {
        "apiVersion": "v1",
        "kind": kind,
        "metadata": {"name": "batch", "namespace": "jobs"},
        "spec": _in(spec, *path) if path else spec,
    }


def aci_messages(resource_type: str, props: dict[str, Any]) -> list[str]:
    return [v for v in evaluate(resource_type, props) if v.startswith("aci-conformance:")]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_workload_kind_bound_for_aci_is_checked(kind: str) -> None:
    resource_type, props = workload(kind, pod_spec(enableServiceLinks=True))
    [message] = aci_messages(resource_type, props)
    assert "C11 enableServiceLinks is false" in message
    assert "fix: set enableServiceLinks: false" in message


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_workload_whose_inputs_omit_its_kind_is_checked_by_its_type(kind: str) -> None:
    """Inputs written without ``kind`` (a transformation, another SDK) are still a workload."""
    resource_type, props = workload(kind, pod_spec(enableServiceLinks=True))
    del props["kind"]
    [message] = aci_messages(resource_type, props)
    assert "C11 enableServiceLinks is false" in message


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_conforming_workload_of_each_kind_passes(kind: str) -> None:
    assert aci_messages(*workload(kind, pod_spec())) == []


def test_a_workload_that_stays_on_gke_is_not_held_to_aci_rules() -> None:
    spec = pod_spec(tolerations=[], enableServiceLinks=True)
    del spec["nodeSelector"]
    assert aci_messages(*workload("Deployment", spec)) == []


def test_every_violation_of_a_workload_is_reported() -> None:
    spec = pod_spec(enableServiceLinks=True)
    spec["containers"][0]["args"] = ["--serve"]
    spec["containers"][0]["startupProbe"] = {"exec": {"command": ["true"]}}
    messages = aci_messages(*workload("Deployment", spec))
    assert len(messages) == 3
    assert any("C1 args need a command" in m for m in messages)
    assert any("C3 no startupProbe" in m for m in messages)


def test_values_unknown_in_a_preview_neither_fail_nor_stop_the_policy() -> None:
    spec = pod_spec()
    spec["containers"][0]["image"] = UNKNOWN_STRING_VALUE
    spec["containers"][0]["resources"]["limits"]["memory"] = UNKNOWN_STRING_VALUE
    spec["nodeSelector"]["kubernetes.io/hostname"] = UNKNOWN_STRING_VALUE
    assert aci_messages(*workload("Deployment", spec)) == []


def _args(
    resource_type: str, props: dict[str, Any], config: dict[str, Any]
) -> ResourceValidationArgs:
    return validation_args(resource_type, unknown_checking_proxy(props), config=config)


def test_the_virtual_node_names_are_the_policys_config() -> None:
    """A pod bound by name is checked only when the name is a virtual node's."""
    spec = pod_spec(enableServiceLinks=True, nodeName="burst-node")
    del spec["nodeSelector"], spec["tolerations"]
    resource_type, props = workload("Pod", spec)
    validate = ACI_CONFORMANCE.validate
    assert callable(validate)
    reported: list[str] = []

    def report(message: str, _urn: str | None = None) -> None:
        reported.append(message)

    validate(_args(resource_type, props, {}), report)
    assert reported == []  # the default names only aci-connector
    validate(_args(resource_type, props, {"virtualNodeNames": ["burst-node"]}), report)
    assert len(reported) == 1
    assert "C11" in reported[0]


def test_the_policy_is_configurable_and_mandatory() -> None:
    assert ACI_CONFORMANCE.enforcement_level is EnforcementLevel.MANDATORY
    assert ACI_CONFORMANCE.config_schema is not None
    assert ACI_CONFORMANCE.config_schema.properties["virtualNodeNames"]["default"] == [
        "aci-connector"
    ]

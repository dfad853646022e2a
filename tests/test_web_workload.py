"""The app's pods in every mode: what the program sends, and that ACI will take it.

Runs the real program under the fake cloud in each mode of ``appPlacement``/``appReplicas``
(and with each image contract) and holds the registered Pod or Deployment to the ACI rules; pins
the scheduling facts burst mode relies on; and shows that a pod ACI would refuse stops the
program before anything is registered.
"""

from __future__ import annotations

from typing import Any

import pytest
from fake_cloud import (
    LOAD_BALANCER_IP,
    UNKNOWN,
    Deployment,
    Registration,
    attempt_program,
    reveal,
    run_program,
)

from core.aci_rules import aci_violations, runs_on_virtual_node, virtual_node
from core.aci_rules.values import KNOWN_AFTER_DEPLOY
from core.app_contract import contract_for
from settings import ConfigError, load_settings
from specs.aci_check import web_workload_object
from specs.kube_form import api_form
from specs.web_workload import placeholder_inputs

NODE = virtual_node("aci-connector")
POD = "kubernetes:core/v1:Pod"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"

MODES: dict[str, dict[str, str]] = {
    "single-pod": {},
    "aci-replicas": {"gke-aci:appReplicas": "3"},
    "burst": {"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "6"},
    "burst-one": {"gke-aci:appPlacement": "burst"},
    "seed-image": {"gke-aci:appImage": "janakiramm/todo", "gke-aci:appPort": "80"},
    "seed-image-burst": {
        "gke-aci:appImage": "janakiramm/todo",
        "gke-aci:appPlacement": "burst",
        "gke-aci:appReplicas": "4",
    },
    "other-image-replicas": {
        "gke-aci:appImage": "ghcr.io/example/todo:2",
        "gke-aci:appReplicas": "2",
    },
    "dns-label": {"gke-aci:aciDnsLabel": "my-todo"},
}


def web_workload(stack: Deployment) -> Registration:
    pods = stack.of_type(POD)
    if pods:
        [pod] = pods
        return pod
    [web] = [d for d in stack.of_type(DEPLOYMENT) if d.inputs["metadata"].get("name") == "web"]
    return web


def as_object(registration: Registration) -> dict[str, Any]:
    return reveal(registration.inputs)


def template(stack: Deployment) -> dict[str, Any]:
    obj = as_object(web_workload(stack))
    return obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]


@pytest.fixture(params=sorted(MODES))
def mode(request: pytest.FixtureRequest) -> tuple[str, Deployment]:
    return request.param, run_program(MODES[request.param])


def test_the_apps_pods_may_run_on_aci_and_conform(mode: tuple[str, Deployment]) -> None:
    _, stack = mode
    workload = as_object(web_workload(stack))
    assert runs_on_virtual_node(workload, [NODE])
    assert aci_violations(workload, [NODE]) == []


def test_the_first_preview_of_each_mode_conforms_too() -> None:
    for config in MODES.values():
        stack = run_program(config, preview=True)
        workload = as_object(web_workload(stack))
        assert aci_violations(workload, [NODE], lambda v: v == UNKNOWN) == []


def _same_shape(checked: Any, sent: Any) -> bool:
    """What the program checked before deploying is what it sends, unknowns aside."""
    if checked == KNOWN_AFTER_DEPLOY:
        return True
    if isinstance(checked, dict) and isinstance(sent, dict):
        return checked.keys() == sent.keys() and all(
            _same_shape(checked[k], sent[k]) for k in checked
        )
    if isinstance(checked, list) and isinstance(sent, list):
        return len(checked) == len(sent) and all(map(_same_shape, checked, sent))
    return checked == sent


def test_the_checked_workload_is_the_one_the_program_sends(mode: tuple[str, Deployment]) -> None:
    name, stack = mode
    settings = load_settings({"gcp:project": "gke-aci-test", **MODES[name]}.get)
    contract = contract_for(settings.app.image)
    checked = web_workload_object(
        settings.app,
        contract,
        placeholder_inputs("aci-connector", private_registry=settings.app.image is None),
    )
    sent = as_object(web_workload(stack))
    assert _same_shape(checked["spec"], sent["spec"]), (checked["spec"], sent["spec"])
    assert checked["kind"] == sent["kind"]


def test_api_form_translates_field_names_as_pulumi_kubernetes_does() -> None:
    spec = {
        "enable_service_links": False,
        "node_selector": {"kubernetes.io/hostname": "x", "snake_key": "y"},
        "containers": [{"name": "c", "security_context": {"run_as_non_root": True}}],
        "host_ipc": False,
    }
    assert api_form(spec) == {
        "enableServiceLinks": False,
        "nodeSelector": {"kubernetes.io/hostname": "x", "snake_key": "y"},
        "containers": [{"name": "c", "securityContext": {"runAsNonRoot": True}}],
        "hostIPC": False,
    }


# --- A pod ACI would refuse stops the program ---------------------------------------------------


@pytest.mark.parametrize(
    ("config", "rule", "setting"),
    [
        ({"gke-aci:appCpu": "1125m"}, "R7 CPU in steps of 10m", "gke-aci:appCpu"),
        (
            {"gke-aci:appMemory": "512Mi"},
            "R10 group at least 1 CPU and 1 GB",
            "gke-aci:appCpu and gke-aci:appMemory",
        ),
        (
            {"gke-aci:appPlacement": "burst", "gke-aci:appCpu": "32"},
            "R10 group at most 31 CPU and 240 GB",
            "gke-aci:appCpu and gke-aci:appMemory",
        ),
    ],
)
def test_a_pod_aci_would_refuse_stops_the_program_before_any_resource(
    config: dict[str, str], rule: str, setting: str
) -> None:
    stack = attempt_program(config)
    assert isinstance(stack.error, ConfigError)
    assert stack.registrations == []
    [problem] = stack.error.problems
    assert problem.startswith(f"{setting}: got ")
    assert "ACI would refuse the " in problem
    assert "on the virtual node 'aci-connector'" in problem
    assert rule in problem


def test_one_mistake_is_one_line_though_it_breaks_several_rules() -> None:
    """1.005 breaks the 10m steps in requests and limits, and the limit rule: one setting."""
    stack = attempt_program({"gke-aci:appCpu": "1.005"})
    assert isinstance(stack.error, ConfigError)
    [problem] = stack.error.problems
    assert problem.startswith("gke-aci:appCpu: got '1.005'; ACI would refuse the Pod todo/web")
    assert problem.count("R7 CPU in steps of 10m") == 1
    assert "R5 limit not above the group's request" in problem


def test_a_bad_setting_and_a_pod_aci_would_refuse_come_in_one_run() -> None:
    stack = attempt_program({"gke-aci:appCpu": "0.5", "gke-aci:appMemory": "1Gb"})
    assert isinstance(stack.error, ConfigError)
    assert stack.registrations == []
    memory, cpu = stack.error.problems
    assert memory.startswith("gke-aci:appMemory: got '1Gb'; allowed: ")
    # The refused memory is not blamed again for the group being too small; the CPU is.
    assert cpu.startswith("gke-aci:appCpu: got '0.5'; ACI would refuse the Pod todo/web")
    assert "R10 group at least 1 CPU and 1 GB" in cpu


# --- Placement and tolerations in each mode -----------------------------------------------------


def tolerations(stack: Deployment) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in template(stack)["tolerations"]}


@pytest.mark.parametrize("name", ["single-pod", "aci-replicas", "seed-image"])
def test_pods_only_in_aci_outlive_a_connector_restart(name: str) -> None:
    """Tolerating not-ready/unreachable without a bound: GKE's default is eviction after 300 s."""
    stack = run_program(MODES[name])
    found = tolerations(stack)
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        assert found[key] == {"key": key, "operator": "Exists", "effect": "NoExecute"}
    assert found["virtual-kubelet.io/provider"]["effect"] == "NoSchedule"
    spec = template(stack)
    assert spec["nodeSelector"] == {
        "type": "virtual-kubelet",
        "kubernetes.io/hostname": "aci-connector",
    }


def test_burst_replicas_tolerate_a_node_outage_for_ten_minutes() -> None:
    found = tolerations(run_program(MODES["burst"]))
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        assert found[key]["effect"] == "NoExecute"
        assert found[key]["tolerationSeconds"] == 600


def test_burst_prefers_gke_nodes_and_allows_only_its_own_virtual_node() -> None:
    spec = template(run_program(MODES["burst"]))
    assert "nodeSelector" not in spec
    affinity = spec["affinity"]["nodeAffinity"]
    not_virtual = {"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]}
    assert affinity["preferredDuringSchedulingIgnoredDuringExecution"] == [
        {"weight": 100, "preference": {"matchExpressions": [not_virtual]}}
    ]
    terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [
        {"matchExpressions": [not_virtual]},
        {
            "matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["aci-connector"]}
            ]
        },
    ]
    another = virtual_node("someone-elses-virtual-node")
    workload = as_object(web_workload(run_program(MODES["burst"])))
    assert runs_on_virtual_node(workload, [NODE])
    assert not runs_on_virtual_node(workload, [another])


def test_burst_spreads_explicitly_so_gke_fills_before_the_zoneless_virtual_node() -> None:
    """Explicit zone spreading scores a node without the zone label 0 (PodTopologySpread
    PreScore ignores it); DoNotSchedule on the zone would filter the virtual node out."""
    spec = template(run_program(MODES["burst"]))
    constraints = {c["topologyKey"]: c for c in spec["topologySpreadConstraints"]}
    assert set(constraints) == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    for constraint in constraints.values():
        assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"
        assert constraint["maxSkew"] == 1
        assert constraint["labelSelector"] == {"matchLabels": {"app": "todoapp", "name": "web"}}


def test_burst_replicas_are_sized_and_shaped_for_both_gke_and_aci() -> None:
    spec = template(run_program(MODES["burst"]))
    [web] = spec["containers"]
    requests = web["resources"]["requests"]
    assert set(requests) == {"cpu", "memory"}
    assert web["resources"]["limits"] == requests
    assert spec["enableServiceLinks"] is False
    assert spec["automountServiceAccountToken"] is False
    paths = [
        e["valueFrom"]["fieldRef"]["fieldPath"]
        for e in web["env"]
        if "fieldRef" in e.get("valueFrom", {})
    ]
    assert paths == ["metadata.name", "spec.nodeName"]
    # Replicas on GKE pull from the stack's registry with the same pull Secret as ACI.
    assert len(spec["imagePullSecrets"]) == 1


def test_replicas_on_gke_run_hardened() -> None:
    stack = run_program(MODES["burst"])
    spec = template(stack)
    assert spec["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    [web] = spec["containers"]
    assert web["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
    }
    assert {"name": "tmp", "mountPath": "/tmp"} in web["volumeMounts"]
    annotations = as_object(web_workload(stack))["metadata"]["annotations"]
    assert not any("runs in ACI" in skip for skip in annotations.values())


def test_a_pod_names_itself_and_its_node_for_the_served_by_header() -> None:
    [web] = template(run_program())["containers"]
    variables = {e["name"]: e.get("valueFrom") for e in web["env"]}
    assert variables["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert variables["NODE_NAME"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}


def test_several_replicas_in_aci_are_a_deployment_pinned_to_the_virtual_node() -> None:
    stack = run_program(MODES["aci-replicas"])
    assert stack.of_type(POD) == []
    deployment = as_object(web_workload(stack))
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "todoapp", "name": "web"}}
    assert deployment["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }


def test_outputs_name_the_workload_and_the_entry_points_address() -> None:
    stack = run_program(MODES["burst"])
    outputs = stack.stack_outputs
    assert outputs["webIp"] == LOAD_BALANCER_IP
    assert outputs["webUrl"] == f"http://{LOAD_BALANCER_IP}"
    assert outputs["appNamespace"] == "todo"
    assert outputs["appWorkload"] == {
        "kind": "Deployment",
        "name": "web",
        "placement": "burst",
        "replicas": 6,
        "selector": {"app": "todoapp", "name": "web"},
    }
    assert outputs["connectorNamespace"] == "aci-connector"
    assert outputs["connectorDeployment"] == "aci-connector"
    single = run_program().stack_outputs["appWorkload"]
    assert (single["kind"], single["placement"], single["replicas"]) == ("Pod", "aci", 1)

"""The entry point in front of the replicas (burst, or several replicas): what the program sends.

The proxy itself runs for real in tests/test_entry_proxy.py; here the objects around it, under
the fake cloud.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_cloud import LOAD_BALANCER_IP, UNKNOWN, Deployment, Registration, reveal, run_program

from core.aci_rules import runs_on_virtual_node, virtual_node

BURST = {"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "6"}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
GATE = "pulumi-python:dynamic/http:ReadinessGate"


@pytest.fixture(scope="module")
def stack() -> Deployment:
    return run_program(BURST)


def named(stack: Deployment, typ: str, name: str) -> Registration:
    [found] = [r for r in stack.of_type(typ) if r.inputs["metadata"].get("name") == name]
    return found


def entry_config_maps(stack: Deployment) -> list[Registration]:
    return [r for r in stack.of_type(CONFIG_MAP) if "envoy.json" in reveal(r.inputs["data"])]


def envoy_config(stack: Deployment) -> dict[str, Any]:
    [config_map] = entry_config_maps(stack)
    return json.loads(reveal(config_map.inputs["data"])["envoy.json"])


def test_the_proxies_run_only_on_gke_nodes_and_never_on_the_virtual_node(stack: Deployment) -> None:
    proxy = reveal(named(stack, DEPLOYMENT, "web-entry").inputs)
    spec = proxy["spec"]["template"]["spec"]
    assert not runs_on_virtual_node(proxy, [virtual_node("aci-connector")])
    assert "tolerations" not in spec
    [term] = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"
    ]
    assert term == {
        "matchExpressions": [{"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]}]
    }


def test_at_least_two_proxies_spread_over_nodes_with_a_disruption_budget(stack: Deployment) -> None:
    proxy = reveal(named(stack, DEPLOYMENT, "web-entry").inputs)
    assert proxy["spec"]["replicas"] >= 2
    [spread] = proxy["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname"
    assert spread["whenUnsatisfiable"] == "DoNotSchedule"
    assert spread["labelSelector"] == {"matchLabels": {"app": "todoapp", "name": "web-entry"}}
    [budget] = stack.of_type("kubernetes:policy/v1:PodDisruptionBudget")
    assert reveal(budget.inputs["spec"]) == {
        "minAvailable": 1,
        "selector": {"matchLabels": {"app": "todoapp", "name": "web-entry"}},
    }


def test_the_proxy_runs_unprivileged_from_its_image_setting(stack: Deployment) -> None:
    spec = reveal(named(stack, DEPLOYMENT, "web-entry").inputs)["spec"]["template"]["spec"]
    [envoy] = spec["containers"]
    assert envoy["image"] == "envoyproxy/envoy:distroless-v1.39.1"
    assert envoy["command"] == ["/usr/local/bin/envoy"]
    assert envoy["args"][:2] == ["--config-path", "/etc/envoy/envoy.json"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert envoy["securityContext"]["readOnlyRootFilesystem"] is True
    assert envoy["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # Probes ask the proxy itself, not a replica.
    assert envoy["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8081}
    custom = run_program(
        {**BURST, "gke-aci:entryProxyImage": "registry.example/envoy@sha256:" + "b" * 64}
    )
    [envoy] = reveal(named(custom, DEPLOYMENT, "web-entry").inputs)["spec"]["template"]["spec"][
        "containers"
    ]
    assert envoy["image"] == "registry.example/envoy@sha256:" + "b" * 64


def test_one_load_balancer_is_the_public_entry_point(stack: Deployment) -> None:
    [balancer] = [
        r for r in stack.of_type(SERVICE) if reveal(r.inputs["spec"]).get("type") == "LoadBalancer"
    ]
    spec = reveal(balancer.inputs["spec"])
    assert spec["selector"] == {"app": "todoapp", "name": "web-entry"}
    assert spec["ports"] == [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]
    assert spec["externalTrafficPolicy"] == "Local"
    assert balancer.inputs["metadata"]["name"] == "web"


def test_the_replicas_are_found_through_a_headless_service(stack: Deployment) -> None:
    replicas = named(stack, SERVICE, "web-replicas")
    spec = reveal(replicas.inputs["spec"])
    assert spec["clusterIP"] == "None"
    assert spec["selector"] == {"app": "todoapp", "name": "web"}
    [cluster] = envoy_config(stack)["static_resources"]["clusters"]
    [endpoint] = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert endpoint["endpoint"]["address"]["socket_address"] == {
        "address": "web-replicas.todo.svc.cluster.local",
        "port_value": 8080,
    }
    assert cluster["type"] == "STRICT_DNS"


def test_only_replicas_that_answer_their_health_check_get_traffic(stack: Deployment) -> None:
    [cluster] = envoy_config(stack)["static_resources"]["clusters"]
    [check] = cluster["health_checks"]
    assert check["http_health_check"] == {"path": "/healthz"}
    assert cluster["common_lb_config"] == {
        "healthy_panic_threshold": {"value": 0},
        "ignore_new_hosts_until_first_hc": True,
    }


def test_an_image_without_a_health_path_is_checked_at_its_root() -> None:
    stack = run_program({**BURST, "gke-aci:appImage": "janakiramm/todo"})
    [cluster] = envoy_config(stack)["static_resources"]["clusters"]
    assert cluster["health_checks"][0]["http_health_check"] == {"path": "/"}


def test_the_readiness_gate_waits_for_the_entry_point(stack: Deployment) -> None:
    [gate] = stack.of_type(GATE)
    assert reveal(gate.inputs["url"]) == f"http://{LOAD_BALANCER_IP}/healthz"
    [balancer] = [r for r in stack.of_type(SERVICE) if r.inputs["metadata"]["name"] == "web"]
    assert balancer.urn in gate.all_dependencies()
    web = named(stack, DEPLOYMENT, "web")
    assert web.urn in gate.all_dependencies()


def test_replicas_on_gke_take_requests_only_from_the_proxies(stack: Deployment) -> None:
    policies = {
        reveal(p.inputs["spec"])["podSelector"]["matchLabels"]["name"]: reveal(p.inputs["spec"])
        for p in stack.of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if reveal(p.inputs["metadata"]).get("namespace") == "todo"
    }
    assert policies["web"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app": "todoapp", "name": "web-entry"}}}],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]
    assert policies["web-entry"]["ingress"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]


def test_the_single_pod_has_no_entry_point() -> None:
    stack = run_program()
    assert entry_config_maps(stack) == []
    assert stack.of_type(SERVICE) == []


def test_a_first_preview_of_burst_mode_shows_the_address_as_unknown() -> None:
    stack = run_program(BURST, preview=True)
    assert stack.stack_outputs["webIp"] == UNKNOWN
    assert stack.stack_outputs["webUrl"] == UNKNOWN

"""The entry point in front of the replicas (burst, or several replicas): what the program sends.

The proxy itself runs for real in tests/test_entry_proxy.py; here the objects around it, under
the fake cloud.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_cloud import LOAD_BALANCER_IP, UNKNOWN, Deployment, Registration, reveal, run_program

from app.todo.keepalive import APP_KEEPALIVE_SECONDS
from core.aci_rules import runs_on_virtual_node, virtual_node
from specs.envoy_config import envoy_args

BURST = {"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "6"}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
GATE = "pulumi-python:dynamic/http:ReadinessGate"


@pytest.fixture
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
    assert envoy["args"] == envoy_args("/etc/envoy/envoy.json", cpus=1)
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
    # Every replica, ready or not: the proxy's health checks decide, also for a proxy started
    # while the virtual node is NotReady.
    assert spec["publishNotReadyAddresses"] is True
    [cluster] = envoy_config(stack)["static_resources"]["clusters"]
    [endpoint] = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
    # Fully qualified: no search domain is tried first on each refresh.
    assert endpoint["endpoint"]["address"]["socket_address"] == {
        "address": "web-replicas.todo.svc.cluster.local.",
        "port_value": 8080,
    }
    # The typed DNS cluster, not the deprecated STRICT_DNS fields.
    assert "type" not in cluster
    assert "dns_refresh_rate" not in cluster
    assert cluster["cluster_type"]["name"] == "envoy.clusters.dns"
    assert cluster["cluster_type"]["typed_config"]["dns_refresh_rate"] == "5s"


def test_only_replicas_that_answer_their_health_check_get_traffic(stack: Deployment) -> None:
    [cluster] = envoy_config(stack)["static_resources"]["clusters"]
    [check] = cluster["health_checks"]
    assert check["http_health_check"] == {
        "path": "/healthz",
        # A 5xx counts toward the threshold instead of taking the replica out at once.
        "retriable_statuses": [{"start": 500, "end": 600}],
    }
    assert check["unhealthy_threshold"] == 3
    assert check["interval"] == "5s"
    assert cluster["common_lb_config"] == {
        "healthy_panic_threshold": {"value": 0},
        "ignore_new_hosts_until_first_hc": True,
    }


def test_an_image_without_a_health_path_is_checked_at_its_root() -> None:
    stack = run_program({**BURST, "gke-aci:appImage": "janakiramm/todo"})
    [cluster] = envoy_config(stack)["static_resources"]["clusters"]
    assert cluster["health_checks"][0]["http_health_check"]["path"] == "/"


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
    # How the proxy starts and stops is known before anything exists.
    [envoy] = reveal(named(stack, DEPLOYMENT, "web-entry").inputs)["spec"]["template"]["spec"][
        "containers"
    ]
    assert envoy["args"] == envoy_args("/etc/envoy/envoy.json", cpus=1)
    assert envoy["lifecycle"] == {"preStop": {"sleep": {"seconds": 70}}}


def _seconds(duration: str) -> float:
    assert duration.endswith("s"), duration
    return float(duration[:-1])


def test_the_proxy_starts_with_one_worker_per_cpu_it_may_use_and_no_hot_restart(
    stack: Deployment,
) -> None:
    [envoy] = reveal(named(stack, DEPLOYMENT, "web-entry").inputs)["spec"]["template"]["spec"][
        "containers"
    ]
    args = envoy["args"]
    assert args[args.index("--concurrency") + 1] == envoy["resources"]["limits"]["cpu"] == "1"
    assert "--disable-hot-restart" in args
    assert args[args.index("--config-path") + 1] == "/etc/envoy/envoy.json"
    assert envoy["volumeMounts"] == [
        {"name": "config", "mountPath": "/etc/envoy", "readOnly": True},
        {"name": "tls", "mountPath": "/etc/envoy-tls", "readOnly": True},
    ]


def test_a_stopped_proxy_serves_until_the_load_balancer_has_left_and_its_clients_are_drained(
    stack: Deployment,
) -> None:
    spec = reveal(named(stack, DEPLOYMENT, "web-entry").inputs)["spec"]["template"]["spec"]
    [envoy] = spec["containers"]
    # No shell in the distroless image: the kubelet itself sleeps.
    wait = envoy["lifecycle"]["preStop"]["sleep"]["seconds"]
    [web, _ready] = envoy_config(stack)["static_resources"]["listeners"]
    manager = web["filter_chains"][0]["filters"][0]["typed_config"]
    [route] = manager["route_config"]["virtual_hosts"][0]["routes"]
    # GCP's check of the node: 3 failures 8 s apart, 1 s timeout (cloud-provider-gcp gce.go).
    load_balancer_leaves = 3 * 8 + 1
    # The last connection it sent is drained, and its last request answered.
    last_connection_closed = (
        _seconds(manager["common_http_protocol_options"]["max_connection_duration"])
        + _seconds(manager["drain_timeout"])
        + _seconds(route["route"]["timeout"])
    )
    assert wait >= load_balancer_leaves + last_connection_closed
    assert wait == 70
    assert wait < spec["terminationGracePeriodSeconds"] <= wait + 10


def test_the_proxy_closes_idle_connections_to_a_replica_before_the_app_does(
    stack: Deployment,
) -> None:
    [cluster] = envoy_config(stack)["static_resources"]["clusters"]
    options = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    ]
    idle = _seconds(options["common_http_protocol_options"]["idle_timeout"])
    assert 0 < idle <= APP_KEEPALIVE_SECONDS - 1


def test_retries_are_safe_budgeted_and_unreachable_replicas_are_ejected(
    stack: Deployment,
) -> None:
    [cluster] = envoy_config(stack)["static_resources"]["clusters"]
    [web, _ready] = envoy_config(stack)["static_resources"]["listeners"]
    manager = web["filter_chains"][0]["filters"][0]["typed_config"]
    [route] = manager["route_config"]["virtual_hosts"][0]["routes"]
    # Only where the replica never saw the request: safe for a POST too.
    assert route["route"]["retry_policy"]["retry_on"] == "connect-failure,reset-before-request"
    [thresholds] = cluster["circuit_breakers"]["thresholds"]
    assert thresholds["retry_budget"]["budget_percent"] == {"value": 20}
    outlier = cluster["outlier_detection"]
    assert outlier["split_external_local_origin_errors"] is True
    assert outlier["consecutive_local_origin_failure"] == 2
    # The app's own 5xx answers never eject: that is the health check's call.
    assert outlier["enforcing_consecutive_5xx"] == 0
    assert outlier["enforcing_success_rate"] == 0
    assert cluster["lb_policy"] == "LEAST_REQUEST"


def test_the_door_is_bounded(stack: Deployment) -> None:
    config = envoy_config(stack)
    [monitor] = config["overload_manager"]["resource_monitors"]
    assert monitor["name"] == "envoy.resource_monitors.global_downstream_max_connections"
    assert monitor["typed_config"]["max_active_downstream_connections"] == 1024
    [cluster] = config["static_resources"]["clusters"]
    assert cluster["per_connection_buffer_limit_bytes"] == 32768
    for listener in config["static_resources"]["listeners"]:
        assert listener["per_connection_buffer_limit_bytes"] == 32768
        manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
        assert manager["request_headers_timeout"] == "10s"
        assert manager["codec_type"] == "HTTP1"
        assert manager["normalize_path"] is True
        assert manager["merge_slashes"] is True
        assert manager["common_http_protocol_options"]["headers_with_underscores_action"] == (
            "DROP_HEADER"
        )

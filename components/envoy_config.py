"""The entry point's Envoy configuration: every request to a replica that answers its health check.

Why Envoy and why active health checks: docs/decisions/0008-entry-point-envoy.md. In short, the
connector reports an ACI pod Ready as soon as its container runs and never reads the readiness
probe (azure-aci ``containergroup_to_pod.go``; azure-aci #145), so only the proxy's own checks
keep a cold or broken replica out of rotation.

- Replicas are found by DNS: the app's headless Service resolves to every ready endpoint, ACI
  public IPs included (``STRICT_DNS`` re-resolves every few seconds).
- Every replica is checked with ``GET <health path>`` and gets traffic only while it answers 200;
  a new replica gets none until its first check passes, and with ``healthy_panic_threshold`` 0
  Envoy never falls back to sending traffic to unhealthy replicas (it answers 503 instead).
- A request that could not reach a replica at all is retried on another one.

The health checks cost little: with two proxies, each replica is asked every 5 s by each, and our
app's ``/healthz`` pings the database once per request.
"""

from __future__ import annotations

import json
from typing import Any

LISTEN_PORT = 8080
# Answers the kubelet's probes without touching a replica: the proxy itself is up.
READY_PORT = 8081
READY_PATH = "/ready"
# Envoy's admin interface, on loopback only: it can stop the server.
ADMIN_PORT = 9901
CONFIG_FILE = "envoy.json"

HEALTH_CHECK_INTERVAL = "5s"
HEALTH_CHECK_TIMEOUT = "2s"
# A replica leaves rotation after 2 failed checks (about 10 s) and comes back after 2 good ones.
UNHEALTHY_THRESHOLD = 2
HEALTHY_THRESHOLD = 2
DNS_REFRESH = "5s"
UPSTREAM_CLUSTER = "web"

_TYPES = "type.googleapis.com/envoy.extensions"
_HCM = f"{_TYPES}.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = f"{_TYPES}.filters.http.router.v3.Router"
_STDOUT_LOG = f"{_TYPES}.access_loggers.stream.v3.StdoutAccessLog"
_PREVIOUS_HOSTS = f"{_TYPES}.retry.host.previous_hosts.v3.PreviousHostsPredicate"


def _address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def _http_listener(name: str, port: int, route: dict[str, Any], *, log: bool) -> dict[str, Any]:
    manager: dict[str, Any] = {
        "@type": _HCM,
        "stat_prefix": name,
        # The edge: the client's address is the connection's (the load balancer keeps it with
        # externalTrafficPolicy Local).
        "use_remote_address": True,
        "route_config": {
            "name": name,
            "virtual_hosts": [{"name": name, "domains": ["*"], "routes": [route]}],
        },
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER}}],
    }
    if log:
        manager["access_log"] = [
            {"name": "envoy.access_loggers.stdout", "typed_config": {"@type": _STDOUT_LOG}}
        ]
    return {
        "name": name,
        "address": _address("0.0.0.0", port),
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": manager,
                    }
                ]
            }
        ],
    }


def envoy_bootstrap(*, upstream_host: str, upstream_port: int, health_path: str) -> dict[str, Any]:
    """Envoy's bootstrap (API v3) for replicas found at ``upstream_host`` (a DNS name)."""
    to_replicas = {
        "match": {"prefix": "/"},
        "route": {
            "cluster": UPSTREAM_CLUSTER,
            "timeout": "30s",
            # Only failures where the replica never got the request: safe for any method. Each
            # retry goes to another replica than the ones already tried.
            "retry_policy": {
                "retry_on": "connect-failure,refused-stream",
                "num_retries": 2,
                "retry_host_predicate": [
                    {
                        "name": "envoy.retry_host_predicates.previous_hosts",
                        "typed_config": {"@type": _PREVIOUS_HOSTS},
                    }
                ],
                "host_selection_retry_max_attempts": 3,
            },
        },
    }
    ready = {
        "match": {"path": READY_PATH},
        "direct_response": {"status": 200, "body": {"inline_string": "ready\n"}},
    }
    return {
        "admin": {"address": _address("127.0.0.1", ADMIN_PORT)},
        "static_resources": {
            "listeners": [
                _http_listener("web", LISTEN_PORT, to_replicas, log=True),
                _http_listener("ready", READY_PORT, ready, log=False),
            ],
            "clusters": [
                {
                    "name": UPSTREAM_CLUSTER,
                    "type": "STRICT_DNS",
                    "dns_lookup_family": "V4_ONLY",
                    "dns_refresh_rate": DNS_REFRESH,
                    "connect_timeout": "3s",
                    "lb_policy": "ROUND_ROBIN",
                    "common_lb_config": {
                        # Never route to unhealthy replicas, however few are healthy.
                        "healthy_panic_threshold": {"value": 0},
                        # A new replica (an ACI container group just started) gets no traffic
                        # before its first health check passes.
                        "ignore_new_hosts_until_first_hc": True,
                    },
                    "load_assignment": {
                        "cluster_name": UPSTREAM_CLUSTER,
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": _address(upstream_host, upstream_port)
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                    "health_checks": [
                        {
                            "timeout": HEALTH_CHECK_TIMEOUT,
                            "interval": HEALTH_CHECK_INTERVAL,
                            # Replicas are checked at the same pace before traffic arrives.
                            "no_traffic_interval": HEALTH_CHECK_INTERVAL,
                            "unhealthy_threshold": UNHEALTHY_THRESHOLD,
                            "healthy_threshold": HEALTHY_THRESHOLD,
                            "http_health_check": {"path": health_path},
                        }
                    ],
                }
            ],
        },
    }


def render(bootstrap: dict[str, Any]) -> str:
    """The configuration file's text (JSON, which Envoy reads by the ``.json`` extension)."""
    return json.dumps(bootstrap, indent=2, sort_keys=True) + "\n"

"""The entry point's Envoy configuration: every request to a replica that answers its health check.

Why Envoy and why active health checks: docs/decisions/0008-entry-point-envoy.md; how it behaves
under failures, with the seconds each costs: docs/entry-point.md. In short, the connector reports
an ACI pod Ready as soon as its container runs and never reads the readiness probe (azure-aci
``containergroup_to_pod.go``; azure-aci #145), so only the proxy's own checks keep a cold or
broken replica out of rotation.

- Replicas are found by DNS: the app's headless Service lists every replica, ready or not
  (``publishNotReadyAddresses``), and Envoy asks for it every ``dns_refresh`` seconds. kube-dns
  answers with a 30 s TTL (kubernetes/dns ``pkg/dns/util/util.go``), so a new replica may wait
  that long to be seen.
- Every replica is checked with ``GET <health path>``; one 5xx answer (a database blip) does not
  take it out, ``unhealthy_threshold`` in a row do. A new replica gets no traffic before its first
  check passes, and with ``healthy_panic_threshold`` 0 Envoy answers 503 rather than fall back to
  unhealthy replicas.
- A request that never reached a replica is retried on another one, within a retry budget; a
  replica that cannot be connected to twice in a row is ejected at once (outlier detection on
  local-origin failures) rather than after its health checks time out.
- At the door: a cap on connections, a deadline for request headers, 32 KiB buffers per
  connection, normalized paths (envoy ``docs/root/configuration/best_practices/edge.rst``).
- With ``UpstreamTls``, every connection to a replica, health checks included, is TLS 1.3 with
  the proxy's client certificate, and the replica must present a certificate from the stack's CA
  for the one fixed name (docs/decisions/0022-mutual-tls-to-replicas.md).

The health checks cost little: with two proxies, each replica is asked every 5 s by each, and our
app's ``/healthz`` pings the database once per request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.todo.keepalive import proxy_idle_seconds

LISTEN_PORT = 8080
# Answers the kubelet's probes without touching a replica: the proxy itself is up.
READY_PORT = 8081
READY_PATH = "/ready"
# Envoy's admin interface, on loopback only: it can stop the server.
ADMIN_PORT = 9901
CONFIG_FILE = "envoy.json"
UPSTREAM_CLUSTER = "web"
# Envoy's edge best practices (edge.rst): 32 KiB per connection, both sides.
BUFFER_LIMIT_BYTES = 32 * 1024


@dataclass(frozen=True)
class ProxyTiming:
    """Every time and count that decides how fast the proxy reacts; the defaults are deployed.

    The tests render the same configuration with shorter times, so that a health-check round
    takes a fraction of a second.
    """

    health_interval: float = 5
    health_timeout: float = 2
    # Consecutive failed checks (refused, timed out or 5xx) that take a replica out of rotation.
    unhealthy_threshold: int = 3
    healthy_threshold: int = 2
    dns_refresh: float = 5
    # Cross-cloud round trips are tens of milliseconds; 3 s leaves room for a lost SYN's resend.
    connect_timeout: float = 3
    # The whole request, retries included: gunicorn's worker timeout (todo.gunicorn_conf).
    request_timeout: float = 30
    # A client connection is drained (``Connection: close`` on a response) after this long, so
    # that a proxy being stopped has no client connection left (components/entry_point.py).
    connection_lifetime: float = 10
    # How long a drained HTTP/1.1 connection waits for a request to answer with the close.
    drain_timeout: float = 5
    request_headers_timeout: float = 10
    # An idle connection to a replica closes before the app closes it (todo.keepalive).
    upstream_idle: float = proxy_idle_seconds()
    # Assumption: at 32 KiB per buffer, 1024 connections with full buffers both ways hold 64 MiB,
    # a quarter of the proxy's memory limit, 256 Mi (components/entry_point.py; a flood is
    # measured in tests/test_entry_proxy.py).
    max_connections: int = 1024
    # Connection failures in a row that eject a replica, and for how long at first.
    local_failures_to_eject: int = 2
    ejection_time: float = 30


DEPLOYED = ProxyTiming()

_TYPES = "type.googleapis.com/envoy.extensions"
_HCM = f"{_TYPES}.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER = f"{_TYPES}.filters.http.router.v3.Router"
_STDOUT_LOG = f"{_TYPES}.access_loggers.stream.v3.StdoutAccessLog"
_PREVIOUS_HOSTS = f"{_TYPES}.retry.host.previous_hosts.v3.PreviousHostsPredicate"
_DNS_CLUSTER = f"{_TYPES}.clusters.dns.v3.DnsCluster"
_CONNECTION_CAP = (
    f"{_TYPES}.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig"
)
_HTTP_OPTIONS = f"{_TYPES}.upstreams.http.v3.HttpProtocolOptions"
_UPSTREAM_TLS = f"{_TYPES}.transport_sockets.tls.v3.UpstreamTlsContext"


@dataclass(frozen=True)
class UpstreamTls:
    """Mutual TLS to the replicas: the proxy's certificate and key, the CA and the name to check.

    Files, not inline values: the key reaches the proxy only in a Secret it mounts, never in the
    ConfigMap that holds this configuration.
    """

    cert_file: str
    key_file: str
    ca_file: str
    # The DNS name every replica's certificate carries; their IPs change, so this is checked.
    server_name: str


def seconds(value: float) -> str:
    """A protobuf Duration in JSON form."""
    return f"{value:g}s"


def envoy_args(config_path: str, *, cpus: int) -> list[str]:
    """Envoy's command-line arguments, the same for the Deployment and the tests.

    One worker per CPU the container may use (Envoy otherwise starts one per hardware thread of
    the node); no hot restart, which Kubernetes never does (it starts a new pod) and which needs
    shared memory.
    """
    return [
        "--config-path",
        config_path,
        "--concurrency",
        str(cpus),
        "--disable-hot-restart",
        "--log-level",
        "info",
    ]


def _address(host: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": host, "port_value": port}}


def _http_listener(
    name: str, port: int, route: dict[str, Any], timing: ProxyTiming, *, public: bool
) -> dict[str, Any]:
    """The public listener logs each request; the probes' listener is outside the connection cap,
    so a flood at the cap does not fail the kubelet's liveness probe and restart the proxy."""
    manager: dict[str, Any] = {
        "@type": _HCM,
        "stat_prefix": name,
        # Plain HTTP/1.1, which is what browsers speak without TLS; no HTTP/2 to bound.
        "codec_type": "HTTP1",
        # The edge: the client's address is the connection's (the load balancer keeps it with
        # externalTrafficPolicy Local).
        "use_remote_address": True,
        # A client gets this long to send its request headers: slow clients cannot hold
        # connections open.
        "request_headers_timeout": seconds(timing.request_headers_timeout),
        "common_http_protocol_options": {
            "max_connection_duration": seconds(timing.connection_lifetime),
            # Headers whose names differ from another's only by '_' for '-' reach a WSGI app
            # as the same variable; they are dropped rather than the request refused
            # (docs/decisions/0019-entry-point-under-real-traffic.md).
            "headers_with_underscores_action": "DROP_HEADER",
        },
        "drain_timeout": seconds(timing.drain_timeout),
        # One spelling of a path for routing and for the app: "/a/../b" and "//b" are "/b".
        "normalize_path": True,
        "merge_slashes": True,
        "route_config": {
            "name": name,
            "virtual_hosts": [{"name": name, "domains": ["*"], "routes": [route]}],
        },
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER}}],
    }
    if public:
        manager["access_log"] = [
            {"name": "envoy.access_loggers.stdout", "typed_config": {"@type": _STDOUT_LOG}}
        ]
    return {
        "name": name,
        "address": _address("0.0.0.0", port),
        "ignore_global_conn_limit": not public,
        "per_connection_buffer_limit_bytes": BUFFER_LIMIT_BYTES,
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


def _route_to_replicas(timing: ProxyTiming) -> dict[str, Any]:
    return {
        "match": {"prefix": "/"},
        "route": {
            "cluster": UPSTREAM_CLUSTER,
            "timeout": seconds(timing.request_timeout),
            # Only failures where the replica never got the request: safe for any method. Each
            # retry goes to another replica than the ones already tried.
            "retry_policy": {
                "retry_on": "connect-failure,reset-before-request",
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


def _transport_socket(tls: UpstreamTls) -> dict[str, Any]:
    """TLS 1.3 with the client certificate; the replica's certificate checked against the CA and
    the fixed name (a certificate from another CA, or for another name, fails the handshake)."""
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": _UPSTREAM_TLS,
            "sni": tls.server_name,
            "common_tls_context": {
                "tls_params": {
                    "tls_minimum_protocol_version": "TLSv1_3",
                    "tls_maximum_protocol_version": "TLSv1_3",
                },
                "tls_certificates": [
                    {
                        "certificate_chain": {"filename": tls.cert_file},
                        "private_key": {"filename": tls.key_file},
                    }
                ],
                "validation_context": {
                    "trusted_ca": {"filename": tls.ca_file},
                    "match_typed_subject_alt_names": [
                        {"san_type": "DNS", "matcher": {"exact": tls.server_name}}
                    ],
                },
            },
        },
    }


def _replicas_cluster(
    upstream_host: str,
    upstream_port: int,
    health_path: str,
    timing: ProxyTiming,
    tls: UpstreamTls | None,
) -> dict[str, Any]:
    cluster = {
        "name": UPSTREAM_CLUSTER,
        "cluster_type": {
            "name": "envoy.clusters.dns",
            "typed_config": {
                "@type": _DNS_CLUSTER,
                "dns_refresh_rate": seconds(timing.dns_refresh),
                "dns_lookup_family": "V4_ONLY",
            },
        },
        "connect_timeout": seconds(timing.connect_timeout),
        "per_connection_buffer_limit_bytes": BUFFER_LIMIT_BYTES,
        # A replica answering slowly (one in ACI, tens of milliseconds away, or a busy one)
        # holds more requests open, so it is picked less often than under round robin.
        "lb_policy": "LEAST_REQUEST",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _HTTP_OPTIONS,
                "common_http_protocol_options": {"idle_timeout": seconds(timing.upstream_idle)},
                "explicit_http_config": {"http_protocol_options": {}},
            }
        },
        "circuit_breakers": {
            # Retries may add a fifth to the requests in flight (and always 10), instead of the
            # default of 3 retries at a time for the whole cluster, which load overflows.
            "thresholds": [
                {"retry_budget": {"budget_percent": {"value": 20}, "min_retry_concurrency": 10}}
            ]
        },
        "outlier_detection": {
            # Only failures to connect eject, quickly; the app's own 5xx answers are for the
            # health check to weigh.
            "split_external_local_origin_errors": True,
            "consecutive_local_origin_failure": timing.local_failures_to_eject,
            "enforcing_consecutive_local_origin_failure": 100,
            "enforcing_local_origin_success_rate": 0,
            "enforcing_consecutive_5xx": 0,
            "enforcing_consecutive_gateway_failure": 0,
            "enforcing_success_rate": 0,
            "enforcing_failure_percentage": 0,
            "enforcing_failure_percentage_local_origin": 0,
            "base_ejection_time": seconds(timing.ejection_time),
            "max_ejection_percent": 100,
        },
        "common_lb_config": {
            # Never route to unhealthy replicas, however few are healthy.
            "healthy_panic_threshold": {"value": 0},
            # A new replica (an ACI container group just started) gets no traffic before its
            # first health check passes.
            "ignore_new_hosts_until_first_hc": True,
        },
        "load_assignment": {
            "cluster_name": UPSTREAM_CLUSTER,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {"endpoint": {"address": _address(upstream_host, upstream_port)}}
                    ]
                }
            ],
        },
        "health_checks": [
            {
                "timeout": seconds(timing.health_timeout),
                "interval": seconds(timing.health_interval),
                # Replicas are checked at the same pace before traffic arrives.
                "no_traffic_interval": seconds(timing.health_interval),
                "unhealthy_threshold": timing.unhealthy_threshold,
                "healthy_threshold": timing.healthy_threshold,
                "http_health_check": {
                    "path": health_path,
                    # Without this, one non-200 answer takes a replica out at once; only
                    # network failures would count toward unhealthy_threshold (envoy
                    # source/extensions/health_checkers/http/health_checker_impl.cc).
                    "retriable_statuses": [{"start": 500, "end": 600}],
                },
            }
        ],
    }
    if tls is not None:
        # Health checks use the cluster's transport socket: they go over the same TLS.
        cluster["transport_socket"] = _transport_socket(tls)
    return cluster


def _overload_manager(timing: ProxyTiming) -> dict[str, Any]:
    return {
        "resource_monitors": [
            {
                "name": "envoy.resource_monitors.global_downstream_max_connections",
                "typed_config": {
                    "@type": _CONNECTION_CAP,
                    "max_active_downstream_connections": timing.max_connections,
                },
            }
        ]
    }


def envoy_bootstrap(
    *,
    upstream_host: str,
    upstream_port: int,
    health_path: str,
    timing: ProxyTiming = DEPLOYED,
    upstream_tls: UpstreamTls | None = None,
) -> dict[str, Any]:
    """Envoy's bootstrap (API v3) for replicas found at ``upstream_host`` (a DNS name), reached
    over mutual TLS when ``upstream_tls`` is given."""
    ready = {
        "match": {"path": READY_PATH},
        "direct_response": {"status": 200, "body": {"inline_string": "ready\n"}},
    }
    return {
        "admin": {"address": _address("127.0.0.1", ADMIN_PORT)},
        "overload_manager": _overload_manager(timing),
        "static_resources": {
            "listeners": [
                _http_listener("web", LISTEN_PORT, _route_to_replicas(timing), timing, public=True),
                _http_listener("ready", READY_PORT, ready, timing, public=False),
            ],
            "clusters": [
                _replicas_cluster(upstream_host, upstream_port, health_path, timing, upstream_tls)
            ],
        },
    }


def render(bootstrap: dict[str, Any]) -> str:
    """The configuration file's text (JSON, which Envoy reads by the ``.json`` extension)."""
    return json.dumps(bootstrap, indent=2, sort_keys=True) + "\n"

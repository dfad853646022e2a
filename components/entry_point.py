"""One public entry point on GKE in front of the app's replicas, wherever they run.

A ``LoadBalancer`` Service in front of a small Envoy Deployment that runs only on GKE nodes and
sends each request to a replica, on GKE or in ACI, that currently answers its health check
(specs/envoy_config.py; docs/decisions/0008-entry-point-envoy.md). Why not a plain Service
in front of the replicas: the connector marks an ACI pod Ready before the app in it answers, and
a GKE load balancer forwarding straight to endpoints outside the cluster network is unproven on
Dataplane V2 (Cilium #18979, #26519), while a pod connecting to an outside IP is the ordinary
egress path (through Cloud NAT with private nodes).
"""

from __future__ import annotations

import math
import posixpath
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.replica_tls import KeyPair
from core.app_contract import (
    APP_LABELS,
    REPLICA_SERVER_NAME,
    TLS_CA_FILE,
    TLS_CERT_FILE,
    TLS_KEY_FILE,
)
from specs.envoy_config import (
    CONFIG_FILE,
    DEPLOYED,
    LISTEN_PORT,
    READY_PATH,
    READY_PORT,
    ProxyTiming,
    UpstreamTls,
    envoy_args,
    envoy_bootstrap,
    render,
)
from specs.pod_security import DISTROLESS_NONROOT, container_security, pod_security
from specs.scan_skips import checkov_skips
from specs.web_workload import AWAY_FROM_VIRTUAL_NODES, READY_TIMEOUT, web_url

ENTRY = "web-entry"
ENTRY_LABELS = {**APP_LABELS, "name": ENTRY}
# Two proxies on two nodes: one may be drained or upgraded while the other serves.
REPLICAS = 2
PUBLIC_PORT = 80
CONFIG_PATH = f"/etc/envoy/{CONFIG_FILE}"
# The client certificate, its key and the CA, from a Secret mounted read-only.
TLS_DIR = "/etc/envoy-tls"
UPSTREAM_TLS = UpstreamTls(
    cert_file=f"{TLS_DIR}/{TLS_CERT_FILE}",
    key_file=f"{TLS_DIR}/{TLS_KEY_FILE}",
    ca_file=f"{TLS_DIR}/{TLS_CA_FILE}",
    server_name=REPLICA_SERVER_NAME,
)
# Envoy starts one worker thread per CPU it may use (envoy_args).
CPU_LIMIT = 1
# Envoy's connection cap and buffer limits are sized against it (specs/envoy_config.py).
MEMORY_LIMIT_MIB = 256

# GCP's health check of a node behind a LoadBalancer Service with externalTrafficPolicy Local:
# every 8 s, 1 s timeout, out after 3 failures (kubernetes/cloud-provider-gcp
# providers/gce/gce.go, gceHcCheckIntervalSeconds, gceHcTimeoutSeconds, gceHcUnhealthyThreshold).
# Its first failing check comes within one interval of the proxy leaving the node's endpoints,
# the third two intervals later.
LB_CHECK_INTERVAL_SECONDS = 8
LB_CHECK_TIMEOUT_SECONDS = 1
LB_UNHEALTHY_THRESHOLD = 3
LB_STOPS_SENDING_SECONDS = (
    LB_CHECK_INTERVAL_SECONDS * LB_UNHEALTHY_THRESHOLD + LB_CHECK_TIMEOUT_SECONDS
)
# Envoy exits within milliseconds of SIGTERM (measured with 1.39.1: 11-16 ms); a margin.
_EXIT_SECONDS = 5


def pre_stop_seconds(
    timing: ProxyTiming = DEPLOYED, load_balancer_seconds: float = LB_STOPS_SENDING_SECONDS
) -> int:
    """How long a proxy being stopped keeps serving before SIGTERM (on which Envoy exits at once).

    Until the load balancer stops sending (``load_balancer_seconds``) new connections still
    arrive; the last of them is drained after ``connection_lifetime`` (``Connection: close`` on
    its next response, within ``drain_timeout``), and a request in flight then ends within
    ``request_timeout``. After that no client connection is left to cut
    (docs/decisions/0019-entry-point-under-real-traffic.md).
    """
    return math.ceil(
        load_balancer_seconds
        + timing.connection_lifetime
        + timing.drain_timeout
        + timing.request_timeout
    )


def termination_grace_seconds(timing: ProxyTiming = DEPLOYED) -> int:
    """The pod's grace period: the preStop wait, then Envoy's exit."""
    return pre_stop_seconds(timing) + _EXIT_SECONDS


@dataclass(frozen=True)
class EntryPointArgs:
    namespace: pulumi.Input[str]
    image: str
    # The fully qualified DNS name (with its trailing dot, so no search domain is tried) of the
    # app's headless Service, which lists every replica, and the port.
    replicas_host: pulumi.Input[str]
    app_port: int
    # GET path that answers 200 only on a replica that can serve.
    health_path: str
    # The proxy's client certificate when the replicas require mutual TLS; None: plain HTTP (an
    # appImage, which the stack cannot make serve TLS).
    client_tls: KeyPair | None = None


class EntryPoint(pulumi.ComponentResource):
    """Envoy on GKE behind a load balancer; ``ip`` and ``url`` are the app's public address."""

    ip: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self, name: str, args: EntryPointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:kubernetes:EntryPoint", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self)  # the Kubernetes provider comes from opts
        namespace = args.namespace

        upstream_tls = UPSTREAM_TLS if args.client_tls is not None else None
        upstream = pulumi.Output.from_input(args.replicas_host).apply(
            lambda host: render(
                envoy_bootstrap(
                    upstream_host=host,
                    upstream_port=args.app_port,
                    health_path=args.health_path,
                    upstream_tls=upstream_tls,
                )
            )
        )
        # Immutable and auto-named: a new configuration makes a new ConfigMap and rolls the
        # proxies, instead of changing a file under running ones.
        config = k8s.core.v1.ConfigMap(
            name,
            metadata={"namespace": namespace, "labels": ENTRY_LABELS},
            immutable=True,
            data={CONFIG_FILE: upstream},
            opts=k8s_opts,
        )

        # Immutable and auto-named as the ConfigMap: a rotated certificate rolls the proxies.
        tls_secret = (
            k8s.core.v1.Secret(
                f"{name}-tls",
                metadata={"namespace": namespace, "labels": ENTRY_LABELS},
                type="kubernetes.io/tls",
                immutable=True,
                string_data={
                    TLS_CERT_FILE: args.client_tls.cert_pem,
                    TLS_KEY_FILE: args.client_tls.key_pem,
                    TLS_CA_FILE: args.client_tls.ca_cert_pem,
                },
                opts=k8s_opts,
            )
            if args.client_tls is not None
            else None
        )

        k8s.apps.v1.Deployment(
            name,
            metadata={
                "name": ENTRY,
                "namespace": namespace,
                "labels": ENTRY_LABELS,
                "annotations": checkov_skips(
                    {
                        "CKV_K8S_43": "the image is a setting (entryProxyImage); the default is "
                        "Envoy's release tag and a digest can be set there"
                    }
                ),
            },
            spec={
                "replicas": REPLICAS,
                "selector": {"match_labels": ENTRY_LABELS},
                "strategy": {
                    "type": "RollingUpdate",
                    "rolling_update": {"max_surge": 1, "max_unavailable": 0},
                },
                "template": {
                    "metadata": {"labels": ENTRY_LABELS},
                    "spec": _proxy_pod_spec(
                        args,
                        config.metadata.apply(lambda m: m.name or ""),
                        tls_secret.metadata.apply(lambda m: m.name or "") if tls_secret else None,
                    ),
                },
            },
            opts=k8s_opts,
        )

        k8s.policy.v1.PodDisruptionBudget(
            name,
            metadata={"name": ENTRY, "namespace": namespace, "labels": ENTRY_LABELS},
            spec={"min_available": 1, "selector": {"match_labels": ENTRY_LABELS}},
            opts=k8s_opts,
        )

        # The proxies accept the public's requests on their listener; the kubelet's probes come
        # from the node, which Kubernetes always admits.
        k8s.networking.v1.NetworkPolicy(
            name,
            metadata={"namespace": namespace, "labels": ENTRY_LABELS},
            spec={
                "pod_selector": {"match_labels": ENTRY_LABELS},
                "policy_types": ["Ingress"],
                "ingress": [{"ports": [{"protocol": "TCP", "port": LISTEN_PORT}]}],
            },
            opts=k8s_opts,
        )

        service = k8s.core.v1.Service(
            name,
            metadata={"name": "web", "namespace": namespace, "labels": ENTRY_LABELS},
            spec={
                "type": "LoadBalancer",
                "selector": ENTRY_LABELS,
                # Only nodes that run a proxy take traffic (the load balancer's health check
                # says which), and the client's address reaches the proxy.
                "external_traffic_policy": "Local",
                "ports": [
                    {
                        "name": "http",
                        "port": PUBLIC_PORT,
                        "target_port": LISTEN_PORT,
                        "protocol": "TCP",
                    }
                ],
            },
            opts=pulumi.ResourceOptions.merge(
                k8s_opts,
                pulumi.ResourceOptions(
                    custom_timeouts=pulumi.CustomTimeouts(
                        create=READY_TIMEOUT, update=READY_TIMEOUT
                    )
                ),
            ),
        )

        self.ip = service.status.apply(_load_balancer_ip)
        self.url = self.ip.apply(lambda ip: web_url(ip, PUBLIC_PORT))
        self.register_outputs({"ip": self.ip, "url": self.url})


def _load_balancer_ip(status: k8s.core.v1.outputs.ServiceStatus | None) -> str:
    ingress = (status.load_balancer.ingress if status and status.load_balancer else None) or []
    return next((entry.ip for entry in ingress if entry.ip), "")


def _proxy_pod_spec(
    args: EntryPointArgs, config_map: pulumi.Input[str], tls_secret: pulumi.Input[str] | None
) -> k8s.core.v1.PodSpecArgsDict:
    """Envoy on GKE nodes only, one per node, as an unprivileged process."""
    mounts: list[k8s.core.v1.VolumeMountArgsDict] = [
        {"name": "config", "mount_path": posixpath.dirname(CONFIG_PATH), "read_only": True}
    ]
    volumes: list[k8s.core.v1.VolumeArgsDict] = [
        {"name": "config", "config_map": {"name": config_map}}
    ]
    if tls_secret is not None:
        mounts.append({"name": "tls", "mount_path": TLS_DIR, "read_only": True})
        volumes.append({"name": "tls", "secret": {"secret_name": tls_secret}})
    return {
        # Never on the virtual node: the proxy must be inside the cluster network.
        "affinity": {
            "node_affinity": {
                "required_during_scheduling_ignored_during_execution": {
                    "node_selector_terms": [{"match_expressions": [AWAY_FROM_VIRTUAL_NODES]}]
                }
            }
        },
        "topology_spread_constraints": [
            {
                "max_skew": 1,
                "topology_key": "kubernetes.io/hostname",
                "when_unsatisfiable": "DoNotSchedule",
                "label_selector": {"match_labels": ENTRY_LABELS},
            }
        ],
        "automount_service_account_token": False,
        "termination_grace_period_seconds": termination_grace_seconds(),
        "enable_service_links": False,
        # Envoy's distroless image runs as distroless's nonroot user.
        "security_context": pod_security(DISTROLESS_NONROOT),
        "containers": [
            {
                "name": "envoy",
                "image": args.image,
                "image_pull_policy": "Always",
                "command": ["/usr/local/bin/envoy"],
                "args": envoy_args(CONFIG_PATH, cpus=CPU_LIMIT),
                "ports": [
                    {"name": "http", "container_port": LISTEN_PORT, "protocol": "TCP"},
                    {"name": "ready", "container_port": READY_PORT, "protocol": "TCP"},
                ],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "128Mi"},
                    "limits": {"cpu": str(CPU_LIMIT), "memory": f"{MEMORY_LIMIT_MIB}Mi"},
                },
                # Keep serving while the load balancer still sends here, and until every client
                # connection has been drained; the image has no shell, so the kubelet sleeps
                # (the sleep action: on by default since Kubernetes 1.30, GA in 1.34,
                # kubernetes/website feature-gates/PodLifecycleSleepAction.md).
                "lifecycle": {"pre_stop": {"sleep": {"seconds": pre_stop_seconds()}}},
                "security_context": container_security(),
                "readiness_probe": {
                    "http_get": {"path": READY_PATH, "port": READY_PORT},
                    "period_seconds": 5,
                },
                "liveness_probe": {
                    "http_get": {"path": READY_PATH, "port": READY_PORT},
                    "initial_delay_seconds": 10,
                    "period_seconds": 10,
                },
                "volume_mounts": mounts,
            }
        ],
        "volumes": volumes,
    }

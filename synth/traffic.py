"""How requests travel once deployed: the public side, and the entry point's hop to the replicas.

The resource graph shows what each resource waits for; this shows what the app's traffic is on
each hop, read from what the program registers: a ``LoadBalancer`` Service (plain HTTP), the
entry point's Envoy configuration (mutual TLS to the replicas when its cluster has a TLS
transport socket: docs/decisions/0022-mutual-tls-to-replicas.md), and the single pod on the
virtual node (its declared ports, published on its public IP in plain HTTP).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.aci_rules import VIRTUAL_NODE_LABEL
from core.aci_rules.values import KNOWN_AFTER_DEPLOY
from synth.engine import UNKNOWN, Deployment, reveal

_SERVICE = "kubernetes:core/v1:Service"
_CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
_POD = "kubernetes:core/v1:Pod"
_ENVOY_FILE = "envoy.json"


def traffic_lines(deployment: Deployment) -> list[str]:
    """One line per hop the app's requests take, with what protects it."""
    return [
        *_public_load_balancers(deployment),
        *_entry_point_hops(deployment),
        *_public_pods(deployment),
    ]


def _public_load_balancers(deployment: Deployment) -> list[str]:
    lines = []
    for service in deployment.of_type(_SERVICE):
        obj = reveal(service.inputs)
        spec = obj.get("spec") or {}
        if spec.get("type") != "LoadBalancer":
            continue
        ports = ", ".join(str(p.get("port")) for p in spec.get("ports") or [])
        lines.append(
            f"the internet -> Service {_where(obj)} (load balancer on GKE, port {ports}): "
            "plain HTTP"
        )
    return lines


def _entry_point_hops(deployment: Deployment) -> list[str]:
    lines = []
    for config_map in deployment.of_type(_CONFIG_MAP):
        data = reveal(config_map.inputs).get("data") or {}
        if _ENVOY_FILE not in data:
            continue
        text = data[_ENVOY_FILE]
        if text == UNKNOWN:
            lines.append("entry point -> replicas: its configuration is known after deploy")
            continue
        for cluster in json.loads(text)["static_resources"]["clusters"]:
            lines.append(
                f"entry point (Envoy on GKE) -> replicas on GKE and in ACI: {_hop(cluster)}"
            )
    return lines


def _hop(cluster: Mapping[str, Any]) -> str:
    socket = cluster.get("transport_socket")
    if not socket:
        return "plain HTTP (the image serves no TLS)"
    context = socket["typed_config"]["common_tls_context"]
    names = [
        m["matcher"]["exact"]
        for m in context["validation_context"].get("match_typed_subject_alt_names", [])
    ]
    version = context.get("tls_params", {}).get("tls_minimum_protocol_version", "TLS")
    client = "presents its client certificate" if context.get("tls_certificates") else "no client"
    return (
        f"mutual TLS ({version.replace('TLSv1_', 'TLS 1.')}; the replica's certificate checked "
        f"against the stack's CA for {', '.join(names)}; the entry point {client}), health checks "
        "included"
    )


def _public_pods(deployment: Deployment) -> list[str]:
    lines = []
    for pod in deployment.of_type(_POD):
        obj = reveal(pod.inputs)
        spec = obj.get("spec") or {}
        ports = [
            str(p.get("containerPort"))
            for c in spec.get("containers") or []
            for p in c.get("ports") or []
        ]
        label, value = VIRTUAL_NODE_LABEL
        if ports and (spec.get("nodeSelector") or {}).get(label) == value:
            lines.append(
                f"the internet -> pod {_where(obj)} in ACI (its public IP, port "
                f"{', '.join(ports)}): plain HTTP"
            )
    return lines


def _where(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata") or {}
    namespace, name = metadata.get("namespace"), metadata.get("name")
    return "/".join(
        KNOWN_AFTER_DEPLOY if part in (None, UNKNOWN) else part for part in (namespace, name)
    )

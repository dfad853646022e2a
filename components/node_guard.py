"""The node guard: a small process beside the ACI connector that keeps its virtual node alive.

GKE deletes a NotReady node that no VM backs unless the node carries a providerID outside the
``gce://`` scheme (and, for newer controllers, the ``components.gke.io/gke-unmanaged-node``
label). The connector sets neither, and it re-creates the node without them whenever it starts
after a deletion, so a process in the connector's pod sets them on every node it registers
(``node_guard/node_guard.py``, shipped as a ConfigMap and run in an official Python image).
Why a sidecar and not a ``NodePatch``, and why GKE's DaemonSets are not kept off the node:
docs/decisions/0010-node-guard.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

SCRIPT = Path(__file__).resolve().parent.parent / "node_guard" / "node_guard.py"
# -I: ignore PYTHON* variables and the user's site packages; -B: write no .pyc (read-only root).
PYTHON_FLAGS = ("-I", "-B")
HEALTH_PORT = 8081
_MOUNT = "/opt/node-guard"


@dataclass(frozen=True)
class NodeGuardArgs:
    node_name: str
    image: str
    namespace: pulumi.Input[str]
    service_account: k8s.rbac.v1.SubjectArgsDict
    labels: dict[str, str]
    # The connector's container hardening, applied to the guard too.
    security_context: k8s.core.v1.SecurityContextArgsDict
    kubernetes_provider: k8s.Provider


class NodeGuard(pulumi.ComponentResource):
    """The guard's script, its permission on the one node, and its container for the pod.

    The container runs in the connector's pod (``container``, ``volume``), so it starts with
    every connector and under the connector's service account: a pod has one. The role it adds
    to that account is ``get`` and ``patch`` on the virtual node alone (``resourceNames``), next
    to the connector's own rights to create and read nodes.
    """

    container: k8s.core.v1.ContainerArgsDict
    volume: k8s.core.v1.VolumeArgsDict
    role_binding: k8s.rbac.v1.ClusterRoleBinding

    def __init__(
        self, name: str, args: NodeGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:kubernetes:NodeGuard", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)

        # Immutable and auto-named: a changed script is a new ConfigMap and rolls the pod.
        script = k8s.core.v1.ConfigMap(
            name,
            metadata={"namespace": args.namespace, "labels": args.labels},
            immutable=True,
            data={SCRIPT.name: SCRIPT.read_text()},
            opts=k8s_opts,
        )
        # Nodes are cluster-scoped, so the role is a ClusterRole, narrowed to one name. `get` and
        # `patch` honour resourceNames; `list`, `watch` and `create` could not be narrowed the
        # same way, and the guard polls instead of watching.
        role = k8s.rbac.v1.ClusterRole(
            name,
            metadata={"name": "aci-connector-node-guard", "labels": args.labels},
            rules=[
                {
                    "api_groups": [""],
                    "resources": ["nodes"],
                    "resource_names": [args.node_name],
                    "verbs": ["get", "patch"],
                }
            ],
            opts=k8s_opts,
        )
        self.role_binding = k8s.rbac.v1.ClusterRoleBinding(
            name,
            metadata={"name": "aci-connector-node-guard", "labels": args.labels},
            role_ref={
                "api_group": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role.metadata.apply(lambda m: m.name or ""),
            },
            subjects=[args.service_account],
            opts=k8s_opts,
        )

        self.volume = {
            "name": "node-guard",
            "config_map": {
                "name": script.metadata.apply(lambda m: m.name or ""),
                "default_mode": 0o440,
            },
        }
        self.container = {
            "name": "node-guard",
            "image": args.image,
            "command": ["python", *PYTHON_FLAGS, f"{_MOUNT}/{SCRIPT.name}"],
            "image_pull_policy": "Always",
            "env": [
                {"name": "NODE_NAME", "value": args.node_name},
                {"name": "NODE_GUARD_HEALTH_PORT", "value": str(HEALTH_PORT)},
            ],
            "ports": [{"name": "guard-health", "container_port": HEALTH_PORT, "protocol": "TCP"}],
            # One GET every 10 s: an interpreter and a TLS context, well inside these.
            "resources": {
                "requests": {"cpu": "50m", "memory": "64Mi"},
                "limits": {"cpu": "50m", "memory": "64Mi"},
            },
            "security_context": args.security_context,
            "volume_mounts": [{"name": "node-guard", "mount_path": _MOUNT, "read_only": True}],
            # Ready while the node carries a providerID and the label, so a rollout of the
            # connector (and `pulumi up`) completes only once the new node is guarded.
            "readiness_probe": {
                "http_get": {"path": "/readyz", "port": HEALTH_PORT},
                "period_seconds": 5,
            },
            # Alive while the loop keeps finishing passes (the script's Config.stale_after).
            "liveness_probe": {
                "http_get": {"path": "/healthz", "port": HEALTH_PORT},
                "initial_delay_seconds": 10,
                "period_seconds": 20,
                "failure_threshold": 3,
            },
        }

        self.register_outputs({})

"""The node guard: a small process of its own that keeps the virtual node alive and brings it back.

GKE deletes a NotReady node that no VM backs unless the node carries a providerID outside the
``gce://`` scheme (and, for newer controllers, the ``components.gke.io/gke-unmanaged-node``
label). The connector sets neither, and it re-creates the node without them whenever it starts
after a deletion, so a process sets them on every node it registers
(``node_guard/node_guard.py``, shipped as a ConfigMap and run in an official Python image). It
also restarts the connector when the node has been gone for a while, since the connector
registers its node only when it starts. Why a process and not a ``NodePatch``:
docs/decisions/0010-node-guard.md; why a Deployment of its own and how it heals the node:
docs/decisions/0017-virtual-node-self-healing.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from specs.api_client_pod import no_ingress, one_at_a_time, role_ref
from specs.scan_skips import checkov_skips

SCRIPT = Path(__file__).resolve().parent.parent / "node_guard" / "node_guard.py"
# -I: ignore PYTHON* variables and the user's site packages; -B: write no .pyc (read-only root).
PYTHON_FLAGS = ("-I", "-B")
HEALTH_PORT = 8081
NAME = "aci-connector-node-guard"
_MOUNT = "/opt/node-guard"


@dataclass(frozen=True)
class NodeGuardArgs:
    node_name: str
    image: str
    # The connector's namespace, where the guard runs too, and its Deployment's name.
    namespace: pulumi.Input[str]
    connector_deployment: pulumi.Input[str]
    labels: dict[str, str]
    pod_security: k8s.core.v1.PodSecurityContextArgsDict
    security_context: k8s.core.v1.SecurityContextArgsDict


class NodeGuard(pulumi.ComponentResource):
    """The guard's script, its own service account and rights, and its Deployment.

    Its rights are its own and no more than it calls: ``get`` and ``patch`` on the virtual node
    alone, and ``patch`` on the connector's Deployment alone (the restart). It holds no token of
    the connector's, and the connector none of its.
    """

    deployment: k8s.apps.v1.Deployment

    def __init__(
        self, name: str, args: NodeGuardArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:kubernetes:NodeGuard", name, None, opts)
        k8s_opts = pulumi.ResourceOptions(parent=self)  # the Kubernetes provider comes from opts
        metadata: k8s.meta.v1.ObjectMetaArgsDict = {
            "namespace": args.namespace,
            "labels": args.labels,
        }

        account = k8s.core.v1.ServiceAccount(
            name,
            metadata={**metadata, "name": "node-guard"},
            # Mounted only where asked for: the guard's pod asks, as it calls the API.
            automount_service_account_token=False,
            opts=k8s_opts,
        )
        subject: k8s.rbac.v1.SubjectArgsDict = {
            "kind": "ServiceAccount",
            "name": account.metadata.apply(lambda m: m.name or ""),
            "namespace": args.namespace,
        }
        bindings = [
            self._node_rights(name, args, subject, k8s_opts),
            self._restart_right(name, args, subject, k8s_opts),
        ]
        # Immutable and auto-named: a changed script is a new ConfigMap and rolls the pod.
        script = k8s.core.v1.ConfigMap(
            name,
            metadata=metadata,
            immutable=True,
            data={SCRIPT.name: SCRIPT.read_text()},
            opts=k8s_opts,
        )
        pod_labels = {**args.labels, "app.kubernetes.io/component": "node-guard"}
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata={
                **metadata,
                "name": NAME,
                "annotations": checkov_skips(_scan_skips(args.image)),
            },
            # One guard at a time: two would restart the connector twice.
            spec=one_at_a_time(
                pod_labels,
                subject["name"],
                args.pod_security,
                _container(args),
                ("node-guard", script.metadata.apply(lambda m: m.name or "")),
            ),
            opts=pulumi.ResourceOptions.merge(
                k8s_opts, pulumi.ResourceOptions(depends_on=bindings)
            ),
        )
        # Nothing calls the guard: only the kubelet's probes reach it, from its own node, which
        # Kubernetes always lets through.
        k8s.networking.v1.NetworkPolicy(
            name,
            metadata=metadata,
            spec=no_ingress(pod_labels),
            opts=k8s_opts,
        )
        self.register_outputs({"deploymentName": self.deployment.metadata.apply(lambda m: m.name)})

    @staticmethod
    def _node_rights(
        name: str,
        args: NodeGuardArgs,
        subject: k8s.rbac.v1.SubjectArgsDict,
        opts: pulumi.ResourceOptions,
    ) -> k8s.rbac.v1.ClusterRoleBinding:
        """``get`` and ``patch`` of the virtual node alone.

        Nodes are cluster-scoped, so the role is a ClusterRole, narrowed to one name. `get` and
        `patch` honour resourceNames; `list`, `watch` and `create` could not be narrowed the
        same way, and the guard polls instead of watching.
        """
        role = k8s.rbac.v1.ClusterRole(
            name,
            metadata={"name": NAME, "labels": args.labels},
            rules=[
                {
                    "api_groups": [""],
                    "resources": ["nodes"],
                    "resource_names": [args.node_name],
                    "verbs": ["get", "patch"],
                }
            ],
            opts=opts,
        )
        return k8s.rbac.v1.ClusterRoleBinding(
            name,
            metadata={"name": NAME, "labels": args.labels},
            role_ref=role_ref("ClusterRole", role.metadata.apply(lambda m: m.name or "")),
            subjects=[subject],
            opts=opts,
        )

    @staticmethod
    def _restart_right(
        name: str,
        args: NodeGuardArgs,
        subject: k8s.rbac.v1.SubjectArgsDict,
        opts: pulumi.ResourceOptions,
    ) -> k8s.rbac.v1.RoleBinding:
        """``patch`` of the connector's Deployment alone, in its namespace: the restart."""
        role = k8s.rbac.v1.Role(
            f"{name}-restart",
            metadata={"name": NAME, "namespace": args.namespace, "labels": args.labels},
            rules=[
                {
                    "api_groups": ["apps"],
                    "resources": ["deployments"],
                    "resource_names": [args.connector_deployment],
                    "verbs": ["patch"],
                }
            ],
            opts=opts,
        )
        return k8s.rbac.v1.RoleBinding(
            f"{name}-restart",
            metadata={"name": NAME, "namespace": args.namespace, "labels": args.labels},
            role_ref=role_ref("Role", role.metadata.apply(lambda m: m.name or "")),
            subjects=[subject],
            opts=opts,
        )


def _container(args: NodeGuardArgs) -> k8s.core.v1.ContainerArgsDict:
    return {
        "name": "node-guard",
        "image": args.image,
        "command": ["python", *PYTHON_FLAGS, f"{_MOUNT}/{SCRIPT.name}"],
        # Pulled once per node: restarting the guard, which heals the node, must not wait on
        # the registry or fail with it. A digest in nodeGuardImage makes the image exact.
        "image_pull_policy": "IfNotPresent",
        "env": [
            {"name": "NODE_NAME", "value": args.node_name},
            {"name": "CONNECTOR_NAMESPACE", "value": args.namespace},
            {"name": "CONNECTOR_DEPLOYMENT", "value": args.connector_deployment},
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
        # Ready while the node carries our providerID and the label, so `pulumi up` completes
        # only once the node is guarded, and `kubectl get deploy` shows when it is not.
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


def _scan_skips(image: str) -> dict[str, str]:
    """Checkov checks that do not fit the guard, with the reason for each."""
    skips = {
        "CKV_K8S_38": "the guard reads and patches the virtual node and restarts the connector "
        "through the Kubernetes API, so its pod mounts its own token; the account does not",
    }
    if "@" not in image:
        skips["CKV_K8S_43"] = (
            "the image is a setting (nodeGuardImage) whose default is a release tag; a digest "
            "can be set there"
        )
        skips["CKV_K8S_15"] = (
            "pulled once per node so that a restart never waits on the registry; a digest in "
            "nodeGuardImage makes the image exact"
        )
    return skips

"""The GKE cluster that hosts the ACI connector, and the Kubernetes provider that talks to it."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_gcp import container

from settings import GkeSettings

# Nodes reach Google APIs (logging, monitoring, image pulls) through this scope; what they may do
# is decided by IAM, not by scopes.
_NODE_OAUTH_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


@dataclass(frozen=True)
class GkeClusterArgs:
    settings: GkeSettings


class GkeCluster(pulumi.ComponentResource):
    """A zonal GKE cluster with a separately managed node pool.

    The default node pool is removed so that the node pool's size and machine type can change
    without replacing the cluster. Workload identity is on. The component builds a kubeconfig that
    authenticates through ``gke-gcloud-auth-plugin`` (no static credentials) and a Kubernetes
    provider from it that is only usable once the node pool exists.
    """

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(
        self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:gcp:GkeCluster", name, None, opts)
        settings = args.settings

        cluster = container.Cluster(
            name,
            location=settings.zone,
            remove_default_node_pool=True,
            initial_node_count=1,
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={},
            workload_identity_config={"workload_pool": f"{settings.project}.svc.id.goog"},
            release_channel={"channel": "REGULAR"},
            deletion_protection=settings.deletion_protection,
            opts=pulumi.ResourceOptions(parent=self),
        )

        node_pool = container.NodePool(
            f"{name}-nodes",
            cluster=cluster.name,
            location=settings.zone,
            node_count=settings.node_count,
            node_config={
                "machine_type": settings.node_machine_type,
                "oauth_scopes": _NODE_OAUTH_SCOPES,
                "workload_metadata_config": {"mode": "GKE_METADATA"},
            },
            management={"auto_repair": True, "auto_upgrade": True},
            opts=pulumi.ResourceOptions(parent=self),
        )

        self.cluster_name = cluster.name
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate
            ).apply(lambda parts: gke_kubeconfig(settings.project, settings.zone, *parts))
        )
        self.provider = k8s.Provider(
            f"{name}-kubernetes",
            kubeconfig=self.kubeconfig,
            # Replace the provider (and everything on it) only when the cluster itself is
            # replaced, not when a credential detail in the kubeconfig changes.
            cluster_identifier=cluster.id,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_pool]),
        )

        self.register_outputs({"clusterName": self.cluster_name, "kubeconfig": self.kubeconfig})


def gke_kubeconfig(
    project: str, zone: str, cluster_name: str, endpoint: str, ca_certificate: str | None
) -> str:
    """A kubeconfig for the cluster that gets its tokens from ``gke-gcloud-auth-plugin``."""
    context = f"gke_{project}_{zone}_{cluster_name}"
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": context,
                    "cluster": {
                        "server": f"https://{endpoint}",
                        "certificate-authority-data": ca_certificate,
                    },
                }
            ],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
            "users": [
                {
                    "name": context,
                    "user": {
                        "exec": {
                            "apiVersion": "client.authentication.k8s.io/v1beta1",
                            "command": "gke-gcloud-auth-plugin",
                            # The same credentials pulumi-gcp uses (application default
                            # credentials), on a laptop and in CI alike.
                            "args": ["--use_application_default_credentials"],
                            "installHint": "Install gke-gcloud-auth-plugin: "
                            "gcloud components install gke-gcloud-auth-plugin",
                            "provideClusterInfo": True,
                        }
                    },
                }
            ],
        },
        indent=2,
    )

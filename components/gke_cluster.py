"""The GKE cluster that hosts the ACI connector, and the Kubernetes provider that talks to it."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_gcp import compute, container, projects, serviceaccount

from settings import GkeSettings

# Nodes reach Google APIs (logging, monitoring, image pulls) through this scope; what they may do
# is decided by IAM, not by scopes.
_NODE_OAUTH_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
# What a node needs and no more: GKE's role for node service accounts (logs, metrics, metadata)
# and reading images from Artifact Registry.
NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader")
# The control plane's range when nodes are private (any unused /28 of RFC 1918 space).
MASTER_CIDR = "172.16.0.32/28"
# GCP label values: lowercase letters, digits, "-" and "_", at most 63 characters.
_LABEL_VALUE_MAX = 63


@dataclass(frozen=True)
class GkeClusterArgs:
    settings: GkeSettings


class GkeCluster(pulumi.ComponentResource):
    """A zonal, hardened GKE cluster with a separately managed node pool.

    The default node pool is removed so that the node pool's size and machine type can change
    without replacing the cluster. Hardening: nodes run as a dedicated service account with only
    the roles nodes need (not the default compute account), as shielded VMs with secure boot and
    integrity monitoring, behind the GKE metadata server (workload identity), with auto-repair
    and auto-upgrade on a release channel; the temporary default pool that GKE starts and this
    component removes runs the same way. No legacy ABAC, no client certificate; Dataplane V2
    enforces network policies; intranode visibility puts pod-to-pod traffic on one node through
    the VPC (its firewall rules and flow logs). Private nodes (with Cloud NAT for their egress)
    and authorized control-plane networks are settings.

    The component builds a kubeconfig that authenticates through ``gke-gcloud-auth-plugin`` (no
    static credentials) and a Kubernetes provider from it that is only usable once the node pool
    exists.
    """

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(
        self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:gcp:GkeCluster", name, None, opts)
        settings = args.settings

        child = pulumi.ResourceOptions(parent=self)

        node_account = serviceaccount.Account(
            f"{name}-nodes",
            account_id=node_account_id(pulumi.get_stack()),
            display_name=f"GKE nodes of {pulumi.get_project()}/{pulumi.get_stack()}",
            opts=child,
        )
        node_roles = [
            projects.IAMMember(
                f"{name}-nodes-{role.rsplit('/', 1)[1]}",
                project=settings.project,
                role=role,
                member=node_account.member,
                opts=child,
            )
            for role in NODE_ROLES
        ]

        if settings.private_nodes:
            # Private nodes have no public IPs; Cloud NAT gives them egress to the connector's
            # image registry and to Azure's APIs.
            router = compute.Router(
                f"{name}-nat", region=settings.region, network="default", opts=child
            )
            compute.RouterNat(
                f"{name}-nat",
                router=router.name,
                region=settings.region,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
                opts=child,
            )
        cluster = container.Cluster(
            name,
            location=settings.zone,
            resource_labels=cluster_labels(pulumi.get_project(), pulumi.get_stack()),
            # GKE starts a default pool with the cluster and runs it for minutes before it is
            # removed; its nodes get the same account, metadata server and shielded VMs.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=node_config(node_account.email),
            networking_mode="VPC_NATIVE",
            ip_allocation_policy={},
            workload_identity_config={"workload_pool": f"{settings.project}.svc.id.goog"},
            release_channel={"channel": "REGULAR"},
            enable_shielded_nodes=True,
            enable_legacy_abac=False,
            master_auth={"client_certificate_config": {"issue_client_certificate": False}},
            # Dataplane V2 (Cilium) enforces NetworkPolicy objects, so GKE's Calico add-on stays
            # off. Said explicitly; the provider reads an absent policy back as this same value
            # (terraform-provider-google resource_container_cluster.go, flattenNetworkPolicy).
            datapath_provider="ADVANCED_DATAPATH",
            network_policy={"enabled": False},
            enable_intranode_visibility=True,
            private_cluster_config=(
                {
                    "enable_private_nodes": True,
                    "enable_private_endpoint": False,
                    "master_ipv4_cidr_block": MASTER_CIDR,
                }
                if settings.private_nodes
                else None
            ),
            master_authorized_networks_config=(
                {
                    "cidr_blocks": [
                        {"cidr_block": block, "display_name": f"authorized-{index}"}
                        for index, block in enumerate(settings.authorized_networks, start=1)
                    ]
                }
                if settings.authorized_networks
                else None
            ),
            deletion_protection=settings.deletion_protection,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The default pool's nodes start with the node account: not before its roles.
                depends_on=node_roles,
                # nodeConfig describes only the default pool. Once that pool is gone GKE reports
                # no nodeConfig, while the provider marks the block ForceNew
                # (terraform-provider-google node_config.go, schemaNodeConfig): every later
                # `pulumi up` would plan a new cluster (pulumi-gcp issue #744), and so would
                # adding the block to a cluster made before it. The bridge drops ignored paths
                # from the provider's diff (pulumi-terraform-bridge, tfshim/sdk-v2
                # processIgnoreChanges). Later node changes go to the node pool below.
                ignore_changes=["nodeConfig"],
            ),
        )

        node_pool = container.NodePool(
            f"{name}-nodes",
            cluster=cluster.name,
            location=settings.zone,
            node_count=settings.node_count,
            node_config={
                **node_config(node_account.email),
                "machine_type": settings.node_machine_type,
            },
            management={"auto_repair": True, "auto_upgrade": True},
            # Nodes must not start before their account may write logs and pull images.
            opts=pulumi.ResourceOptions(parent=self, depends_on=node_roles),
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


def node_config(service_account: pulumi.Input[str]) -> container.ClusterNodeConfigArgsDict:
    """How every node of the cluster runs, the temporary default pool's included."""
    return {
        "service_account": service_account,
        "oauth_scopes": _NODE_OAUTH_SCOPES,
        "workload_metadata_config": {"mode": "GKE_METADATA"},
        "shielded_instance_config": {
            "enable_secure_boot": True,
            "enable_integrity_monitoring": True,
        },
    }


def cluster_labels(project: str, stack: str) -> dict[str, str]:
    """The cluster's GCP labels: which program and stack own it, the same on every run."""
    return {
        "managed-by": "pulumi",
        "project": gcp_label_value(project),
        "stack": gcp_label_value(stack),
    }


def gcp_label_value(value: str) -> str:
    """``value`` as a GCP label value: lowercase, other characters as "-", at most 63 long."""
    return re.sub(r"[^a-z0-9_-]", "-", value.lower())[:_LABEL_VALUE_MAX]


def node_account_id(stack: str) -> str:
    """A service account id (6-30 characters) unique to the stack, stable across runs."""
    return "gke-aci-nodes-" + hashlib.sha256(stack.encode()).hexdigest()[:8]


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

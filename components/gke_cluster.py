"""The GKE cluster that hosts the ACI connector, and the Kubernetes provider that talks to it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pulumi_gcp import compute, container, projects, serviceaccount

from settings import GkeSettings, NodeDiskType
from specs.gke_identity import ADC_FLAG, KubeconfigAuth
from specs.gke_network import (
    authorized_networks_config,
    node_pool_network_config,
    private_cluster_config,
)

# Nodes reach Google APIs (logging, monitoring, image pulls) through this scope; what they may do
# is decided by IAM, not by scopes.
_NODE_OAUTH_SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
# What a node needs and no more: GKE's role for node service accounts (logs, metrics, metadata)
# and reading images from Artifact Registry.
NODE_ROLES = ("roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader")
# The Google APIs this component calls, enabled by the stack before anything that calls them. They
# stay enabled on destroy: other workloads in the project may use them.
SERVICES = {
    "container": "container.googleapis.com",  # the cluster and its node pool
    "compute": "compute.googleapis.com",  # the nodes' VMs, the Cloud Router and NAT
    "iam": "iam.googleapis.com",  # the nodes' service account
    "cloudresourcemanager": "cloudresourcemanager.googleapis.com",  # the project's IAM members
}
# The kubeconfig's sign-in when pulumi-gcp uses application default credentials.
APPLICATION_DEFAULT = KubeconfigAuth(args=(ADC_FLAG,))
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
    and authorized control-plane networks are settings, changeable in place
    (specs/gke_network.py).

    The component enables the Google APIs it calls, so a fresh project needs no manual step. It
    builds a kubeconfig that authenticates through ``gke-gcloud-auth-plugin`` as pulumi-gcp does
    (specs/gke_identity.py; no static credentials) and a Kubernetes provider from it that is
    only usable once the node pool exists.
    """

    cluster_name: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]
    provider: k8s.Provider

    def __init__(
        self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:gcp:GkeCluster", name, None, opts)
        settings = args.settings
        services = self._enable_services(name, settings.project)
        node_account, node_roles = self._node_account(name, settings.project, services)
        egress = self._egress(name, settings, services)
        disk = (settings.node_disk_size_gb, settings.node_disk_type)
        cluster = container.Cluster(
            name,
            project=settings.project,
            location=settings.zone,
            resource_labels=cluster_labels(pulumi.get_project(), pulumi.get_stack()),
            # GKE starts a default pool with the cluster and runs it for minutes before it is
            # removed; its nodes get the same account, metadata server, shielded VMs and disk.
            remove_default_node_pool=True,
            initial_node_count=1,
            node_config=node_config(node_account.email, *disk),
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
            private_cluster_config=private_cluster_config(settings.private_nodes),
            master_authorized_networks_config=authorized_networks_config(
                settings.authorized_networks
            ),
            deletion_protection=settings.deletion_protection,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The default pool's nodes start with the node account: not before its roles, and
                # private ones not before their NAT.
                depends_on=[services["container"], services["compute"], *node_roles, *egress],
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
            project=settings.project,
            cluster=cluster.name,
            location=settings.zone,
            node_count=settings.node_count,
            node_config={
                **node_config(node_account.email, *disk),
                "machine_type": settings.node_machine_type,
            },
            network_config=node_pool_network_config(settings.private_nodes),
            management={"auto_repair": True, "auto_upgrade": True},
            # Nodes must not start before their account may write logs and pull images, nor
            # private ones before they have a way out (image pulls, Azure's APIs).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*node_roles, *egress]),
        )

        self.cluster_name = cluster.name
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                cluster.name, cluster.endpoint, cluster.master_auth.cluster_ca_certificate
            ).apply(
                lambda parts: gke_kubeconfig(
                    settings.project, settings.zone, *parts[:3], auth=settings.kubeconfig_auth
                )
            )
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

    def _enable_services(self, name: str, project: str) -> dict[str, projects.Service]:
        """The APIs this component calls, enabled in the project (a fresh project has none)."""
        return {
            short: projects.Service(
                f"{name}-api-{short}",
                project=project,
                service=service,
                disable_on_destroy=False,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for short, service in SERVICES.items()
        }

    def _node_account(
        self, name: str, project: str, services: Mapping[str, projects.Service]
    ) -> tuple[serviceaccount.Account, list[projects.IAMMember]]:
        """The nodes' own service account and its roles in the project."""
        account = serviceaccount.Account(
            f"{name}-nodes",
            project=project,
            account_id=node_account_id(project, pulumi.get_project(), pulumi.get_stack()),
            display_name=f"GKE nodes of {pulumi.get_project()}/{pulumi.get_stack()}",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[services["iam"]]),
        )
        roles = [
            projects.IAMMember(
                f"{name}-nodes-{role.rsplit('/', 1)[1]}",
                project=project,
                role=role,
                member=account.member,
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[services["cloudresourcemanager"]]
                ),
            )
            for role in NODE_ROLES
        ]
        return account, roles

    def _egress(
        self, name: str, settings: GkeSettings, services: Mapping[str, projects.Service]
    ) -> Sequence[pulumi.Resource]:
        """What private nodes reach the internet through; nothing for public nodes.

        Either a Cloud Router and NAT of the stack's own, or an existing router named by
        ``natRouter`` (read, so that a wrong name stops the preview): a NAT that covers every
        subnetwork of the region cannot be added where another already does, as with a second
        private stack in the same project and region.
        """
        if not settings.private_nodes:
            return []
        after_compute = pulumi.ResourceOptions(parent=self, depends_on=[services["compute"]])
        if settings.nat_router:
            return [
                compute.Router.get(
                    f"{name}-nat",
                    f"projects/{settings.project}/regions/{settings.region}/routers/"
                    f"{settings.nat_router}",
                    opts=after_compute,
                )
            ]
        router = compute.Router(
            f"{name}-nat",
            project=settings.project,
            region=settings.region,
            network="default",
            opts=after_compute,
        )
        nat = compute.RouterNat(
            f"{name}-nat",
            project=settings.project,
            router=router.name,
            region=settings.region,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            # Two NATs over the same subnetworks cannot coexist: a replacement deletes first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        return [router, nat]


def node_config(
    service_account: pulumi.Input[str], disk_size_gb: int, disk_type: NodeDiskType
) -> container.ClusterNodeConfigArgsDict:
    """How every node of the cluster runs, the temporary default pool's included."""
    return {
        "service_account": service_account,
        "oauth_scopes": _NODE_OAUTH_SCOPES,
        "disk_size_gb": disk_size_gb,
        "disk_type": disk_type.value,
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


def node_account_id(gcp_project: str, pulumi_project: str, stack: str) -> str:
    """A service account id (6-30 characters), stable across runs, unique to the GCP project,
    Pulumi project and stack: two Pulumi projects with a `dev` stack in one GCP project must not
    share (or delete) each other's account."""
    owner = f"{gcp_project}/{pulumi_project}/{stack}"
    return "gke-aci-nodes-" + hashlib.sha256(owner.encode()).hexdigest()[:8]


def gke_kubeconfig(
    project: str,
    zone: str,
    cluster_name: str,
    endpoint: str,
    ca_certificate: str | None,
    auth: KubeconfigAuth = APPLICATION_DEFAULT,
) -> str:
    """A kubeconfig for the cluster that gets its tokens from ``gke-gcloud-auth-plugin``."""
    context = f"gke_{project}_{zone}_{cluster_name}"
    plugin: dict[str, object] = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "gke-gcloud-auth-plugin",
        # The identity pulumi-gcp signs in with (specs/gke_identity.py), on a laptop and
        # in CI alike.
        "args": list(auth.args),
        "installHint": "Install gke-gcloud-auth-plugin: "
        "gcloud components install gke-gcloud-auth-plugin",
        "provideClusterInfo": True,
    }
    if auth.env:
        plugin["env"] = [{"name": key, "value": value} for key, value in auth.env]
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
            "users": [{"name": context, "user": {"exec": plugin}}],
        },
        indent=2,
    )

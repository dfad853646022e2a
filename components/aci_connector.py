"""The ACI connector: Virtual Kubelet with the azure-aci provider, running as a pod in GKE.

Plain Kubernetes objects rather than the upstream Helm chart: the chart targets AKS (it mounts an
AKS host path and binds cluster-admin), and ``helm.v4.Chart`` cannot render while the kubeconfig is
unknown on a first preview. See docs/decisions/0002-connector-as-plain-manifests.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.node_guard import NodeGuard, NodeGuardArgs
from components.serving_approver import ServingApprover, ServingApproverArgs
from settings import ConnectorSettings
from specs.api_client_pod import role_ref
from specs.connector_pod import (
    CONTAINER_SECURITY,
    CREDENTIALS_FILE,
    KUBELET_PORT,
    POD_SECURITY,
    SCRIPT,
    SERVING_CERT_LIFETIME_SECONDS,
    SERVING_CERT_RENEW_AFTER_SECONDS,
    ConnectorPodInputs,
    connector_pod_spec,
    credentials_json,
)
from specs.scan_skips import checkov_skips

READY_ROLE_ANNOTATION = "gke-aci.io/role-assignment"
READY_REGISTRATION_ANNOTATION = "gke-aci.io/microsoft-containerinstance"
_LABELS = {"app.kubernetes.io/name": "aci-connector", "app.kubernetes.io/part-of": "gke-aci"}


def _rule(api_group: str, resources: list[str], verbs: list[str]) -> k8s.rbac.v1.PolicyRuleArgsDict:
    return {"api_groups": [api_group], "resources": resources, "verbs": verbs}


# The API calls the connector makes (virtual-kubelet/azure-aci v1.6.4), instead of the chart's
# cluster-admin. Leases are granted separately, only in kube-node-lease.
CLUSTER_RULES = [
    _rule("", ["configmaps", "secrets", "services"], ["get", "list", "watch"]),
    _rule("", ["pods"], ["get", "list", "watch", "delete", "patch"]),
    _rule("", ["pods/status"], ["update", "patch"]),
    _rule("", ["nodes"], ["create", "get"]),
    _rule("", ["nodes/status"], ["update", "patch"]),
    _rule("", ["events"], ["create", "patch"]),
    # The pod's serving-certificate step: submit its request and read the answer. Approving is
    # the approver's alone (components/serving_approver.py).
    _rule("certificates.k8s.io", ["certificatesigningrequests"], ["create", "get"]),
]
LEASE_RULES = [_rule("coordination.k8s.io", ["leases"], ["get", "create", "update"])]


@dataclass(frozen=True)
class AzureCredentials:
    """What the connector signs in with, and where it creates container groups."""

    client_id: pulumi.Input[str]
    client_secret: pulumi.Input[str]
    tenant_id: pulumi.Input[str]
    subscription_id: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]


@dataclass(frozen=True)
class AzureReadiness:
    """Values that exist only once Azure can serve the connector.

    They are written onto the connector's pod template, so the Deployment waits for the role
    assignment and the provider registration through a value, and a replaced role assignment
    restarts the connector.
    """

    role_assignment_id: pulumi.Input[str]
    container_instance_registration: pulumi.Input[str]


@dataclass(frozen=True)
class AciConnectorArgs:
    settings: ConnectorSettings
    azure: AzureCredentials
    azure_readiness: AzureReadiness


class AciConnector(pulumi.ComponentResource):
    """Registers a virtual node in GKE whose pods run as Azure container groups.

    The pod runs in its own namespace under a service account limited to the calls the connector
    makes. Its Azure credentials are a Secret; its kubelet serving certificate is made in the pod
    at each start, from the cluster's kubelet-serving signer, and approved by a process of its own
    (components/serving_approver.py). What azure-aci needs off AKS is applied
    (docs/architecture.md): the VNet variables are set to satisfy the connector's startup check
    while no subnet is named, so container groups get public IPs and no VNet is touched.

    ``virtual_node_name`` carries a dependency on the connector's Deployment, so whatever uses it
    waits until the connector is rolled out.
    """

    namespace: pulumi.Output[str]
    deployment_name: pulumi.Output[str]
    virtual_node_name: pulumi.Output[str]

    def __init__(
        self, name: str, args: AciConnectorArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("gke-aci:kubernetes:AciConnector", name, None, opts)
        settings = args.settings
        k8s_opts = pulumi.ResourceOptions(parent=self)  # the Kubernetes provider comes from opts

        namespace = k8s.core.v1.Namespace(
            name, metadata={"name": "aci-connector", "labels": _LABELS}, opts=k8s_opts
        )
        namespace_name = namespace.metadata.apply(lambda m: m.name or "")
        service_account = k8s.core.v1.ServiceAccount(
            name,
            metadata={"name": "virtual-kubelet", "namespace": namespace_name, "labels": _LABELS},
            # Tokens are mounted only where asked for: the connector's pod asks, as it needs one.
            automount_service_account_token=False,
            opts=k8s_opts,
        )
        subject: k8s.rbac.v1.SubjectArgsDict = {
            "kind": "ServiceAccount",
            "name": service_account.metadata.apply(lambda m: m.name or ""),
            "namespace": namespace_name,
        }
        cluster_role = k8s.rbac.v1.ClusterRole(
            name,
            metadata={"name": "aci-connector", "labels": _LABELS},
            rules=CLUSTER_RULES,
            opts=k8s_opts,
        )
        cluster_role_binding = k8s.rbac.v1.ClusterRoleBinding(
            name,
            metadata={"name": "aci-connector", "labels": _LABELS},
            role_ref=role_ref("ClusterRole", cluster_role.metadata.apply(lambda m: m.name or "")),
            subjects=[subject],
            opts=k8s_opts,
        )
        lease_role = k8s.rbac.v1.Role(
            f"{name}-leases",
            metadata={"name": "aci-connector", "namespace": "kube-node-lease", "labels": _LABELS},
            rules=LEASE_RULES,
            opts=k8s_opts,
        )
        lease_role_binding = k8s.rbac.v1.RoleBinding(
            f"{name}-leases",
            metadata={"name": "aci-connector", "namespace": "kube-node-lease", "labels": _LABELS},
            role_ref=role_ref("Role", lease_role.metadata.apply(lambda m: m.name or "")),
            subjects=[subject],
            opts=k8s_opts,
        )
        azure = args.azure
        # Secrets are immutable and auto-named: a new password makes a new Secret
        # and so rolls the Deployment, instead of changing a Secret the running pod already read.
        # The connector reads a credentials file (AZURE_AUTH_LOCATION) as well as environment
        # variables; a file keeps the secret out of the process environment.
        credentials = k8s.core.v1.Secret(
            f"{name}-azure",
            metadata={"namespace": namespace_name, "labels": _LABELS},
            immutable=True,
            string_data={
                CREDENTIALS_FILE: pulumi.Output.all(
                    azure.client_id, azure.client_secret, azure.tenant_id, azure.subscription_id
                ).apply(lambda parts: credentials_json(*parts))
            },
            opts=k8s_opts,
        )

        # The serving-certificate step and its approver run the same script
        # (docs/decisions/0021-kubelet-serving-certificate.md). Immutable and auto-named: a
        # changed script is a new ConfigMap and rolls both pods.
        serving_script = k8s.core.v1.ConfigMap(
            f"{name}-kubelet-serving",
            metadata={"namespace": namespace_name, "labels": _LABELS},
            immutable=True,
            data={SCRIPT.name: SCRIPT.read_text()},
            opts=k8s_opts,
        )

        pod_labels = {**_LABELS, "app.kubernetes.io/component": "virtual-kubelet"}
        deployment = k8s.apps.v1.Deployment(
            name,
            metadata={
                "name": "aci-connector",
                "namespace": namespace_name,
                "labels": _LABELS,
                "annotations": checkov_skips(_scan_skips(settings)),
            },
            spec={
                "replicas": 1,
                # Two connectors must never register the same node at once.
                "strategy": {"type": "Recreate"},
                "selector": {"match_labels": pod_labels},
                "template": {
                    "metadata": {
                        "labels": pod_labels,
                        "annotations": {
                            READY_ROLE_ANNOTATION: args.azure_readiness.role_assignment_id,
                            READY_REGISTRATION_ANNOTATION: (
                                args.azure_readiness.container_instance_registration
                            ),
                        },
                    },
                    "spec": connector_pod_spec(
                        settings,
                        ConnectorPodInputs(
                            service_account=service_account.metadata.apply(lambda m: m.name or ""),
                            credentials_secret=credentials.metadata.apply(lambda m: m.name or ""),
                            serving_script=serving_script.metadata.apply(lambda m: m.name or ""),
                            resource_group_name=azure.resource_group_name,
                        ),
                    ),
                },
            },
            opts=pulumi.ResourceOptions.merge(
                k8s_opts,
                # A fixed name: a replacement must remove the old connector first, or two would
                # register the same node.
                pulumi.ResourceOptions(
                    depends_on=[cluster_role_binding, lease_role_binding],
                    delete_before_replace=True,
                ),
            ),
        )

        # Besides the client certificate the kubelet API demands, only the path the GKE control
        # plane takes to kubelets may reach it: konnectivity agents in kube-system. Traffic from
        # the pod's own node (the kubelet's probes) is always allowed by Kubernetes.
        k8s.networking.v1.NetworkPolicy(
            name,
            metadata={"namespace": namespace_name, "labels": _LABELS},
            spec={
                "pod_selector": {"match_labels": pod_labels},
                "policy_types": ["Ingress"],
                "ingress": [
                    {
                        "from_": [
                            {
                                "namespace_selector": {
                                    "match_labels": {"kubernetes.io/metadata.name": "kube-system"}
                                },
                                "pod_selector": {"match_labels": {"k8s-app": "konnectivity-agent"}},
                            }
                        ],
                        "ports": [{"protocol": "TCP", "port": KUBELET_PORT}],
                    }
                ],
            },
            opts=k8s_opts,
        )

        self.namespace = namespace_name
        self.deployment_name = deployment.metadata.apply(lambda m: m.name or "")
        # Keeps GKE from deleting the virtual node (docs/decisions/0010-node-guard.md) and
        # restarts the connector when the node is gone all the same
        # (docs/decisions/0017-virtual-node-self-healing.md). It names the connector's
        # Deployment through its output, so it starts once the connector is up.
        node_guard = NodeGuard(
            f"{name}-node-guard",
            NodeGuardArgs(
                node_name=settings.virtual_node_name,
                image=settings.node_guard_image,
                namespace=namespace_name,
                connector_deployment=self.deployment_name,
                labels=_LABELS,
                pod_security=POD_SECURITY,
                security_context=CONTAINER_SECURITY,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        ServingApprover(
            f"{name}-approver",
            ServingApproverArgs(
                node_name=settings.virtual_node_name,
                image=settings.kubelet_serving_image,
                namespace=namespace_name,
                connector_service_account=subject["name"],
                connector_deployment=self.deployment_name,
                renew_after_seconds=SERVING_CERT_RENEW_AFTER_SECONDS,
                script=serving_script.metadata.apply(lambda m: m.name or ""),
                max_lifetime_seconds=SERVING_CERT_LIFETIME_SECONDS,
                labels=_LABELS,
                pod_security=POD_SECURITY,
                security_context=CONTAINER_SECURITY,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        node_name = settings.virtual_node_name
        # Derived from both Deployments' URNs (known even in preview) so that every consumer of
        # the name depends on them, and is created only once the connector is up and the guard
        # ready, which it is once the node carries its providerID and label.
        self.virtual_node_name = pulumi.Output.all(deployment.urn, node_guard.deployment.urn).apply(
            lambda _: node_name
        )

        self.register_outputs(
            {
                "namespace": self.namespace,
                "deploymentName": self.deployment_name,
                "virtualNodeName": self.virtual_node_name,
            }
        )


def _scan_skips(settings: ConnectorSettings) -> dict[str, str]:
    """Checkov checks that do not fit the connector's pod, with the reason for each."""
    skips = {
        "CKV_K8S_43": "the image is a setting (connectorImage); the default is "
        "a release tag and a digest can be set there",
        "CKV_K8S_38": "the connector calls the Kubernetes API (pods, nodes, "
        "leases), so the pod mounts a token; its service account does not",
    }
    if "@" not in settings.kubelet_serving_image:
        skips["CKV_K8S_15"] = (
            "the serving-certificate step's image is pulled once per node so that a connector "
            "restart never waits on the registry; a digest in kubeletServingImage makes it exact"
        )
    return skips

"""The ACI connector: Virtual Kubelet with the azure-aci provider, running as a pod in GKE.

Plain Kubernetes objects rather than the upstream Helm chart: the chart targets AKS (it mounts an
AKS host path and binds cluster-admin), and ``helm.v4.Chart`` cannot render while the kubeconfig is
unknown on a first preview. See docs/decisions/0002-connector-as-plain-manifests.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components.node_guard import NodeGuard, NodeGuardArgs
from settings import ConnectorSettings
from specs.pod_security import DISTROLESS_NONROOT, container_security, pod_security
from specs.scan_skips import checkov_skips

KUBELET_PORT = 10250
_TLS_DIR = "/etc/virtual-kubelet/tls"
# The cluster's CA bundle, which every pod that mounts a service account token has from its
# projected token volume.
CLUSTER_CA_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
_CREDENTIALS_DIR = "/etc/virtual-kubelet/azure"
CREDENTIALS_FILE = "credentials.json"
READY_ROLE_ANNOTATION = "gke-aci.io/role-assignment"
READY_REGISTRATION_ANNOTATION = "gke-aci.io/microsoft-containerinstance"
_LABELS = {"app.kubernetes.io/name": "aci-connector", "app.kubernetes.io/part-of": "gke-aci"}
# Both containers of the pod: no root, no capability, no writable file system.
_CONTAINER_SECURITY = container_security()


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
    kubernetes_provider: k8s.Provider
    azure: AzureCredentials
    azure_readiness: AzureReadiness


class AciConnector(pulumi.ComponentResource):
    """Registers a virtual node in GKE whose pods run as Azure container groups.

    The pod runs in its own namespace under a service account limited to the calls the connector
    makes. Its Azure credentials and its kubelet serving certificate (made here with pulumi-tls)
    are Secrets. What azure-aci needs off AKS is applied (docs/architecture.md): the VNet
    variables are set to satisfy the connector's startup check while no subnet is named, so
    container groups get public IPs and no VNet is touched.

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
        k8s_opts = pulumi.ResourceOptions(parent=self, provider=args.kubernetes_provider)

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
            role_ref=_role_ref("ClusterRole", cluster_role.metadata.apply(lambda m: m.name or "")),
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
            role_ref=_role_ref("Role", lease_role.metadata.apply(lambda m: m.name or "")),
            subjects=[subject],
            opts=k8s_opts,
        )
        azure = args.azure
        # Secrets are immutable and auto-named: a new password or certificate makes a new Secret
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

        serving_key = tls.PrivateKey(
            f"{name}-kubelet",
            algorithm="ECDSA",
            ecdsa_curve="P256",
            opts=pulumi.ResourceOptions(parent=self),
        )
        serving_cert = tls.SelfSignedCert(
            f"{name}-kubelet",
            private_key_pem=serving_key.private_key_pem,
            subject={"common_name": settings.virtual_node_name, "organization": "gke-aci"},
            dns_names=[settings.virtual_node_name],
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            # A year, renewed by the first `pulumi up` in its last 30 days. The validity window is
            # computed by the provider at creation, so no wall-clock value is an input here.
            validity_period_hours=365 * 24,
            early_renewal_hours=30 * 24,
            opts=pulumi.ResourceOptions(parent=self),
        )
        serving_secret = k8s.core.v1.Secret(
            f"{name}-kubelet-tls",
            metadata={"namespace": namespace_name, "labels": _LABELS},
            type="kubernetes.io/tls",
            immutable=True,
            string_data={
                "tls.crt": serving_cert.cert_pem,
                "tls.key": serving_key.private_key_pem,
            },
            opts=k8s_opts,
        )

        pod_labels = {**_LABELS, "app.kubernetes.io/component": "virtual-kubelet"}
        deployment = k8s.apps.v1.Deployment(
            name,
            metadata={
                "name": "aci-connector",
                "namespace": namespace_name,
                "labels": _LABELS,
                "annotations": checkov_skips(
                    {
                        "CKV_K8S_43": "the image is a setting (connectorImage); the default is "
                        "a release tag and a digest can be set there",
                        "CKV_K8S_38": "the connector calls the Kubernetes API (pods, nodes, "
                        "leases), so the pod mounts a token; its service account does not",
                    }
                ),
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
                    "spec": {
                        "service_account_name": service_account.metadata.apply(
                            lambda m: m.name or ""
                        ),
                        # The connector watches pods and nodes and writes their status. It
                        # is the pod's only container: no other process holds this token.
                        "automount_service_account_token": True,
                        # The image is distroless/static with one static Go binary that listens
                        # on 10250 (> 1024) and reads only mounted files: it needs no root, no
                        # capability and no writable file system.
                        "security_context": pod_security(DISTROLESS_NONROOT),
                        "containers": [
                            {
                                "name": "virtual-kubelet",
                                "image": settings.image,
                                "command": ["/usr/bin/virtual-kubelet"],
                                "args": [
                                    "--nodename",
                                    settings.virtual_node_name,
                                    "--os",
                                    "Linux",
                                    # The kubelet API takes only clients with a certificate from
                                    # the cluster CA, checked in the TLS handshake
                                    # (RequireAndVerifyClientCert: virtual-kubelet v1.11.0
                                    # node/nodeutil/tls.go WithCAFromPath), which the connector's
                                    # route setup cannot undo. Never --authentication-token-webhook:
                                    # in azure-aci v1.6.4 cmd/virtual-kubelet/main.go it lowers TLS
                                    # to RequestClientCert, and configureRoutes then discards its
                                    # handler.
                                    "--client-verify-ca",
                                    CLUSTER_CA_FILE,
                                ],
                                "image_pull_policy": "Always",
                                "env": _connector_environment(settings, azure),
                                "ports": [
                                    {
                                        "name": "kubelet",
                                        "container_port": KUBELET_PORT,
                                        "protocol": "TCP",
                                    }
                                ],
                                "resources": {
                                    "requests": {"cpu": "100m", "memory": "128Mi"},
                                    "limits": {"cpu": "500m", "memory": "512Mi"},
                                },
                                "security_context": _CONTAINER_SECURITY,
                                "volume_mounts": [
                                    {
                                        "name": "kubelet-tls",
                                        "mount_path": _TLS_DIR,
                                        "read_only": True,
                                    },
                                    {
                                        "name": "azure-credentials",
                                        "mount_path": _CREDENTIALS_DIR,
                                        "read_only": True,
                                    },
                                ],
                                # The kubelet API answers TLS on 10250 once the node is served;
                                # its handshake needs a client certificate, so the probes only
                                # connect.
                                "readiness_probe": {
                                    "tcp_socket": {"port": KUBELET_PORT},
                                    "period_seconds": 10,
                                },
                                "liveness_probe": {
                                    "tcp_socket": {"port": KUBELET_PORT},
                                    "initial_delay_seconds": 30,
                                    "period_seconds": 20,
                                    "failure_threshold": 3,
                                },
                            },
                        ],
                        "volumes": [
                            {
                                "name": "kubelet-tls",
                                "secret": {
                                    "secret_name": serving_secret.metadata.apply(
                                        lambda m: m.name or ""
                                    ),
                                    "default_mode": 0o440,
                                },
                            },
                            {
                                "name": "azure-credentials",
                                "secret": {
                                    "secret_name": credentials.metadata.apply(
                                        lambda m: m.name or ""
                                    ),
                                    "default_mode": 0o440,
                                },
                            },
                        ],
                    },
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
                pod_security=pod_security(DISTROLESS_NONROOT),
                security_context=_CONTAINER_SECURITY,
                kubernetes_provider=args.kubernetes_provider,
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


def _role_ref(kind: str, name: pulumi.Input[str]) -> k8s.rbac.v1.RoleRefArgsDict:
    return {"api_group": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def credentials_json(
    client_id: str, client_secret: str, tenant_id: str, subscription_id: str
) -> str:
    """The connector's AZURE_AUTH_LOCATION file (pkg/auth Authentication in azure-aci)."""
    return json.dumps(
        {
            "clientId": client_id,
            "clientSecret": client_secret,
            "tenantId": tenant_id,
            "subscriptionId": subscription_id,
        },
        sort_keys=True,
    )


def _connector_environment(
    settings: ConnectorSettings, azure: AzureCredentials
) -> list[k8s.core.v1.EnvVarArgsDict]:
    """The connector's environment; nothing secret (the credentials are a mounted file)."""
    return [
        {"name": "KUBELET_PORT", "value": str(KUBELET_PORT)},
        {"name": "APISERVER_CERT_LOCATION", "value": f"{_TLS_DIR}/tls.crt"},
        {"name": "APISERVER_KEY_LOCATION", "value": f"{_TLS_DIR}/tls.key"},
        {"name": "VKUBELET_POD_IP", "value_from": {"field_ref": {"field_path": "status.podIP"}}},
        {"name": "AZURE_AUTH_LOCATION", "value": f"{_CREDENTIALS_DIR}/{CREDENTIALS_FILE}"},
        {"name": "ACI_RESOURCE_GROUP", "value": azure.resource_group_name},
        {"name": "ACI_REGION", "value": settings.aci_region},
        # The capacity the virtual node advertises (vk_node.go 129-144): the scheduler keeps
        # pods beyond the subscription's ACI quota Pending instead of sending them to fail in
        # ACI (virtual-kubelet #1257). The connector's defaults are 10000 CPU, 4Ti, 5000 pods.
        {"name": "ACI_QUOTA_CPU", "value": settings.quota.cpu},
        {"name": "ACI_QUOTA_MEMORY", "value": settings.quota.memory},
        {"name": "ACI_QUOTA_POD", "value": str(settings.quota.pods)},
        # Off AKS: the connector's network check fails unless both VNet variables are set. With
        # no ACI_SUBNET_NAME the VNet is never looked up, so these only satisfy the check.
        {"name": "ACI_VNET_NAME", "value": "none"},
        {"name": "ACI_VNET_RESOURCE_GROUP", "value": azure.resource_group_name},
    ]

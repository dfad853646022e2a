"""The connector's pod: what components/aci_connector.py sends as its Deployment's template.

The component creates the namespace, the identities and the Secrets; this builder turns their
names and the settings into the pod spec, so that what the pod runs with (arguments,
environment, mounts, probes, hardening) is read and tested in one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from settings import ConnectorSettings
from specs.pod_security import DISTROLESS_NONROOT, container_security, pod_security

KUBELET_PORT = 10250
# The in-memory volume where the serving-certificate step writes the key and the certificate:
# the key is made in the pod and never leaves it.
TLS_DIR = "/run/kubelet-serving"
SCRIPT = Path(__file__).resolve().parent.parent / "kubelet_serving" / "kubelet_serving.py"
SCRIPT_DIR = "/opt/kubelet-serving"
# -I: ignore PYTHON* variables and the user's site packages; -B: write no .pyc (read-only root).
PYTHON_FLAGS = ("-I", "-B")
# The lifetime the step asks for, and the longest the approver grants.
SERVING_CERT_LIFETIME_SECONDS = 365 * 24 * 3600
# When the approver restarts the connector for a new certificate: 30 days before the requested
# lifetime ends, which leaves room for a signer that issues a little less than asked.
SERVING_CERT_RENEW_AFTER_SECONDS = SERVING_CERT_LIFETIME_SECONDS - 30 * 24 * 3600
# How long the connector's start waits for the certificate before it serves a self-signed one.
# Judged: GKE's signer answers an approved request within seconds (an assumption to confirm on
# the first live deploy, docs/operations.md); two minutes also cover an approver restart.
SERVING_CERT_WAIT_SECONDS = 120
# The cluster's CA bundle, which every pod that mounts a service account token has from its
# projected token volume.
CLUSTER_CA_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
CREDENTIALS_DIR = "/etc/virtual-kubelet/azure"
CREDENTIALS_FILE = "credentials.json"
# The pod's containers: no root, no capability, no writable file system.
CONTAINER_SECURITY = container_security()
POD_SECURITY = pod_security(DISTROLESS_NONROOT)


@dataclass(frozen=True)
class ConnectorPodInputs:
    """Values of the pod spec that other resources compute."""

    service_account: pulumi.Input[str]
    # The Secret holding the connector's Azure credentials file.
    credentials_secret: pulumi.Input[str]
    # The ConfigMap holding kubelet_serving/kubelet_serving.py.
    serving_script: pulumi.Input[str]
    # Where the connector creates container groups.
    resource_group_name: pulumi.Input[str]


def connector_pod_spec(
    settings: ConnectorSettings, inputs: ConnectorPodInputs
) -> k8s.core.v1.PodSpecArgsDict:
    """The spec of the connector's pod."""
    return {
        "service_account_name": inputs.service_account,
        # The connector watches pods and nodes and writes their status; before it starts, its
        # serving-certificate step creates and reads its own CSR. No other process holds this
        # token.
        "automount_service_account_token": True,
        # The connector's image is distroless/static with one static Go binary that listens on
        # 10250 (> 1024) and reads only mounted files, and the step writes only to its
        # in-memory volume: neither needs root, a capability or a writable file system.
        "security_context": POD_SECURITY,
        # Before the connector starts, at each start of the pod: a fresh key and a certificate
        # from the cluster's kubelet-serving signer
        # (docs/decisions/0021-kubelet-serving-certificate.md).
        "init_containers": [_serving_certificate_step(settings, inputs)],
        "containers": [_connector_container(settings, inputs)],
        "volumes": [
            {"name": "kubelet-tls", "empty_dir": {"medium": "Memory", "size_limit": "1Mi"}},
            {
                "name": "kubelet-serving",
                "config_map": {"name": inputs.serving_script, "default_mode": 0o440},
            },
            {
                "name": "azure-credentials",
                "secret": {"secret_name": inputs.credentials_secret, "default_mode": 0o440},
            },
        ],
    }


def _serving_certificate_step(
    settings: ConnectorSettings, inputs: ConnectorPodInputs
) -> k8s.core.v1.ContainerArgsDict:
    """The init container that makes the key and obtains the serving certificate."""
    return {
        "name": "serving-certificate",
        "image": settings.kubelet_serving_image,
        "command": ["python", *PYTHON_FLAGS, f"{SCRIPT_DIR}/{SCRIPT.name}", "request"],
        # Pulled once per node: a connector restart must not wait on the registry or fail with
        # it. A digest in kubeletServingImage makes the image exact.
        "image_pull_policy": "IfNotPresent",
        "env": [
            {"name": "NODE_NAME", "value": settings.virtual_node_name},
            _downward("POD_NAME", "metadata.name"),
            _downward("POD_UID", "metadata.uid"),
            _downward("POD_IP", "status.podIP"),
            {"name": "SERVING_CERT_DIR", "value": TLS_DIR},
            {"name": "SERVING_CERT_LIFETIME_SECONDS", "value": str(SERVING_CERT_LIFETIME_SECONDS)},
            {"name": "SERVING_CERT_WAIT_SECONDS", "value": str(SERVING_CERT_WAIT_SECONDS)},
        ],
        # One key, one request and a few polls.
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "200m", "memory": "64Mi"},
        },
        "security_context": CONTAINER_SECURITY,
        "volume_mounts": [
            {"name": "kubelet-tls", "mount_path": TLS_DIR},
            {"name": "kubelet-serving", "mount_path": SCRIPT_DIR, "read_only": True},
        ],
    }


def _downward(name: str, field_path: str) -> k8s.core.v1.EnvVarArgsDict:
    return {"name": name, "value_from": {"field_ref": {"field_path": field_path}}}


def _connector_container(
    settings: ConnectorSettings, inputs: ConnectorPodInputs
) -> k8s.core.v1.ContainerArgsDict:
    return {
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
        "env": connector_environment(settings, inputs.resource_group_name),
        "ports": [{"name": "kubelet", "container_port": KUBELET_PORT, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
        "security_context": CONTAINER_SECURITY,
        "volume_mounts": [
            {"name": "kubelet-tls", "mount_path": TLS_DIR, "read_only": True},
            {"name": "azure-credentials", "mount_path": CREDENTIALS_DIR, "read_only": True},
        ],
        # The kubelet API answers TLS on 10250 once the node is served;
        # its handshake needs a client certificate, so the probes only
        # connect.
        "readiness_probe": {"tcp_socket": {"port": KUBELET_PORT}, "period_seconds": 10},
        "liveness_probe": {
            "tcp_socket": {"port": KUBELET_PORT},
            "initial_delay_seconds": 30,
            "period_seconds": 20,
            "failure_threshold": 3,
        },
    }


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


def connector_environment(
    settings: ConnectorSettings, resource_group_name: pulumi.Input[str]
) -> list[k8s.core.v1.EnvVarArgsDict]:
    """The connector's environment; nothing secret (the credentials are a mounted file)."""
    return [
        {"name": "KUBELET_PORT", "value": str(KUBELET_PORT)},
        {"name": "APISERVER_CERT_LOCATION", "value": f"{TLS_DIR}/tls.crt"},
        {"name": "APISERVER_KEY_LOCATION", "value": f"{TLS_DIR}/tls.key"},
        {"name": "VKUBELET_POD_IP", "value_from": {"field_ref": {"field_path": "status.podIP"}}},
        {"name": "AZURE_AUTH_LOCATION", "value": f"{CREDENTIALS_DIR}/{CREDENTIALS_FILE}"},
        {"name": "ACI_RESOURCE_GROUP", "value": resource_group_name},
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
        {"name": "ACI_VNET_RESOURCE_GROUP", "value": resource_group_name},
    ]

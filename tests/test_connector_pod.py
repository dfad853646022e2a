"""The connector's pod spec, built from plain values: what the connector runs with."""

from __future__ import annotations

import json
from typing import Any

import pytest

from settings import Settings, load_settings
from specs.connector_pod import (
    CLUSTER_CA_FILE,
    PYTHON_FLAGS,
    SCRIPT,
    SERVING_CERT_LIFETIME_SECONDS,
    ConnectorPodInputs,
    connector_pod_spec,
    credentials_json,
)
from specs.kube_form import api_form

INPUTS = ConnectorPodInputs(
    service_account="virtual-kubelet",
    credentials_secret="azure-1",
    serving_script="kubelet-serving-1",
    resource_group_name="rg-1",
)


@pytest.fixture
def settings() -> Settings:
    return load_settings({"gcp:project": "gke-aci-test"}.get)


def pod(settings: Settings) -> dict[str, Any]:
    return api_form(connector_pod_spec(settings.connector, INPUTS))


def test_the_pod_runs_as_its_account_with_its_secrets(settings: Settings) -> None:
    spec = pod(settings)
    assert spec["serviceAccountName"] == "virtual-kubelet"
    volumes = {v["name"]: v["secret"] for v in spec["volumes"] if "secret" in v}
    assert volumes["azure-credentials"] == {"secretName": "azure-1", "defaultMode": 0o440}
    [connector] = spec["containers"]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in connector["env"]}
    assert env["ACI_RESOURCE_GROUP"] == env["ACI_VNET_RESOURCE_GROUP"] == "rg-1"
    assert env["ACI_REGION"] == settings.connector.aci_region
    assert env["AZURE_AUTH_LOCATION"] == "/etc/virtual-kubelet/azure/credentials.json"
    assert env["VKUBELET_POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert connector["args"] == [
        "--nodename",
        settings.connector.virtual_node_name,
        "--os",
        "Linux",
        "--client-verify-ca",
        CLUSTER_CA_FILE,
    ]


def test_the_credentials_file_is_what_azure_aci_reads() -> None:
    assert json.loads(credentials_json("id", "secret", "tenant", "sub")) == {
        "clientId": "id",
        "clientSecret": "secret",
        "tenantId": "tenant",
        "subscriptionId": "sub",
    }


def test_before_the_connector_starts_a_step_obtains_its_serving_certificate(
    settings: Settings,
) -> None:
    spec = pod(settings)
    [step] = spec["initContainers"]
    [connector] = spec["containers"]
    assert step["image"] == settings.connector.kubelet_serving_image
    assert step["imagePullPolicy"] == "IfNotPresent"
    assert step["command"] == [
        "python",
        *PYTHON_FLAGS,
        f"/opt/kubelet-serving/{SCRIPT.name}",
        "request",
    ]
    env = {e["name"]: e.get("value", e.get("valueFrom")) for e in step["env"]}
    assert env == {
        "NODE_NAME": settings.connector.virtual_node_name,
        "POD_NAME": {"fieldRef": {"fieldPath": "metadata.name"}},
        "POD_UID": {"fieldRef": {"fieldPath": "metadata.uid"}},
        "POD_IP": {"fieldRef": {"fieldPath": "status.podIP"}},
        "SERVING_CERT_DIR": "/run/kubelet-serving",
        "SERVING_CERT_LIFETIME_SECONDS": str(SERVING_CERT_LIFETIME_SECONDS),
        "SERVING_CERT_WAIT_SECONDS": "120",
    }
    # The key lives in memory, written by the step and only read by the connector.
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["kubelet-tls"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Mi"}
    assert "secret" not in volumes["kubelet-tls"]
    assert volumes["kubelet-serving"]["configMap"]["name"] == "kubelet-serving-1"
    step_mounts = {m["name"]: m for m in step["volumeMounts"]}
    assert step_mounts["kubelet-tls"]["mountPath"] == "/run/kubelet-serving"
    assert step_mounts["kubelet-serving"]["readOnly"] is True
    mounts = {m["name"]: m for m in connector["volumeMounts"]}
    assert mounts["kubelet-tls"] == {
        "name": "kubelet-tls",
        "mountPath": "/run/kubelet-serving",
        "readOnly": True,
    }
    connector_env = {e["name"]: e.get("value") for e in connector["env"]}
    assert connector_env["APISERVER_CERT_LOCATION"] == "/run/kubelet-serving/tls.crt"
    assert connector_env["APISERVER_KEY_LOCATION"] == "/run/kubelet-serving/tls.key"

"""Every Kubernetes object, as it will be sent to GKE, validates against Kubernetes' schemas."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest
from fake_cloud import Deployment, redact, run_program

# The oldest and the newest minor versions a REGULAR-channel cluster may run while this is
# maintained; the schemas ship with kubernetes-validate, offline.
KUBERNETES_VERSIONS = ["1.33", "1.36"]


@pytest.fixture(
    params=[
        {},
        {"gke-aci:aciDnsLabel": "todo-app", "gke-aci:appImage": "ghcr.io/x/todo:1"},
        {"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "6"},
        {"gke-aci:appReplicas": "3", "gke-aci:appImage": "janakiramm/todo"},
    ],
    ids=["defaults", "dns-label-and-image", "burst", "aci-replicas-seed-image"],
)
def stack(request: pytest.FixtureRequest) -> Deployment:
    return run_program(request.param)


def manifest(inputs: dict[str, Any], outputs: dict[str, Any]) -> dict[str, Any]:
    """The object as sent: its inputs, with the provider's auto-name and secrets redacted."""
    rendered = redact(inputs)
    rendered["metadata"] = {**rendered.get("metadata", {}), "name": outputs["metadata"]["name"]}
    return rendered


def kubernetes_objects(stack: Deployment) -> list[dict[str, Any]]:
    return [
        manifest(r.inputs, r.outputs)
        for r in stack.custom_resources()
        if r.type.startswith("kubernetes:")
    ]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_object_validates_strictly(stack: Deployment, version: str) -> None:
    objects = kubernetes_objects(stack)
    assert {"Deployment", "Secret", "ClusterRole"} <= {o["kind"] for o in objects}
    for obj in objects:
        # Secrets are redacted to a marker string, which keeps stringData's shape valid.
        kubernetes_validate.validate(obj, version, strict=True)


# Kubernetes names and namespaces are DNS-1123 subdomains (lower case); the OpenAPI schemas do not
# say so, the API server refuses anything else.
DNS_1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


# A label key: an optional DNS subdomain prefix and a name; port names: IANA service names.
LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
PORT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?")


def label_keys(obj: dict[str, Any]) -> list[str]:
    """Every label key of an object and of the pod template or selector it holds."""
    spec = obj.get("spec", {})
    found = [*obj["metadata"].get("labels", {})]
    found += [*spec.get("template", {}).get("metadata", {}).get("labels", {})]
    found += [*spec.get("selector", {}).get("matchLabels", {})]
    return found


def test_every_name_is_one_kubernetes_accepts(stack: Deployment) -> None:
    for obj in kubernetes_objects(stack):
        metadata = obj["metadata"]
        for name in (metadata["name"], metadata.get("namespace", "default")):
            assert DNS_1123_SUBDOMAIN.fullmatch(name), name
            assert len(name) <= 253, name
        for key in label_keys(obj):
            prefix, _, label = key.rpartition("/")
            assert LABEL_NAME.fullmatch(label), key
            assert not prefix or DNS_1123_SUBDOMAIN.fullmatch(prefix), key
        spec = obj.get("spec", {})
        pod_spec = spec.get("template", {}).get("spec", spec)
        for container in pod_spec.get("containers", []):
            for port in container.get("ports", []):
                assert PORT_NAME.fullmatch(port.get("name", "http")), port


def test_the_validator_rejects_a_broken_object() -> None:
    pod = next(o for o in kubernetes_objects(run_program()) if o["kind"] == "Pod")
    pod["spec"]["containers"][0]["ports"][0]["containerPort"] = "eighty"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES_VERSIONS[0], strict=True)
    pod["spec"]["containers"][0]["ports"][0]["containerPort"] = 80
    pod["spec"]["nodeSelectr"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES_VERSIONS[0], strict=True)

"""A first `pulumi preview`: every value a cloud computes is unknown, and the program still runs."""

from __future__ import annotations

import pytest
from fake_cloud import UNKNOWN, Deployment, attempt_program, is_secret, run_program


@pytest.fixture
def preview() -> Deployment:
    return run_program(preview=True)


@pytest.fixture
def update() -> Deployment:
    return run_program()


def test_the_first_preview_plans_the_same_resources_as_an_update(
    preview: Deployment, update: Deployment
) -> None:
    assert preview.error is None
    assert sorted(r.urn for r in preview.registrations) == sorted(
        r.urn for r in update.registrations
    )


def test_the_first_preview_keeps_the_same_ordering(preview: Deployment, update: Deployment) -> None:
    # An invoke with unknown arguments is skipped in preview, so a direct dependency it would
    # carry may be missing; what each resource waits for, transitively, must be the same.
    for registration in update.registrations:
        planned = preview.by_urn[registration.urn]
        assert preview.transitive_dependencies(planned) == update.transitive_dependencies(
            registration
        ), registration.urn


def test_cloud_computed_values_stay_unknown(preview: Deployment) -> None:
    outputs = preview.stack_outputs
    for name in ("webIp", "clusterName", "resourceGroupName", "cosmosAccountName"):
        assert outputs[name] == UNKNOWN, name
    assert is_secret(outputs["kubeconfig"])
    # Known before anything exists: the node name comes from configuration.
    assert outputs["virtualNodeName"] == "aci-connector"


def test_kubernetes_objects_are_planned_with_an_unknown_kubeconfig(preview: Deployment) -> None:
    provider = preview.one("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == {**provider.inputs["kubeconfig"], "value": UNKNOWN}
    pod = preview.one("kubernetes:core/v1:Pod")
    assert pod.inputs["metadata"]["name"] == "web"


def test_a_first_preview_with_a_dns_label_and_another_image() -> None:
    preview = attempt_program(
        {"gke-aci:aciDnsLabel": "todo-preview", "gke-aci:appImage": "ghcr.io/example/todo:1"},
        preview=True,
    )
    assert preview.error is None
    assert preview.stack_outputs["webUrl"] == "http://todo-preview.westus.azurecontainer.io:8080"

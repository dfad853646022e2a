"""Secrets stay secrets: in every resource input, every output and every stack output."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest
from fake_cloud import (
    COSMOS_KEY,
    COSMOS_SECONDARY_KEY,
    REGISTRY_PULL_PASSWORD,
    REGISTRY_PUSH_PASSWORD,
    SECRET_VALUES,
    SP_PASSWORD,
    Deployment,
    is_secret,
    redact,
    reveal,
    run_program,
)

# A secret may travel quoted (the Cosmos DB key inside a MongoDB URI).
SEARCHED = [*SECRET_VALUES, *(quote_plus(value) for value in SECRET_VALUES)]


@pytest.fixture(params=[None, "janakiramm/todo", "ghcr.io/example/todo:1.0"])
def stack(request: pytest.FixtureRequest) -> Deployment:
    return run_program({"gke-aci:appImage": request.param} if request.param else {})


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def found(value: Any) -> set[str]:
    return {secret for text in strings(value) for secret in SEARCHED if secret in text}


def test_the_secrets_searched_for_are_in_the_graph(stack: Deployment) -> None:
    """Guards the next test: each fake secret really flows, so its absence means it is hidden."""
    everything = [[r.inputs, r.outputs] for r in stack.registrations]
    present = found(reveal(everything))
    flowing = [SP_PASSWORD, COSMOS_KEY]
    if stack.of_type("docker-build:index:Image"):
        flowing += [REGISTRY_PUSH_PASSWORD, REGISTRY_PULL_PASSWORD]
    for secret in flowing:
        assert secret in present or quote_plus(secret) in present, secret
    # The secondary key is never used: the primary connection string is picked by description.
    assert not {COSMOS_SECONDARY_KEY, quote_plus(COSMOS_SECONDARY_KEY)} & present


def test_no_secret_appears_outside_a_secret_in_any_resource(stack: Deployment) -> None:
    for registration in stack.registrations:
        assert found(redact(registration.inputs)) == set(), registration.urn
        assert found(redact(registration.outputs)) == set(), registration.urn


def test_no_secret_appears_in_a_stack_output(stack: Deployment) -> None:
    assert found(redact(stack.stack_outputs)) == set()
    assert is_secret(stack.stack_outputs["kubeconfig"])


def test_the_kubeconfig_reaches_the_provider_as_a_secret(stack: Deployment) -> None:
    # The Kubernetes SDK does not mark it; the program must.
    [provider] = stack.of_type("pulumi:providers:kubernetes")
    assert is_secret(provider.inputs["kubeconfig"])


def test_every_kubernetes_secret_carries_its_data_as_a_secret(stack: Deployment) -> None:
    secrets = stack.of_type("kubernetes:core/v1:Secret")
    expected = {"aci-connector-azure", "todo-database"}
    if stack.of_type("docker-build:index:Image"):
        expected.add("todo-registry")  # the pull credential of our own registry
    assert {r.name for r in secrets} >= expected
    for registration in secrets:
        assert is_secret(registration.inputs["stringData"]), registration.name
        assert registration.inputs["immutable"] is True


def test_no_container_gets_a_secret_as_a_literal_env_value(stack: Deployment) -> None:
    workloads = [
        *stack.of_type("kubernetes:core/v1:Pod"),
        *stack.of_type("kubernetes:apps/v1:Deployment"),
    ]
    # The app's pod, the connector, its node guard and its serving certificate's approver.
    assert len(workloads) == 4
    for registration in workloads:
        spec = registration.inputs["spec"]
        pod_spec = spec.get("template", {}).get("spec", spec)
        for container in [*pod_spec["containers"], *pod_spec.get("init_containers", [])]:
            for variable in container.get("env", []):
                assert not is_secret(variable.get("value")), variable["name"]
                assert found(reveal(variable)) == set(), variable["name"]

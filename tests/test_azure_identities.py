"""Entra objects owned by the deployer; role assignments and definitions with stable names."""

from __future__ import annotations

import uuid

import pytest
from fake_cloud import (
    BASE_CONFIG,
    DEPLOYER_OBJECT_ID,
    PROGRAM,
    SUBSCRIPTION_ID,
    UNKNOWN,
    Deployment,
    FakeCloud,
    run_program,
)

from components.service_principal import NAME_NAMESPACE
from synth.engine import FirstPreviewCloud
from synth.engine import run_program as run_offline

APPLICATION = "azuread:index/application:Application"
SERVICE_PRINCIPAL = "azuread:index/servicePrincipal:ServicePrincipal"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION = "azure-native:authorization:RoleDefinition"
IDENTITIES = ("aci-connector", "app-push", "app-pull")


def run_stack(stack: str, *, cloud: FakeCloud | FirstPreviewCloud | None = None) -> Deployment:
    deployment = run_offline(
        PROGRAM,
        project="gke-aci",
        stack=stack,
        config=BASE_CONFIG,
        cloud=cloud or FakeCloud(preview=False),
        preview=isinstance(cloud, FirstPreviewCloud),
    )
    if deployment.error is not None:
        raise deployment.error
    return deployment


@pytest.fixture
def stack() -> Deployment:
    return run_program()


def names(deployment: Deployment, typ: str, field: str) -> dict[str, str]:
    return {r.name: r.inputs[field] for r in deployment.of_type(typ)}


@pytest.mark.parametrize("typ", [APPLICATION, SERVICE_PRINCIPAL])
def test_every_entra_object_is_owned_by_the_deployer(stack: Deployment, typ: str) -> None:
    owned = {r.name: r.inputs.get("owners") for r in stack.of_type(typ)}
    assert owned == {name: [DEPLOYER_OBJECT_ID] for name in IDENTITIES}


def test_the_owner_is_asked_of_entra_on_a_first_preview() -> None:
    preview = run_stack("dev", cloud=FirstPreviewCloud())
    for typ in (APPLICATION, SERVICE_PRINCIPAL):
        for registration in preview.of_type(typ):
            # Not known before Entra answers, but set: never left out for the provider to default.
            assert registration.inputs["owners"] == [UNKNOWN], registration.name


def test_a_role_assignment_is_named_from_its_stack_scope_principal_and_role(
    stack: Deployment,
) -> None:
    for registration in stack.of_type(ROLE_ASSIGNMENT):
        inputs = registration.inputs
        expected = uuid.uuid5(
            NAME_NAMESPACE,
            "|".join(
                [
                    "gke-aci/dev",
                    inputs["scope"].lower(),
                    inputs["principalId"].lower(),
                    inputs["roleDefinitionId"].lower(),
                ]
            ),
        )
        assert inputs["roleAssignmentName"] == str(expected), registration.name
        assert registration.id.endswith(f"/{expected}")


def test_the_connectors_role_definition_is_named_from_its_stack_and_resource_group(
    stack: Deployment,
) -> None:
    definition = stack.one(ROLE_DEFINITION)
    group = definition.inputs["scope"]
    assert group.startswith(f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/")
    expected = uuid.uuid5(NAME_NAMESPACE, f"gke-aci/dev|{group.lower()}|aci-connector-role")
    assert definition.inputs["roleDefinitionId"] == str(expected)
    # The connector's assignment names the definition by that GUID.
    assignment = stack.one(ROLE_ASSIGNMENT, "aci-connector").inputs
    assert assignment["roleDefinitionId"].endswith(f"/roleDefinitions/{expected}")


def test_the_names_are_the_same_on_every_run_and_differ_between_stacks() -> None:
    first, again, other = run_stack("dev"), run_stack("dev"), run_stack("burst")
    for typ, field in (
        (ROLE_ASSIGNMENT, "roleAssignmentName"),
        (ROLE_DEFINITION, "roleDefinitionId"),
    ):
        dev = names(first, typ, field)
        assert dev
        assert dev == names(again, typ, field)
        burst = names(other, typ, field)
        assert set(burst) == set(dev)
        assert not set(burst.values()) & set(dev.values()), typ
    # One name per assignment: no two collide within a stack.
    assert len(set(names(first, ROLE_ASSIGNMENT, "roleAssignmentName").values())) == 3


def test_a_renamed_assignment_or_definition_is_deleted_before_its_replacement(
    stack: Deployment,
) -> None:
    # ARM refuses a second assignment of the same role, principal and scope, and a second role
    # with the same name in the tenant: a replacement must go after the old one is gone.
    for registration in [*stack.of_type(ROLE_ASSIGNMENT), *stack.of_type(ROLE_DEFINITION)]:
        assert registration.delete_before_replace, registration.name

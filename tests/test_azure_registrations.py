"""Every Azure resource provider the stack uses is registered, in the graph, before its resources;
the registration signs in as azure-native does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dynamic_fakes import run_as_provider_process, serialize
from fake_cloud import Deployment, run_program

from dynamic.provider_registration import (
    AZURE_NATIVE_AUTH,
    AZURE_NATIVE_SECRET_AUTH,
    RegistrationError,
    RegistrationProvider,
    credential_plan,
)
from settings import ConfigError, load_settings

REGISTRATION = "pulumi-python:dynamic/azure:ResourceProviderRegistration"
# The resource types of each namespace the stack creates, as the engine names them.
NAMESPACE_OF_TYPE = {
    "azure-native:cosmosdb:": "Microsoft.DocumentDB",
    "azure-native:containerregistry:": "Microsoft.ContainerRegistry",
}
TENANT = "55555555-6666-7777-8888-999999999999"
CLIENT = "0a0a0a0a-1111-2222-3333-444444444444"
NO_AZ_PATH = "/nonexistent-bin"


@pytest.fixture
def stack() -> Deployment:
    return run_program()


def registrations(deployment: Deployment) -> dict[str, str]:
    """Namespace: the URN of its registration."""
    return {r.inputs["namespace"]: r.urn for r in deployment.of_type(REGISTRATION)}


def test_each_namespace_the_stack_uses_is_registered(stack: Deployment) -> None:
    assert set(registrations(stack)) == {
        "Microsoft.ContainerInstance",
        "Microsoft.DocumentDB",
        "Microsoft.ContainerRegistry",
    }


@pytest.mark.parametrize(("prefix", "namespace"), sorted(NAMESPACE_OF_TYPE.items()))
def test_every_resource_of_a_namespace_waits_for_its_registration(
    stack: Deployment, prefix: str, namespace: str
) -> None:
    registration = registrations(stack)[namespace]
    resources = [r for r in stack.registrations if r.type.startswith(prefix)]
    assert resources
    for resource in resources:
        assert registration in stack.transitive_dependencies(resource), resource.urn


def test_the_cosmos_account_and_registry_wait_directly(stack: Deployment) -> None:
    # Directly, not through something that might stop depending on it one day.
    account = stack.one("azure-native:cosmosdb:DatabaseAccount")
    registry = stack.one("azure-native:containerregistry:Registry")
    assert registrations(stack)["Microsoft.DocumentDB"] in account.dependencies
    assert registrations(stack)["Microsoft.ContainerRegistry"] in registry.dependencies


def test_no_registry_no_registry_registration() -> None:
    stack = run_program({"gke-aci:appImage": "ghcr.io/example/todo:1"})
    assert "Microsoft.ContainerRegistry" not in registrations(stack)


def test_the_first_preview_keeps_the_registrations_first() -> None:
    preview = run_program(preview=True)
    account = preview.one("azure-native:cosmosdb:DatabaseAccount")
    assert registrations(preview)["Microsoft.DocumentDB"] in account.dependencies


def test_the_stacks_azure_native_settings_reach_each_registration() -> None:
    stack = run_program(
        {
            "azure-native:clientId": CLIENT,
            "azure-native:tenantId": TENANT,
            "azure-native:useOidc": "true",
        }
    )
    for registration in stack.of_type(REGISTRATION):
        assert registration.inputs["auth"] == {
            "clientId": CLIENT,
            "tenantId": TENANT,
            "useOidc": "true",
        }


# --- the credential, as azure-native would choose it -------------------------------------


def plan(environ: dict[str, str], auth: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    return credential_plan(auth or {}, {"PATH": NO_AZ_PATH, **environ})


def test_a_client_secret_in_arm_variables_without_az() -> None:
    method, found = plan(
        {"ARM_CLIENT_ID": CLIENT, "ARM_CLIENT_SECRET": "s3cr3t", "ARM_TENANT_ID": TENANT}
    )
    assert method == "secret"
    assert found == {"tenantId": TENANT, "clientId": CLIENT, "clientSecret": "s3cr3t"}


def test_oidc_with_a_token_in_arm_variables_without_az() -> None:
    method, found = plan(
        {
            "ARM_USE_OIDC": "true",
            "ARM_OIDC_TOKEN": "eyJ.token",
            "ARM_CLIENT_ID": CLIENT,
            "ARM_TENANT_ID": TENANT,
        }
    )
    assert (method, found) == (
        "oidc",
        {"tenantId": TENANT, "clientId": CLIENT, "oidcToken": "eyJ.token"},
    )


def test_oidc_from_github_actions_asks_for_azures_audience() -> None:
    method, found = plan(
        {
            "ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.actions.example/?x=1",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "request-token",
        },
        auth={"useOidc": "true", "clientId": CLIENT, "tenantId": TENANT},
    )
    assert method == "oidc"
    assert found["oidcAudience"] == "api://AzureADTokenExchange"
    assert found["oidcRequestUrl"] == "https://token.actions.example/?x=1"


def test_a_stack_setting_wins_over_its_variable() -> None:
    method, found = plan(
        {"ARM_CLIENT_ID": "from-environment", "ARM_CLIENT_SECRET": "s", "ARM_TENANT_ID": TENANT},
        auth={"clientId": CLIENT},
    )
    assert (method, found["clientId"]) == ("secret", CLIENT)


def test_managed_identity_and_the_default_chain_follow_their_switches() -> None:
    assert plan({"ARM_USE_MSI": "true", "ARM_CLIENT_ID": CLIENT}) == ("msi", {"clientId": CLIENT})
    assert plan({"ARM_USE_DEFAULT_AZURE_CREDENTIAL": "true"}) == ("default", {})


def test_an_incomplete_method_names_what_is_missing() -> None:
    with pytest.raises(RegistrationError) as raised:
        plan({"ARM_CLIENT_SECRET": "s", "ARM_CLIENT_ID": CLIENT})
    assert "azure-native:tenantId or ARM_TENANT_ID" in str(raised.value)
    with pytest.raises(RegistrationError) as raised:
        plan({"ARM_USE_OIDC": "true", "ARM_CLIENT_ID": CLIENT, "ARM_TENANT_ID": TENANT})
    assert "ARM_OIDC_TOKEN" in str(raised.value)


def test_nothing_configured_and_no_az_is_refused_with_what_to_set() -> None:
    with pytest.raises(RegistrationError) as raised:
        plan({})
    message = str(raised.value)
    assert "`az`" in message
    assert "not on PATH" in message
    for variable in ("ARM_TENANT_ID", "ARM_CLIENT_ID", "ARM_CLIENT_SECRET", "ARM_USE_OIDC"):
        assert variable in message


def test_nothing_configured_with_az_on_path_uses_the_cli(tmp_path: Path) -> None:
    az = tmp_path / "az"
    az.write_text("#!/bin/sh\nexit 1\n")
    az.chmod(0o755)
    assert credential_plan({}, {"PATH": str(tmp_path)}) == ("cli", {"tenantId": ""})


def test_secret_settings_are_named_as_variables_and_never_inputs() -> None:
    assert set(AZURE_NATIVE_AUTH) >= AZURE_NATIVE_SECRET_AUTH
    assert AZURE_NATIVE_AUTH["clientSecret"] == "ARM_CLIENT_SECRET"
    assert AZURE_NATIVE_AUTH["oidcToken"] == "ARM_OIDC_TOKEN"


@pytest.mark.parametrize("name", sorted(AZURE_NATIVE_SECRET_AUTH))
def test_a_secret_azure_native_setting_is_refused_before_anything(name: str) -> None:
    config = {"gcp:project": "gke-aci-test", f"azure-native:{name}": "very-secret-value"}
    with pytest.raises(ConfigError) as raised:
        load_settings(config.get)
    [problem] = raised.value.problems
    assert problem.startswith(f"azure-native:{name}: set in the stack's configuration; allowed:")
    assert AZURE_NATIVE_AUTH[name] in problem
    assert "very-secret-value" not in problem


# --- the pickled provider, in the provider process -----------------------------------------

BUILD_CLIENT = """
import base64, json, sys
import dill
from pulumi.runtime._serialization import _deserialize

serialized = sys.stdin.read()
provider = _deserialize(lambda: dill.loads(base64.b64decode(serialized)))
client = provider._client("11111111-2222-3333-4444-555555555555", {})
credential = client._config.credential
print(json.dumps({
    "credential": type(credential).__name__,
    "client_id": credential._client_id,
    "tenant_id": credential._tenant_id,
}))
"""


def test_the_provider_process_signs_in_with_arm_variables_and_no_az(tmp_path: Path) -> None:
    """As the dynamic provider process would: the ARM_* variables of `pulumi up`, no `az`."""
    environment = {
        "PATH": NO_AZ_PATH,
        "HOME": str(tmp_path),
        "ARM_CLIENT_ID": CLIENT,
        "ARM_CLIENT_SECRET": "s3cr3t",
        "ARM_TENANT_ID": TENANT,
    }
    completed = run_as_provider_process(
        BUILD_CLIENT, serialize(RegistrationProvider()), environment
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report == {
        "credential": "ClientSecretCredential",
        "client_id": CLIENT,
        "tenant_id": TENANT,
    }

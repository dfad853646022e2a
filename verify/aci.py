"""The stack's container groups as verify reads them: azure-mgmt-containerinstance, reads only.

Credentials come from ``DefaultAzureCredential``, the chain that finds the ``az login`` a deployer
has (or a service principal in the environment, a managed identity, ...). The subscription is the
one the stack deployed to: ``--subscription``, else the stack's ``azureSubscriptionId`` output,
else ``ARM_SUBSCRIPTION_ID``/``AZURE_SUBSCRIPTION_ID``, else the Azure CLI's default subscription
(what pulumi-azure-native uses when none is configured).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import policies
from azure.identity import DefaultAzureCredential
from azure.mgmt.containerinstance import ContainerInstanceManagementClient
from azure.mgmt.core.policies import ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy

from verify.budget import Budget, Latch, bounded
from verify.inputs import UsageError, run_tool

PUBLIC_CLOUD = "https://management.azure.com"
CLI_SECONDS = 10.0
"""How long ``az`` may take to print the default subscription or a token."""

SIGN_IN_SECONDS = 30.0
"""How long the whole credential chain may take for the first token (at most a quarter of the
budget)."""

SKIP_HINT = "or pass --skip azure to leave the Azure checks out"


class AzureCheckError(Exception):
    """Azure answered, but not with what was asked for (403, 500, ...)."""


@dataclass(frozen=True)
class ContainerGroup:
    """What verify reads of a container group."""

    name: str
    state: str | None
    provisioning_state: str | None
    ip: str | None


def subscription_id(given: str | None, from_outputs: str | None) -> str:
    """The subscription to read, from the first source that names one (see the module doc)."""
    for value in (
        given,
        from_outputs,
        os.environ.get("ARM_SUBSCRIPTION_ID"),
        os.environ.get("AZURE_SUBSCRIPTION_ID"),
    ):
        if value and value.strip():
            return value.strip()
    az = shutil.which("az")
    if az is not None:
        shown = run_tool([az, "account", "show", "--query", "id", "--output", "tsv"], CLI_SECONDS)
        if shown is not None and shown.returncode == 0 and shown.stdout.strip():
            return shown.stdout.strip()
    raise UsageError(
        "no Azure subscription: pass --subscription ID (the stack's), set AZURE_SUBSCRIPTION_ID, "
        f"or `az login` and `az account set --subscription ID`; {SKIP_HINT}"
    )


class ContainerGroups:
    """Container groups in one resource group; once Azure gives no answer, it is not asked again."""

    def __init__(
        self,
        client: ContainerInstanceManagementClient | None,
        resource_group: str,
        budget: Budget,
        failure: str | None = None,
    ) -> None:
        self._client = client
        self.resource_group = resource_group
        self._budget = budget
        self._latch = Latch(failure)

    @classmethod
    def connect(
        cls,
        *,
        subscription: str,
        resource_group: str,
        endpoint: str,
        budget: Budget,
        credential: TokenCredential | None = None,
    ) -> ContainerGroups:
        """Sign in (the first token, so that missing credentials are a usage error) and connect.

        ``credential`` replaces ``DefaultAzureCredential`` for a caller that has its own.
        """
        endpoint = endpoint.rstrip("/")
        scope = f"{endpoint}/.default"
        if credential is None:
            credential = DefaultAzureCredential(process_timeout=int(CLI_SECONDS))
        signed_in = credential
        try:
            bounded(
                lambda: signed_in.get_token(scope),
                budget.within(min(SIGN_IN_SECONDS, budget.seconds / 4)),
                "the Azure sign-in (DefaultAzureCredential)",
            )
        except ClientAuthenticationError as error:
            # DefaultAzureCredential raises this when no credential in its chain could sign in;
            # its message lists what each one said.
            raise UsageError(
                f"no usable Azure credentials ({_attempts(error)}): run `az login`, or set a "
                "service principal in AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET; "
                f"{SKIP_HINT}"
            ) from None
        except (TimeoutError, AzureError) as error:
            return cls(None, resource_group, budget, f"Azure was not reached: {error}")
        client = ContainerInstanceManagementClient(
            credential,
            subscription,
            base_url=endpoint,
            credential_scopes=[scope],
            policies=read_only_pipeline(credential, scope),
        )
        return cls(client, resource_group, budget)

    def get(self, name: str) -> ContainerGroup | None:
        """The container group ``name``, or None when it does not exist."""
        self._latch.check()
        if self._client is None:
            return None
        connect, read = self._budget.timeouts()
        try:
            group = self._client.container_groups.get(
                self.resource_group, name, connection_timeout=connect, read_timeout=read
            )
        except ResourceNotFoundError:
            return None
        except (ServiceRequestError, ServiceResponseError) as error:
            raise self._latch.trip(
                f"Azure Resource Manager did not answer ({type(error).__name__}: "
                f"{_first_line(error)})"
            ) from None
        except ClientAuthenticationError as error:
            raise self._latch.trip(
                f"Azure refused the credentials ({_first_line(error)})"
            ) from None
        except HttpResponseError as error:
            raise AzureCheckError(
                f"Azure answered HTTP {error.status_code} to a read of container group {name} "
                f"({_first_line(error)})"
            ) from None
        return ContainerGroup(
            name=group.name or name,
            state=group.instance_view.state if group.instance_view else None,
            provisioning_state=group.provisioning_state,
            ip=group.ip_address.ip if group.ip_address else None,
        )


def read_only_pipeline(credential: TokenCredential, scope: str) -> list[object]:
    """The client's standard ARM pipeline, less what could change something or take long.

    By default an ARM client also registers a resource provider on the subscription (a write,
    then a wait of its own) when a call answers 409 MissingSubscriptionRegistration
    (azure-mgmt-core ``ARMAutoResourceProviderRegistrationPolicy``): verify changes nothing, so
    it leaves that policy out. No retries: a failed read is reported, within the budget.
    """
    return [
        policies.RequestIdPolicy(),
        policies.HeadersPolicy(),
        policies.UserAgentPolicy(sdk_moniker="gke-aci-verify"),
        policies.ProxyPolicy(),
        policies.ContentDecodePolicy(),
        policies.RedirectPolicy(),
        policies.RetryPolicy(retry_total=0),
        ARMChallengeAuthenticationPolicy(credential, scope),
        policies.NetworkTraceLoggingPolicy(),
        ARMHttpLoggingPolicy(),
    ]


def _attempts(error: BaseException) -> str:
    """What each credential of the chain said, in one line, or the error's first line."""
    lines = str(getattr(error, "message", None) or error).splitlines()
    attempts = [line.strip() for line in lines if line.startswith(("\t", " "))]
    return ("; ".join(attempts) or _first_line(error))[:300]


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return (text.splitlines() or [type(error).__name__])[0][:200]

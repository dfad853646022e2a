"""Register an Azure resource provider namespace on a subscription, inside the Pulumi graph.

azure-native has no resource for this (pulumi-azure-native issue #1075), so this module is a
Pulumi Python dynamic provider built on azure-mgmt-resource and azure-identity. See
docs/decisions/0001-dynamic-provider-for-resource-provider-registration.md.

The provider is pickled by reference: the state holds "``RegistrationProvider`` of module
``dynamic.provider_registration``" and its few settings, and the dynamic provider process, which
Pulumi starts with the project's virtualenv in the project's folder, imports this module to load
it. So refresh and destroy run this checkout's code, and the module and class names are part of
the stack's state: renaming either needs an alias left behind. The decision above has the
evidence, and tests/test_provider_registration.py runs the SDK's own provider process.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import pulumi
import pulumi.dynamic

from dynamic.poll import Pending, poll_until
from pulumi_internals import is_unknown

__all__ = [
    "POLL_INTERVAL_SECONDS",
    "REGISTERED",
    "REGISTRATION_TIMEOUT_SECONDS",
    "ProviderInfo",
    "ProvidersClient",
    "ProvidersOperations",
    "RegistrationError",
    "RegistrationProvider",
    "ResourceProviderRegistration",
    "build_credential",
    "credential_plan",
    "read_state",
    "register_and_wait",
    "resource_id",
]

REGISTRATION_TIMEOUT_SECONDS = 600.0
"""How long create/update wait for the namespace to reach ``Registered`` (10 minutes)."""

POLL_INTERVAL_SECONDS = 10.0
"""How often the registration state is read while waiting."""

REGISTERED = "Registered"
"""The ``registrationState`` Azure reports once a namespace is usable on the subscription."""

# Property names: inputs and outputs of the dynamic resource (no camelCase translation applies).
NAMESPACE = "namespace"
SUBSCRIPTION_ID = "subscription_id"
REGISTRATION_STATE = "registration_state"
AUTH = "auth"

# How azure-native signs in, which the registration follows so that it signs in as the same
# identity: each `azure-native:<key>` setting, or else its environment variable
# (pulumi-azure-native provider/pkg/provider/auth_azidentity.go, readAuthConfig; getConfig in
# provider.go prefers the setting).
AZURE_NATIVE_AUTH: Final = {
    "clientId": "ARM_CLIENT_ID",
    "tenantId": "ARM_TENANT_ID",
    "clientSecret": "ARM_CLIENT_SECRET",
    "clientCertificatePath": "ARM_CLIENT_CERTIFICATE_PATH",
    "clientCertificatePassword": "ARM_CLIENT_CERTIFICATE_PASSWORD",
    "useOidc": "ARM_USE_OIDC",
    "oidcAudience": "ARM_OIDC_AUDIENCE",
    "oidcToken": "ARM_OIDC_TOKEN",
    "oidcTokenFilePath": "ARM_OIDC_TOKEN_FILE_PATH",
    "oidcRequestToken": "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "oidcRequestUrl": "ACTIONS_ID_TOKEN_REQUEST_URL",
    "useMsi": "ARM_USE_MSI",
    "useDefaultAzureCredential": "ARM_USE_DEFAULT_AZURE_CREDENTIAL",
}
# The secret ones reach the registration only through the environment: as a resource input
# they would be kept in the stack's state.
AZURE_NATIVE_SECRET_AUTH: Final = frozenset(
    {"clientSecret", "clientCertificatePassword", "oidcToken", "oidcRequestToken"}
)
# The audience GitHub's token is requested for, unless oidcAudience says otherwise
# (auth_azidentity.go, getOidcTokenExchangeAssertion).
DEFAULT_OIDC_AUDIENCE: Final = "api://AzureADTokenExchange"


class ProviderInfo(Protocol):
    """The part of ``azure.mgmt.resource.resources.models.Provider`` used here."""

    @property
    def registration_state(self) -> str | None: ...


class ProvidersOperations(Protocol):
    """The part of ``ResourceManagementClient.providers`` used here."""

    def register(self, resource_provider_namespace: str, /) -> ProviderInfo: ...

    def get(self, resource_provider_namespace: str, /) -> ProviderInfo: ...


class ProvidersClient(Protocol):
    """What the provider needs from ``ResourceManagementClient`` (a fake in tests)."""

    @property
    def providers(self) -> ProvidersOperations: ...


ClientFactory = Callable[[str], ProvidersClient]
"""Builds a client for a subscription id."""


class RegistrationError(Exception):
    """Registration failed or timed out; the message says why and what to do."""


def resource_id(subscription_id: str, namespace: str) -> str:
    """The Pulumi id of a registration, the ARM id of the provider on the subscription."""
    return f"/subscriptions/{subscription_id}/providers/{namespace}"


def manual_command(namespace: str, subscription_id: str) -> str:
    return f"az provider register --namespace {namespace} --subscription {subscription_id} --wait"


def explain_azure_error(
    exc: Exception, *, action: str, namespace: str, subscription_id: str
) -> str | None:
    """A message for an azure.core error, or None when ``exc`` is not one."""
    from azure.core.exceptions import AzureError, ClientAuthenticationError, HttpResponseError

    if not isinstance(exc, AzureError):
        return None
    lines = str(exc.message or exc).strip().splitlines() or [type(exc).__name__]
    # The first line is ARM's "(Code) message"; the rest repeats it, except for a
    # credential failure, where it lists what each credential source lacked.
    detail = lines[0].rstrip(".")
    subject = f"resource provider {namespace} on subscription {subscription_id}"
    doing = "register" if action == "register" else "read the registration state of"
    register_permission = (
        "'*/register/action' on the subscription (for example the Contributor or Owner role "
        "at subscription scope)"
    )
    fallback = (
        f"or have someone who has that permission run once: "
        f"{manual_command(namespace, subscription_id)}"
    )
    if isinstance(exc, ClientAuthenticationError):
        # A 401, or the credential got no token.
        tried = "\n".join(lines[1:])
        return (
            f"Could not authenticate to Azure to {doing} {subject}: {detail}. Sign in as "
            "azure-native does: `az login`, or ARM_TENANT_ID and ARM_CLIENT_ID with "
            "ARM_CLIENT_SECRET, or with ARM_USE_OIDC=true and a federated token (OIDC, e.g. "
            f"in CI), for an identity that has {register_permission}; {fallback}"
            + (f"\n{tried}" if tried else "")
        )
    if isinstance(exc, HttpResponseError) and exc.status_code == 403:
        if action == "register":
            needed = f"Registering a resource provider needs {register_permission}"
        else:
            needed = (
                "Reading the registration state needs read access to the subscription (for "
                f"example the Reader role), and registering needs {register_permission}"
            )
        return (
            f"Azure denied the request to {doing} {subject} (HTTP 403: {detail}). {needed}. "
            f"Grant that to the identity Pulumi runs as, {fallback}"
        )
    if isinstance(exc, HttpResponseError) and exc.status_code == 404:
        return (
            f"Azure did not find {subject} (HTTP 404: {detail}). Check the namespace spelling "
            "and the subscription id."
        )
    if isinstance(exc, HttpResponseError):
        return (
            f"Azure refused to {doing} {subject} (HTTP {exc.status_code}: {detail}). "
            f"Try again, {fallback}"
        )
    return f"Could not reach Azure Resource Manager to {doing} {subject}: {detail}. {fallback}"


def call_azure(
    request: Callable[[], ProviderInfo], *, action: str, namespace: str, subscription_id: str
) -> ProviderInfo:
    """Run one SDK request; turn an azure.core error into a RegistrationError."""
    try:
        return request()
    except Exception as exc:
        message = explain_azure_error(
            exc, action=action, namespace=namespace, subscription_id=subscription_id
        )
        if message is None:
            raise
        # `from None`: the message carries the SDK's reason, and the provider process
        # prints the whole traceback of what create/read raise; keep the SDK's one out.
        raise RegistrationError(message) from None


def state_of(info: ProviderInfo) -> str:
    return info.registration_state or "Unknown"


def read_state(client: ProvidersClient, namespace: str, subscription_id: str) -> str:
    """The namespace's current ``registrationState`` on the client's subscription."""
    info = call_azure(
        lambda: client.providers.get(namespace),
        action="read",
        namespace=namespace,
        subscription_id=subscription_id,
    )
    return state_of(info)


def timeout_message(
    namespace: str, subscription_id: str, state: str, timeout_seconds: float
) -> str:
    hints = {
        "NotRegistered": "Azure accepted the register request but registration never started. ",
        "Unregistered": "Azure accepted the register request but registration never started. ",
        "Registering": "Registration is still running; it can take longer than usual. ",
        "Unregistering": "Something is unregistering it at the same time. ",
    }
    return (
        f"Resource provider {namespace} did not reach '{REGISTERED}' on subscription "
        f"{subscription_id} within {timeout_seconds:g} s; last state seen: '{state}'. "
        f"{hints.get(state, '')}Check it with `az provider show --namespace {namespace} "
        f"--subscription {subscription_id} --query registrationState`, or register it by "
        f"hand and run `pulumi up` again: {manual_command(namespace, subscription_id)}"
    )


def register_and_wait(
    client: ProvidersClient,
    namespace: str,
    subscription_id: str,
    *,
    timeout_seconds: float = REGISTRATION_TIMEOUT_SECONDS,
    poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Register ``namespace`` unless it already is, then wait for ``Registered``.

    Returns the final state. Raises RegistrationError when Azure refuses or the state is
    not ``Registered`` within ``timeout_seconds`` (measured with ``clock``).
    """

    def registered_or_pending(state: str) -> str | Pending:
        return state if state == REGISTERED else Pending(state)

    def register_unless_registered() -> str | Pending:
        state = read_state(client, namespace, subscription_id)
        if state == REGISTERED:
            # Already registered: no register call, so no '*/register/action' needed.
            return state
        info = call_azure(
            lambda: client.providers.register(namespace),
            action="register",
            namespace=namespace,
            subscription_id=subscription_id,
        )
        return registered_or_pending(state_of(info))

    return poll_until(
        lambda: registered_or_pending(read_state(client, namespace, subscription_id)),
        first=register_unless_registered,
        timeout_seconds=timeout_seconds,
        interval_seconds=poll_interval_seconds,
        on_timeout=lambda state, _attempts: RegistrationError(
            timeout_message(namespace, subscription_id, state, timeout_seconds)
        ),
        sleep=sleep,
        clock=clock,
    )


def credential_plan(
    auth: Mapping[str, str], environ: Mapping[str, str]
) -> tuple[str, dict[str, str]]:
    """Which credential azure-native would use, and its arguments: ``(method, arguments)``.

    ``auth`` holds the stack's non-secret ``azure-native:*`` settings, ``environ`` the
    environment. The methods are tried in azure-native's order (newSingleMethodAuthCredential
    in auth_azidentity.go): the default credential chain, a client certificate, a client
    secret, OIDC, managed identity, the Azure CLI. A method that is chosen but incomplete is
    an error, as in azure-native, not a fall-through to the next one.
    """

    def value(key: str) -> str:
        return str(auth.get(key) or environ.get(AZURE_NATIVE_AUTH[key]) or "")

    def require(method: str, *keys: str) -> dict[str, str]:
        missing = [
            f"azure-native:{key} or {AZURE_NATIVE_AUTH[key]}" for key in keys if not value(key)
        ]
        if missing:
            raise RegistrationError(
                f"Signing in to Azure {method} (as azure-native is configured) needs "
                + " and ".join(missing)
                + "; set it, or sign in another way azure-native accepts."
            )
        return {key: value(key) for key in keys}

    if value("useDefaultAzureCredential") == "true":
        return "default", {}
    if value("clientCertificatePath"):
        found = require(
            "with a client certificate", "tenantId", "clientId", "clientCertificatePath"
        )
        return "certificate", {**found, "password": value("clientCertificatePassword")}
    if value("clientSecret"):
        return "secret", require("with a client secret", "tenantId", "clientId", "clientSecret")
    if value("useOidc") == "true":
        found = require("with OIDC", "tenantId", "clientId")
        for key in ("oidcToken", "oidcTokenFilePath"):
            if value(key):
                return "oidc", {**found, key: value(key)}
        if value("oidcRequestUrl") and value("oidcRequestToken"):
            return "oidc", {
                **found,
                "oidcRequestUrl": value("oidcRequestUrl"),
                "oidcRequestToken": value("oidcRequestToken"),
                "oidcAudience": value("oidcAudience") or DEFAULT_OIDC_AUDIENCE,
            }
        require("with OIDC", "oidcToken")  # raises: names the token to set
    if value("useMsi") == "true":
        return "msi", {"clientId": value("clientId")}
    if shutil.which("az", path=environ.get("PATH")) is None:
        raise RegistrationError(
            "No Azure sign-in for registering resource providers: azure-native is not "
            "configured for a service principal, OIDC or a managed identity, and the Azure "
            "CLI (`az`), its fallback, is not on PATH. Set ARM_TENANT_ID and ARM_CLIENT_ID "
            "with ARM_CLIENT_SECRET, or with ARM_USE_OIDC=true and ARM_OIDC_TOKEN (or "
            "azure-native:* settings of the same names), or install the Azure CLI and run "
            "`az login`."
        )
    return "cli", {"tenantId": value("tenantId")}


def github_oidc_token(url: str, request_token: str, audience: str) -> Callable[[], str]:
    """Asks GitHub Actions for an OIDC token, as azure-native's token exchange does."""

    def fetch() -> str:
        parts = urllib.parse.urlsplit(url)
        query = [*urllib.parse.parse_qsl(parts.query), ("audience", audience)]
        request = urllib.request.Request(
            parts._replace(query=urllib.parse.urlencode(query)).geturl(),
            headers={"Accept": "application/json", "Authorization": f"Bearer {request_token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.loads(response.read())["value"])

    return fetch


def oidc_assertion(found: dict[str, str]) -> Callable[[], str]:
    """The OIDC token: as given, read from its file (each time: it may be renewed), or asked."""
    if "oidcToken" in found:
        token = found["oidcToken"]
        return lambda: token
    if "oidcTokenFilePath" in found:
        path = found["oidcTokenFilePath"]

        def read_token() -> str:
            with open(path) as file:
                return file.read().strip()

        return read_token
    return github_oidc_token(
        found["oidcRequestUrl"], found["oidcRequestToken"], found["oidcAudience"]
    )


def build_credential(method: str, found: dict[str, str]) -> Any:
    """The azure-identity credential for a :func:`credential_plan` result."""
    from azure import identity

    if method == "default":
        return identity.DefaultAzureCredential()
    if method == "certificate":
        return identity.CertificateCredential(
            found["tenantId"],
            found["clientId"],
            certificate_path=found["clientCertificatePath"],
            password=found["password"] or None,
        )
    if method == "secret":
        return identity.ClientSecretCredential(
            found["tenantId"], found["clientId"], found["clientSecret"]
        )
    if method == "oidc":
        return identity.ClientAssertionCredential(
            found["tenantId"], found["clientId"], oidc_assertion(found)
        )
    if method == "msi":
        return identity.ManagedIdentityCredential(client_id=found["clientId"] or None)
    return identity.AzureCliCredential(tenant_id=found["tenantId"])


def build_client(
    subscription_id: str, auth: Mapping[str, str], environ: Mapping[str, str]
) -> ProvidersClient:
    """The real client: ARM, signed in as azure-native is (see :func:`credential_plan`)."""
    try:
        # azure-mgmt-resource 26 ships only the `resources` subpackage here.
        from azure.mgmt.resource.resources import ResourceManagementClient
    except ImportError as exc:
        raise RegistrationError(
            "Registering a resource provider needs the packages azure-identity and "
            f"azure-mgmt-resource in the Pulumi program's virtualenv ({exc}); "
            "install requirements.txt."
        ) from None
    credential = build_credential(*credential_plan(auth, environ))
    return ResourceManagementClient(credential, subscription_id)


def identity_of(id_: str, props: dict[str, Any]) -> tuple[str, str]:
    """(namespace, subscription_id) from the state, or else from the id."""
    namespace, subscription_id = props.get(NAMESPACE), props.get(SUBSCRIPTION_ID)
    if isinstance(namespace, str) and isinstance(subscription_id, str):
        return namespace, subscription_id
    parts = id_.strip("/").split("/")
    if len(parts) == 4 and parts[0].lower() == "subscriptions" and parts[2].lower() == "providers":
        return parts[3], parts[1]
    raise RegistrationError(
        f"Cannot tell the namespace and subscription from id {id_!r}; expected "
        "/subscriptions/<subscription id>/providers/<namespace>."
    )


def outputs(
    namespace: str, subscription_id: str, state: str, auth: Mapping[str, str]
) -> dict[str, Any]:
    return {
        NAMESPACE: namespace,
        SUBSCRIPTION_ID: subscription_id,
        REGISTRATION_STATE: state,
        AUTH: dict(auth),
    }


def auth_of(props: Mapping[str, Any]) -> dict[str, str]:
    """The non-secret azure-native settings a resource was given (none: the environment)."""
    auth = props.get(AUTH)
    return {str(k): str(v) for k, v in auth.items()} if isinstance(auth, dict) else {}


class RegistrationProvider(pulumi.dynamic.ResourceProvider):
    """CRUD of a resource provider registration. Arguments other than defaults are for tests."""

    def __init__(
        self,
        *,
        client_factory: ClientFactory | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
        timeout_seconds: float = REGISTRATION_TIMEOUT_SECONDS,
        poll_interval_seconds: float = POLL_INTERVAL_SECONDS,
    ) -> None:
        super().__init__()
        # None means "the real one" (tests inject fakes).
        self.client_factory = client_factory
        self.sleep = sleep
        self.clock = clock
        self.timeout_seconds = timeout_seconds
        self.poll_interval_seconds = poll_interval_seconds

    def _client(self, subscription_id: str, auth: Mapping[str, str]) -> ProvidersClient:
        if self.client_factory is not None:
            return self.client_factory(subscription_id)
        return build_client(subscription_id, auth, os.environ)

    def _register(
        self, namespace: str, subscription_id: str, auth: Mapping[str, str]
    ) -> dict[str, Any]:
        state = register_and_wait(
            self._client(subscription_id, auth),
            namespace,
            subscription_id,
            timeout_seconds=self.timeout_seconds,
            poll_interval_seconds=self.poll_interval_seconds,
            sleep=self.sleep or time.sleep,
            clock=self.clock or time.monotonic,
        )
        return outputs(namespace, subscription_id, state, auth)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
        failures = [
            pulumi.dynamic.CheckFailure(key, f"{key} must be a non-empty string")
            for key in (NAMESPACE, SUBSCRIPTION_ID)
            if not is_unknown(news.get(key))
            and (not isinstance(news.get(key), str) or not str(news[key]).strip())
        ]
        return pulumi.dynamic.CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        namespace, subscription_id = str(props[NAMESPACE]), str(props[SUBSCRIPTION_ID])
        outs = self._register(namespace, subscription_id, auth_of(props))
        return pulumi.dynamic.CreateResult(resource_id(subscription_id, namespace), outs)

    def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
        namespace, subscription_id = identity_of(id_, props)
        auth = auth_of(props)
        state = read_state(self._client(subscription_id, auth), namespace, subscription_id)
        return pulumi.dynamic.ReadResult(id_, outputs(namespace, subscription_id, state, auth))

    def diff(
        self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
    ) -> pulumi.dynamic.DiffResult:
        # `_olds` are the recorded outputs, `_news` the new inputs.
        replaces = [key for key in (NAMESPACE, SUBSCRIPTION_ID) if _olds.get(key) != _news.get(key)]
        if replaces:
            return pulumi.dynamic.DiffResult(changes=True, replaces=replaces)
        if _olds.get(REGISTRATION_STATE) != REGISTERED:
            # A refresh saw it unregistered (or mid-way): update registers it again.
            return pulumi.dynamic.DiffResult(changes=True)
        if auth_of(_olds) != auth_of(_news):
            # Signs in another way from now on: an update records it (and checks the state).
            return pulumi.dynamic.DiffResult(changes=True)
        return pulumi.dynamic.DiffResult(changes=False)

    def update(
        self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
    ) -> pulumi.dynamic.UpdateResult:
        # Same as create: registers unless already Registered (idempotent), then waits.
        namespace, subscription_id = str(_news[NAMESPACE]), str(_news[SUBSCRIPTION_ID])
        return pulumi.dynamic.UpdateResult(
            self._register(namespace, subscription_id, auth_of(_news))
        )

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Deliberately does nothing to Azure: never unregister. A registration belongs to the
        # whole subscription, and other workloads there may rely on the namespace (here
        # Microsoft.ContainerInstance); Azure also refuses to unregister a namespace while
        # resources of it exist. Removing this resource only drops it from the Pulumi state.
        return None


class ResourceProviderRegistration(
    pulumi.dynamic.Resource, module="azure", name="ResourceProviderRegistration"
):
    """``namespace`` registered on subscription ``subscription_id``; waits until ``Registered``.

    Deleting it (or ``pulumi destroy``) leaves the registration in place. Deploying signs in as
    azure-native does (``auth``: the stack's non-secret ``azure-native:*`` settings; the rest,
    secrets included, from the ``ARM_*`` variables; else ``az login``), and needs
    ``*/register/action`` on the subscription unless the namespace is already registered.
    """

    namespace: pulumi.Output[str]
    subscription_id: pulumi.Output[str]
    registration_state: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        subscription_id: pulumi.Input[str],
        namespace: pulumi.Input[str],
        auth: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        secret = sorted(AZURE_NATIVE_SECRET_AUTH & set(auth or {}))
        if secret:
            raise ValueError(f"secret azure-native settings never become inputs: {secret}")
        super().__init__(
            RegistrationProvider(),
            resource_name,
            {
                NAMESPACE: namespace,
                SUBSCRIPTION_ID: subscription_id,
                AUTH: dict(auth or {}),
                # Declared so that the output exists on this object; the provider sets it.
                REGISTRATION_STATE: None,
            },
            opts,
        )

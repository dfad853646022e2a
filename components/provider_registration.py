"""Register an Azure resource provider namespace on a subscription, inside the Pulumi graph.

azure-native has no resource for this (pulumi-azure-native issue #1075), so this module is a
Pulumi Python dynamic provider built on azure-mgmt-resource and azure-identity. See
docs/decisions/0001-dynamic-provider-for-resource-provider-registration.md.

How the provider reaches the provider process (read from pulumi 3.272
``pulumi/dynamic/dynamic.py`` and ``pulumi/dynamic/__main__.py``, dill 0.4.1):
``serialize_provider`` pickles the provider *object* with ``dill.dumps(provider, recurse=True)``
into the resource's ``__provider`` input, and the ``pulumi-python`` dynamic provider process
``dill.loads`` it back. The SDK does nothing for code outside site-packages (pulumi PR #7755
forced by-value pickling in 2021 and was reverted by #7889; issue #7453 is still open). dill
pickles a class or function *by reference* (module name + qualified name, imported again when
loaded) whenever it finds the very same object as an attribute of its module, and *by value*
(byte code plus the globals it uses) otherwise. By reference, loading would need this project
on the provider process's sys.path and would run ``components/__init__.py`` there.

So everything the provider runs is defined inside ``_define_provider_code()``: the qualified
names contain ``<locals>``, dill cannot locate them and pickles them by value. Their globals are
constants of this module (copied by value) and the modules ``time`` and ``pulumi`` (by
reference, importable from site-packages). The Azure SDK is imported inside ``build_client``
when the provider runs, so it is not in the pickle and this module imports fast.
tests/test_provider_registration.py loads the pickle in a process where ``components`` is not
importable. The pickle holds byte code, which only the same Python minor version can load (so a
Python upgrade can break refresh or delete of a resource created before it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import pulumi
import pulumi.dynamic

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


def _define_provider_code():  # return type inferred: it names classes local to this function
    """Define the code the pickled provider carries; see the module docstring for why here."""

    class RegistrationError(Exception):
        """Registration failed or timed out; the message says why and what to do."""

    def resource_id(subscription_id: str, namespace: str) -> str:
        """The Pulumi id of a registration, the ARM id of the provider on the subscription."""
        return f"/subscriptions/{subscription_id}/providers/{namespace}"

    def manual_command(namespace: str, subscription_id: str) -> str:
        return (
            f"az provider register --namespace {namespace} --subscription {subscription_id} --wait"
        )

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
            # A 401, or DefaultAzureCredential found no usable credential.
            tried = "\n".join(lines[1:])
            return (
                f"Could not authenticate to Azure to {doing} {subject}: {detail}. Sign in with "
                "`az login`, or set AZURE_TENANT_ID and AZURE_CLIENT_ID with AZURE_CLIENT_SECRET "
                "or a federated token (OIDC, e.g. azure/login in CI), for an identity that has "
                f"{register_permission}; {fallback}" + (f"\n{tried}" if tried else "")
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
        deadline = clock() + timeout_seconds
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
        state = state_of(info)
        while state != REGISTERED:
            remaining = deadline - clock()
            if remaining <= 0:
                raise RegistrationError(
                    timeout_message(namespace, subscription_id, state, timeout_seconds)
                )
            sleep(min(poll_interval_seconds, remaining))
            state = read_state(client, namespace, subscription_id)
        return state

    def build_client(subscription_id: str) -> ProvidersClient:
        """The real client: ARM with DefaultAzureCredential (az login, env vars, OIDC)."""
        try:
            from azure.identity import DefaultAzureCredential

            # azure-mgmt-resource 26 ships only the `resources` subpackage here.
            from azure.mgmt.resource.resources import ResourceManagementClient
        except ImportError as exc:
            raise RegistrationError(
                "Registering a resource provider needs the packages azure-identity and "
                f"azure-mgmt-resource in the Pulumi program's virtualenv ({exc}); "
                "install requirements.txt."
            ) from None
        return ResourceManagementClient(DefaultAzureCredential(), subscription_id)

    def identity_of(id_: str, props: dict[str, Any]) -> tuple[str, str]:
        """(namespace, subscription_id) from the state, or else from the id."""
        namespace, subscription_id = props.get(NAMESPACE), props.get(SUBSCRIPTION_ID)
        if isinstance(namespace, str) and isinstance(subscription_id, str):
            return namespace, subscription_id
        parts = id_.strip("/").split("/")
        if (
            len(parts) == 4
            and parts[0].lower() == "subscriptions"
            and parts[2].lower() == "providers"
        ):
            return parts[3], parts[1]
        raise RegistrationError(
            f"Cannot tell the namespace and subscription from id {id_!r}; expected "
            "/subscriptions/<subscription id>/providers/<namespace>."
        )

    def outputs(namespace: str, subscription_id: str, state: str) -> dict[str, Any]:
        return {NAMESPACE: namespace, SUBSCRIPTION_ID: subscription_id, REGISTRATION_STATE: state}

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
            # None means "the real one, chosen when the provider runs": keeps the pickle small.
            self.client_factory = client_factory
            self.sleep = sleep
            self.clock = clock
            self.timeout_seconds = timeout_seconds
            self.poll_interval_seconds = poll_interval_seconds

        def _client(self, subscription_id: str) -> ProvidersClient:
            factory = self.client_factory or build_client
            return factory(subscription_id)

        def _register(self, namespace: str, subscription_id: str) -> dict[str, Any]:
            state = register_and_wait(
                self._client(subscription_id),
                namespace,
                subscription_id,
                timeout_seconds=self.timeout_seconds,
                poll_interval_seconds=self.poll_interval_seconds,
                sleep=self.sleep or time.sleep,
                clock=self.clock or time.monotonic,
            )
            return outputs(namespace, subscription_id, state)

        def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.CheckResult:
            failures = [
                pulumi.dynamic.CheckFailure(key, f"{key} must be a non-empty string")
                for key in (NAMESPACE, SUBSCRIPTION_ID)
                if not isinstance(news.get(key), str) or not str(news[key]).strip()
            ]
            return pulumi.dynamic.CheckResult(news, failures)

        def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
            namespace, subscription_id = str(props[NAMESPACE]), str(props[SUBSCRIPTION_ID])
            outs = self._register(namespace, subscription_id)
            return pulumi.dynamic.CreateResult(resource_id(subscription_id, namespace), outs)

        def read(self, id_: str, props: dict[str, Any]) -> pulumi.dynamic.ReadResult:
            namespace, subscription_id = identity_of(id_, props)
            state = read_state(self._client(subscription_id), namespace, subscription_id)
            return pulumi.dynamic.ReadResult(id_, outputs(namespace, subscription_id, state))

        def diff(
            self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
        ) -> pulumi.dynamic.DiffResult:
            # `_olds` are the recorded outputs, `_news` the new inputs.
            replaces = [
                key for key in (NAMESPACE, SUBSCRIPTION_ID) if _olds.get(key) != _news.get(key)
            ]
            if replaces:
                return pulumi.dynamic.DiffResult(changes=True, replaces=replaces)
            if _olds.get(REGISTRATION_STATE) != REGISTERED:
                # A refresh saw it unregistered (or mid-way): update registers it again.
                return pulumi.dynamic.DiffResult(changes=True)
            return pulumi.dynamic.DiffResult(changes=False)

        def update(
            self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]
        ) -> pulumi.dynamic.UpdateResult:
            # Same as create: registers unless already Registered (idempotent), then waits.
            namespace, subscription_id = str(_news[NAMESPACE]), str(_news[SUBSCRIPTION_ID])
            return pulumi.dynamic.UpdateResult(self._register(namespace, subscription_id))

        def delete(self, _id: str, _props: dict[str, Any]) -> None:
            # Deliberately does nothing to Azure: never unregister. A registration belongs to the
            # whole subscription, and other workloads there may rely on the namespace (here
            # Microsoft.ContainerInstance); Azure also refuses to unregister a namespace while
            # resources of it exist. Removing this resource only drops it from the Pulumi state.
            return None

    return RegistrationError, register_and_wait, read_state, resource_id, RegistrationProvider


RegistrationError, register_and_wait, read_state, resource_id, RegistrationProvider = (
    _define_provider_code()
)


class ResourceProviderRegistration(
    pulumi.dynamic.Resource, module="azure", name="ResourceProviderRegistration"
):
    """``namespace`` registered on subscription ``subscription_id``; waits until ``Registered``.

    Deleting it (or ``pulumi destroy``) leaves the registration in place. Deploying needs Azure
    credentials that DefaultAzureCredential finds (``az login``, environment variables, OIDC),
    with ``*/register/action`` on the subscription unless the namespace is already registered.
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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            RegistrationProvider(),
            resource_name,
            {
                NAMESPACE: namespace,
                SUBSCRIPTION_ID: subscription_id,
                # Declared so that the output exists on this object; the provider sets it.
                REGISTRATION_STATE: None,
            },
            opts,
        )

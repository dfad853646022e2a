"""Tests of dynamic.provider_registration against a fake ARM client: no network, no sleeping."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from dynamic_fakes import (
    PROVIDER_KEY,
    FakeTime,
    RecordingCloud,
    deserialize,
    provider_host,
    serialize,
)

from dynamic.provider_registration import (
    POLL_INTERVAL_SECONDS,
    REGISTRATION_TIMEOUT_SECONDS,
    RegistrationError,
    RegistrationProvider,
    ResourceProviderRegistration,
    register_and_wait,
    resource_id,
)
from dynamic.readiness_gate import ArmGateProvider, ReadinessGateProvider, RegistryGateProvider
from pulumi_internals import UNKNOWN, provider_pb2

NAMESPACE = "Microsoft.ContainerInstance"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
PROPS = {"namespace": NAMESPACE, "subscription_id": SUBSCRIPTION, "auth": {}}
ID = f"/subscriptions/{SUBSCRIPTION}/providers/{NAMESPACE}"
MANUAL = f"az provider register --namespace {NAMESPACE}"


@dataclass
class FakeProviderInfo:
    registration_state: str | None


@dataclass
class FakeProviders:
    """``client.providers``: answers ``get`` from ``states`` (the last one repeats)."""

    states: list[str | None]
    register_state: str | None = "Registering"
    get_error: Exception | None = None
    register_error: Exception | None = None
    calls: list[tuple[str, str]] = field(default_factory=list)

    def register(self, resource_provider_namespace: str, /) -> FakeProviderInfo:
        self.calls.append(("register", resource_provider_namespace))
        if self.register_error is not None:
            raise self.register_error
        return FakeProviderInfo(self.register_state)

    def get(self, resource_provider_namespace: str, /) -> FakeProviderInfo:
        self.calls.append(("get", resource_provider_namespace))
        if self.get_error is not None:
            raise self.get_error
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return FakeProviderInfo(state)

    def count(self, operation: str) -> int:
        return sum(1 for name, _ in self.calls if name == operation)


@dataclass
class FakeClient:
    providers: FakeProviders


@dataclass
class Harness:
    providers: FakeProviders
    time: FakeTime
    factory_calls: list[str]
    provider: Any  # a RegistrationProvider wired to the fakes


def make_harness(providers: FakeProviders) -> Harness:
    fake_time = FakeTime()
    factory_calls: list[str] = []

    def client_factory(subscription_id: str) -> FakeClient:
        factory_calls.append(subscription_id)
        return FakeClient(providers)

    provider = RegistrationProvider(
        client_factory=client_factory, sleep=fake_time.sleep, clock=fake_time.clock
    )
    return Harness(providers, fake_time, factory_calls, provider)


def forbidden(action: str) -> HttpResponseError:
    """What ARM answers an identity without the permission (status set as a response would)."""
    error = HttpResponseError(
        message=(
            f"(AuthorizationFailed) The client 'deployer' does not have authorization to perform "
            f"action '{action}' over scope '/subscriptions/{SUBSCRIPTION}'.\n"
            "Code: AuthorizationFailed"
        )
    )
    error.status_code = 403
    error.reason = "Forbidden"
    return error


# --- create -------------------------------------------------------------------------------


def test_create_when_already_registered_does_not_register() -> None:
    harness = make_harness(FakeProviders(states=["Registered"]))

    result = harness.provider.create(dict(PROPS))

    assert result.id == ID
    assert result.outs == {**PROPS, "registration_state": "Registered"}
    assert harness.providers.calls == [("get", NAMESPACE)]
    assert harness.time.sleeps == []
    assert harness.factory_calls == [SUBSCRIPTION]


def test_create_registers_once_and_polls_until_registered() -> None:
    harness = make_harness(FakeProviders(states=["NotRegistered", "Registering", "Registered"]))

    result = harness.provider.create(dict(PROPS))

    assert result.outs["registration_state"] == "Registered"
    assert harness.providers.count("register") == 1
    # One read before registering, then one read after each of the two waits.
    assert harness.providers.count("get") == 3
    assert harness.time.sleeps == [POLL_INTERVAL_SECONDS, POLL_INTERVAL_SECONDS]
    assert harness.providers.calls[:2] == [("get", NAMESPACE), ("register", NAMESPACE)]


def test_register_response_already_registered_needs_no_polling() -> None:
    providers = FakeProviders(states=["NotRegistered"], register_state="Registered")
    fake_time = FakeTime()

    state = register_and_wait(
        FakeClient(providers), NAMESPACE, SUBSCRIPTION, sleep=fake_time.sleep, clock=fake_time.clock
    )

    assert state == "Registered"
    assert providers.calls == [("get", NAMESPACE), ("register", NAMESPACE)]
    assert fake_time.sleeps == []


def test_timeout_names_namespace_subscription_state_and_manual_command() -> None:
    harness = make_harness(FakeProviders(states=["NotRegistered", "Registering"]))

    with pytest.raises(RegistrationError) as excinfo:
        harness.provider.create(dict(PROPS))

    message = str(excinfo.value)
    assert NAMESPACE in message
    assert SUBSCRIPTION in message
    assert "'Registering'" in message
    assert MANUAL in message
    assert "--wait" in message
    assert "600 s" in message
    # It waited the whole bound and no longer, in poll-sized steps, registering only once.
    assert sum(harness.time.sleeps) == pytest.approx(REGISTRATION_TIMEOUT_SECONDS)
    assert max(harness.time.sleeps) == POLL_INTERVAL_SECONDS
    assert harness.providers.count("register") == 1


def test_timeout_when_registration_never_starts_says_so() -> None:
    providers = FakeProviders(states=["NotRegistered"], register_state="NotRegistered")
    fake_time = FakeTime()

    with pytest.raises(RegistrationError, match="never started") as excinfo:
        register_and_wait(
            FakeClient(providers),
            NAMESPACE,
            SUBSCRIPTION,
            timeout_seconds=30,
            poll_interval_seconds=7,
            sleep=fake_time.sleep,
            clock=fake_time.clock,
        )

    assert "'NotRegistered'" in str(excinfo.value)
    assert MANUAL in str(excinfo.value)
    # The last wait is cut to the time left: 7 + 7 + 7 + 7 + 2 = 30.
    assert fake_time.sleeps == [7, 7, 7, 7, 2]


def test_timeout_counts_time_spent_in_slow_requests() -> None:
    """The bound is wall-clock time (the injected clock), not a number of polls."""
    providers = FakeProviders(states=["NotRegistered", "Registering"])
    readings = iter([0.0, 5.0, 700.0])

    with pytest.raises(RegistrationError, match="'Registering'"):
        register_and_wait(
            FakeClient(providers),
            NAMESPACE,
            SUBSCRIPTION,
            sleep=lambda seconds: None,
            clock=lambda: next(readings),
        )

    assert providers.count("get") == 2
    assert providers.count("register") == 1


# --- Azure errors -------------------------------------------------------------------------


def test_forbidden_register_explains_the_permission_needed() -> None:
    harness = make_harness(
        FakeProviders(
            states=["NotRegistered"],
            register_error=forbidden("Microsoft.ContainerInstance/register/action"),
        )
    )

    with pytest.raises(RegistrationError) as excinfo:
        harness.provider.create(dict(PROPS))

    message = str(excinfo.value)
    assert "HTTP 403" in message
    assert "'*/register/action'" in message
    assert "Contributor or Owner" in message
    assert "subscription scope" in message
    assert NAMESPACE in message
    assert SUBSCRIPTION in message
    assert MANUAL in message
    assert "AuthorizationFailed" in message
    # The SDK's own traceback is not chained onto the error the user sees.
    assert excinfo.value.__suppress_context__
    assert excinfo.value.__cause__ is None


def test_forbidden_read_names_reader_and_register_permission() -> None:
    harness = make_harness(
        FakeProviders(states=["Registered"], get_error=forbidden("Microsoft.Resources/read"))
    )

    with pytest.raises(RegistrationError) as excinfo:
        harness.provider.read(ID, dict(PROPS))

    message = str(excinfo.value)
    assert "Reader" in message
    assert "'*/register/action'" in message
    assert harness.providers.count("register") == 0


def test_missing_credentials_say_how_to_sign_in() -> None:
    error = ClientAuthenticationError(
        message="DefaultAzureCredential failed to retrieve a token.\nAzureCliCredential: not found"
    )
    harness = make_harness(FakeProviders(states=["Registered"], get_error=error))

    with pytest.raises(RegistrationError) as excinfo:
        harness.provider.create(dict(PROPS))

    message = str(excinfo.value)
    assert "az login" in message
    # azure-native's variables: the registration signs in as azure-native does.
    assert "ARM_CLIENT_ID" in message
    assert "ARM_USE_OIDC" in message
    assert "AzureCliCredential: not found" in message
    assert MANUAL in message


def test_unknown_namespace_is_reported_as_not_found() -> None:
    error = HttpResponseError(message="(InvalidResourceNamespace) The resource namespace 'x'")
    error.status_code = 404
    harness = make_harness(FakeProviders(states=["NotRegistered"], register_error=error))

    with pytest.raises(RegistrationError, match="HTTP 404"):
        harness.provider.create({"namespace": "Microsoft.Typo", "subscription_id": SUBSCRIPTION})


def test_errors_that_are_not_from_azure_propagate_unchanged() -> None:
    harness = make_harness(FakeProviders(states=["Registered"], get_error=KeyError("bug")))

    with pytest.raises(KeyError, match="bug"):
        harness.provider.create(dict(PROPS))


# --- read, diff, update, delete, check ----------------------------------------------------


@pytest.mark.parametrize("state", ["Registered", "Unregistered", "Registering"])
def test_read_returns_current_state(state: str) -> None:
    harness = make_harness(FakeProviders(states=[state]))

    result = harness.provider.read(ID, {**PROPS, "registration_state": "Registered"})

    assert result.id == ID
    assert result.outs == {**PROPS, "registration_state": state}
    assert harness.providers.calls == [("get", NAMESPACE)]


def test_read_without_state_parses_the_id() -> None:
    harness = make_harness(FakeProviders(states=["Registered"]))

    result = harness.provider.read(ID, {})

    assert result.outs == {**PROPS, "registration_state": "Registered"}
    assert harness.factory_calls == [SUBSCRIPTION]


OLDS = {**PROPS, "registration_state": "Registered"}


@pytest.mark.parametrize(
    ("news", "replaces"),
    [
        ({**PROPS, "namespace": "Microsoft.Web"}, ["namespace"]),
        ({**PROPS, "subscription_id": "other"}, ["subscription_id"]),
        (
            {"namespace": "Microsoft.Web", "subscription_id": "other"},
            ["namespace", "subscription_id"],
        ),
    ],
)
def test_diff_replaces_on_namespace_or_subscription_change(
    news: dict[str, Any], replaces: list[str]
) -> None:
    harness = make_harness(FakeProviders(states=["Registered"]))

    result = harness.provider.diff(ID, dict(OLDS), {**news, "registration_state": None})

    assert result.changes is True
    assert result.replaces == replaces
    assert harness.providers.calls == []


def test_diff_reports_no_change_otherwise() -> None:
    harness = make_harness(FakeProviders(states=["Registered"]))

    result = harness.provider.diff(
        ID, dict(OLDS), {**PROPS, "registration_state": None, "__provider": "new code"}
    )

    assert result.changes is False
    assert not result.replaces
    assert harness.providers.calls == []


def test_diff_updates_when_refresh_saw_it_unregistered() -> None:
    harness = make_harness(FakeProviders(states=["Registered"]))

    result = harness.provider.diff(ID, {**PROPS, "registration_state": "Unregistered"}, dict(PROPS))

    assert result.changes is True
    assert not result.replaces


def test_update_registers_again_and_waits() -> None:
    harness = make_harness(FakeProviders(states=["Unregistered", "Registered"]))

    result = harness.provider.update(ID, {**PROPS, "registration_state": "Unregistered"}, PROPS)

    assert result.outs == {**PROPS, "registration_state": "Registered"}
    assert harness.providers.count("register") == 1
    assert harness.time.sleeps == [POLL_INTERVAL_SECONDS]


def test_delete_never_touches_azure() -> None:
    harness = make_harness(FakeProviders(states=["Registered"]))

    harness.provider.delete(ID, dict(OLDS))

    assert harness.providers.calls == []
    assert harness.factory_calls == []
    assert harness.time.sleeps == []


def test_check_rejects_missing_inputs() -> None:
    provider = RegistrationProvider()

    ok = provider.check({}, dict(PROPS))
    bad = provider.check({}, {"namespace": " ", "subscription_id": None})

    assert ok.failures == []
    assert sorted(failure.property for failure in bad.failures) == ["namespace", "subscription_id"]
    for unknown in (UNKNOWN, pulumi.UNKNOWN):
        assert provider.check({}, {**PROPS, "subscription_id": unknown}).failures == []


def test_resource_id_is_the_arm_provider_id() -> None:
    assert resource_id(SUBSCRIPTION, NAMESPACE) == ID


# --- serialization, as pulumi.dynamic does it ---------------------------------------------


def test_provider_survives_the_sdk_round_trip_by_reference() -> None:
    serialized = serialize(RegistrationProvider())

    # What pulumi/dynamic/__main__.py get_provider does.
    loaded = deserialize(serialized)

    # By reference: the class is this module's, imported again, not rebuilt from byte code.
    assert type(loaded) is RegistrationProvider
    assert b"dynamic.provider_registration" in base64.b64decode(serialized)
    assert loaded.client_factory is None
    result = loaded.diff(ID, dict(OLDS), {**PROPS, "namespace": "Microsoft.Web"})
    assert result.replaces == ["namespace"]
    # Deterministic, so the stored provider does not change between runs.
    assert serialize(RegistrationProvider()) == serialized


# The names every stack's state holds (decision 0001): renaming one needs an alias left behind.
NAMES_IN_THE_STATE = [
    (RegistrationProvider, "dynamic.provider_registration", "RegistrationProvider"),
    (ReadinessGateProvider, "dynamic.readiness_gate", "ReadinessGateProvider"),
    (RegistryGateProvider, "dynamic.readiness_gate", "RegistryGateProvider"),
    (ArmGateProvider, "dynamic.readiness_gate", "ArmGateProvider"),
]


@pytest.mark.parametrize(("provider_class", "module", "name"), NAMES_IN_THE_STATE)
def test_the_state_names_each_provider_by_module_and_class(
    provider_class: type, module: str, name: str
) -> None:
    pickled = base64.b64decode(serialize(provider_class()))

    assert module.encode() in pickled
    assert name.encode() in pickled
    # Nothing of the class's code: no byte code object in the pickle.
    assert b"_create_code" not in pickled
    assert len(pickled) < 512


def test_the_sdk_provider_process_in_the_project_folder_runs_it() -> None:
    """The provider process Pulumi starts: check and diff over gRPC, as the engine asks them."""
    provider = serialize(RegistrationProvider())
    olds = {**OLDS, PROVIDER_KEY: provider}

    with provider_host() as host:
        failures = host.check(
            {"namespace": "", "subscription_id": SUBSCRIPTION, PROVIDER_KEY: provider}
        )
        # A first preview, if the subscription is not known yet.
        preview = host.check({**PROPS, "subscription_id": UNKNOWN, PROVIDER_KEY: provider})
        diff = host.diff(olds, {**PROPS, "namespace": "Microsoft.Web", PROVIDER_KEY: provider})
        same = host.diff(olds, {**PROPS, PROVIDER_KEY: provider})

    assert failures == [("namespace", "namespace must be a non-empty string")]
    assert preview == []
    assert list(diff.replaces) == ["namespace"]
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE


def test_the_provider_process_needs_the_project_folder(tmp_path: Path) -> None:
    """Started anywhere else (another `main:` folder, say), it cannot import the provider."""
    provider = serialize(RegistrationProvider())

    with provider_host(cwd=tmp_path) as host, pytest.raises(grpc.RpcError) as raised:
        host.check({**PROPS, PROVIDER_KEY: provider})

    assert "No module named 'dynamic'" in str(raised.value.details())  # pyright: ignore[reportAttributeAccessIssue]


# --- the resource under Pulumi mocks ------------------------------------------------------


@pulumi.runtime.test
def test_resource_registers_as_a_dynamic_resource(mocks: RecordingCloud) -> pulumi.Output[None]:
    registration = ResourceProviderRegistration(
        "container-instance",
        subscription_id=SUBSCRIPTION,
        namespace=NAMESPACE,
        opts=pulumi.ResourceOptions(protect=False),
    )

    def check(values: list[Any]) -> None:
        resource_id_, namespace, subscription_id, state = values
        assert resource_id_ == ID
        assert namespace == NAMESPACE
        assert subscription_id == SUBSCRIPTION
        assert state == "Registered"
        [args] = mocks.resources
        assert args.typ == "pulumi-python:dynamic/azure:ResourceProviderRegistration"
        assert args.name == "container-instance"
        assert args.inputs["namespace"] == NAMESPACE
        assert args.inputs["subscription_id"] == SUBSCRIPTION
        assert "__provider" in args.inputs

    return pulumi.Output.all(
        registration.id,
        registration.namespace,
        registration.subscription_id,
        registration.registration_state,
    ).apply(check)


@pulumi.runtime.test
def test_resource_accepts_output_inputs(mocks: RecordingCloud) -> pulumi.Output[None]:
    registration = ResourceProviderRegistration(
        "from-outputs",
        subscription_id=pulumi.Output.from_input(SUBSCRIPTION),
        namespace=pulumi.Output.from_input(NAMESPACE).apply(str),
    )

    def check(values: list[Any]) -> None:
        assert values == [ID, "Registered"]
        assert mocks.resources[0].inputs["subscription_id"] == SUBSCRIPTION

    return pulumi.Output.all(registration.id, registration.registration_state).apply(check)

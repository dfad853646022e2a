"""A mock Pulumi engine with a fake cloud behind it, and a runner for the real program.

The fake cloud computes what GCP, Azure, Azure AD and Kubernetes would (names, ids, endpoints,
keys, the pod's IP) from the inputs it is sent. The recording monitor keeps every registration as
the engine would receive it (secrets still wrapped, dependencies, options), and applies the two
engine behaviours that mocks otherwise skip: outputs named in ``additionalSecretOutputs`` and
outputs whose input was secret come back as secrets.

In preview mode every value a cloud computes is unknown, as on a first ``pulumi preview``.
"""

from __future__ import annotations

import base64
import runpy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks, rpc
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_DIR / "__main__.py"

UNKNOWN = rpc.UNKNOWN
SECRET_KEY = rpc._special_sig_key  # pyright: ignore[reportPrivateUsage]
SECRET_SIG = rpc._special_secret_sig  # pyright: ignore[reportPrivateUsage]

# What the fake cloud hands out. Secret values are distinctive so tests can search for them.
SUBSCRIPTION_ID = "00000000-1111-2222-3333-444444444444"
TENANT_ID = "55555555-6666-7777-8888-999999999999"
APP_CLIENT_ID = "aaaaaaaa-0000-0000-0000-000000000001"
APP_OBJECT_ID = "aaaaaaaa-0000-0000-0000-000000000002"
SP_OBJECT_ID = "bbbbbbbb-0000-0000-0000-000000000003"
SP_PASSWORD = "FAKE-sp-password~s3cr3t"
COSMOS_KEY = "FAKEcosmosKEY+with/slashes=="
COSMOS_SECONDARY_KEY = "FAKEsecondaryKEY+zzz/yyy=="
TLS_PRIVATE_KEY = (
    "-----BEGIN EC PRIVATE KEY-----\nFAKE-tls-private-key\n-----END EC PRIVATE KEY-----\n"
)
TLS_CERT = "-----BEGIN CERTIFICATE-----\nFAKE-cert\n-----END CERTIFICATE-----\n"
GKE_ENDPOINT = "34.82.10.20"
GKE_CA = base64.b64encode(b"FAKE-cluster-ca").decode()
POD_IP = "20.66.7.8"
AUTONAME_SUFFIX = "a1b2c3d"

SECRET_VALUES = (SP_PASSWORD, COSMOS_KEY, COSMOS_SECONDARY_KEY, TLS_PRIVATE_KEY)

BASE_CONFIG = {"gcp:project": "gke-aci-test", "gcp:zone": "us-west1-a"}


def is_secret(value: object) -> bool:
    return isinstance(value, dict) and value.get(SECRET_KEY) == SECRET_SIG


def secret(value: object) -> dict[str, object]:
    return {SECRET_KEY: SECRET_SIG, "value": value}


def reveal(value: Any) -> Any:
    """The value with every secret wrapper removed (what the cloud would receive)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def redact(value: Any, hidden: bool = False) -> Any:
    """The value with every secret replaced by a marker (what a person or a log may see).

    A secret map or list keeps its shape; each value inside it becomes the marker.
    """
    if is_secret(value):
        return redact(value["value"], hidden=True)
    if isinstance(value, dict):
        return {k: redact(v, hidden) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, hidden) for v in value]
    return "[secret]" if hidden else value


def _struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return _whole_numbers(json_format.MessageToDict(struct))


def _whole_numbers(value: Any) -> Any:
    """protobuf Structs carry every number as a float; give whole numbers back as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


class FakeCloud(mocks.Mocks):
    """Computes the outputs a real provider would return for the resources the program creates."""

    def __init__(self, preview: bool) -> None:
        self.preview = preview

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "azure-native:authorization:getClientConfig":
            return {
                "clientId": "cccccccc-0000-0000-0000-000000000009",
                "objectId": "dddddddd-0000-0000-0000-00000000000a",
                "subscriptionId": SUBSCRIPTION_ID,
                "tenantId": TENANT_ID,
            }, []
        if args.token == "azure-native:cosmosdb:listDatabaseAccountConnectionStrings":
            account = args.args["accountName"]
            host = f"{account}.mongo.cosmos.azure.com:10255"
            options = (
                f"ssl=true&replicaSet=globaldb&retrywrites=false&maxIdleTimeMS=120000"
                f"&appName=@{account}@"
            )

            def entry(key: str, description: str) -> dict[str, str]:
                return {
                    "connectionString": f"mongodb://{account}:{key}@{host}/?{options}",
                    "description": description,
                    "keyKind": description.split()[0],
                    "type": "MongoDB",
                }

            # The primary is deliberately not first: the program must select by description.
            return {
                "connectionStrings": [
                    entry(COSMOS_SECONDARY_KEY, "Secondary MongoDB Connection String"),
                    entry(COSMOS_KEY, "Primary MongoDB Connection String"),
                ]
            }, []
        raise AssertionError(f"the fake cloud does not know the call {args.token}")

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        computed, resource_id = self._compute(args)
        if self.preview:
            computed = {key: UNKNOWN for key in computed}
            resource_id = None
        return resource_id, {**args.inputs, **computed}

    def _compute(self, args: mocks.MockResourceArgs) -> tuple[dict[str, Any], str]:
        inputs, typ = args.inputs, args.typ
        autoname = f"{args.name}-{AUTONAME_SUFFIX}"
        if typ == "gcp:container/cluster:Cluster":
            name = inputs.get("name") or autoname
            return {
                "name": name,
                "endpoint": GKE_ENDPOINT,
                "masterAuth": {"clusterCaCertificate": GKE_CA},
            }, f"projects/gke-aci-test/locations/{inputs['location']}/clusters/{name}"
        if typ == "gcp:container/nodePool:NodePool":
            return {"name": inputs.get("name") or autoname}, f"node-pool/{autoname}"
        if typ == "azure-native:resources:ResourceGroup":
            name = inputs.get("resourceGroupName") or autoname
            return {"name": name}, f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{name}"
        if typ == "azure-native:cosmosdb:DatabaseAccount":
            name = inputs.get("accountName") or autoname
            return {
                "name": name,
                "documentEndpoint": f"https://{name}.documents.azure.com:443/",
            }, f"/subscriptions/{SUBSCRIPTION_ID}/databaseAccounts/{name}"
        if typ == "azure-native:cosmosdb:MongoDBResourceMongoDBDatabase":
            name = inputs["databaseName"]
            return {"name": name}, f"/subscriptions/{SUBSCRIPTION_ID}/mongodbDatabases/{name}"
        if typ == "azuread:index/application:Application":
            return {
                "clientId": APP_CLIENT_ID,
                "objectId": APP_OBJECT_ID,
            }, f"/applications/{APP_OBJECT_ID}"
        if typ == "azuread:index/servicePrincipal:ServicePrincipal":
            return {"objectId": SP_OBJECT_ID}, f"/servicePrincipals/{SP_OBJECT_ID}"
        if typ == "azuread:index/servicePrincipalPassword:ServicePrincipalPassword":
            return {"value": SP_PASSWORD, "keyId": "key-1"}, f"{SP_OBJECT_ID}/password/key-1"
        if typ == "azure-native:authorization:RoleAssignment":
            guid = "eeeeeeee-0000-0000-0000-00000000000b"
            return {"name": guid}, f"{inputs['scope']}/providers/Microsoft.Authorization/{guid}"
        if typ == "tls:index/privateKey:PrivateKey":
            return {
                "privateKeyPem": TLS_PRIVATE_KEY,
                "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nFAKE\n-----END PUBLIC KEY-----\n",
            }, "private-key"
        if typ == "tls:index/selfSignedCert:SelfSignedCert":
            return {"certPem": TLS_CERT}, "self-signed-cert"
        if typ == "pulumi-python:dynamic:Resource":
            return {
                "registration_state": "Registered"
            }, f"/subscriptions/{inputs['subscription_id']}/providers/{inputs['namespace']}"
        if typ.startswith("kubernetes:"):
            return self._kubernetes(args, autoname)
        return {}, f"{args.name}-id"

    def _kubernetes(
        self, args: mocks.MockResourceArgs, autoname: str
    ) -> tuple[dict[str, Any], str]:
        metadata = dict(args.inputs.get("metadata") or {})
        metadata.setdefault("name", autoname)
        computed: dict[str, Any] = {"metadata": metadata}
        if args.typ == "kubernetes:core/v1:Pod":
            computed["status"] = {"phase": "Running", "podIP": POD_IP, "hostIP": "10.128.0.9"}
        if args.typ == "kubernetes:apps/v1:Deployment":
            computed["status"] = {"readyReplicas": 1, "availableReplicas": 1}
        namespace = metadata.get("namespace")
        return computed, f"{namespace}/{metadata['name']}" if namespace else metadata["name"]


@dataclass(frozen=True)
class Registration:
    """One resource as the engine received it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    protect: bool
    delete_before_replace: bool
    additional_secret_outputs: tuple[str, ...]
    inputs: dict[str, Any]
    outputs: dict[str, Any]

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0]

    def all_dependencies(self) -> set[str]:
        """Explicit, property and provider dependencies: everything this resource waits for."""
        deps = set(self.dependencies)
        if self.provider:
            deps.add(self.provider_urn)
        for urns in self.property_dependencies.values():
            deps.update(urns)
        return deps


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, cloud: FakeCloud) -> None:
        super().__init__(cloud)
        self.registrations: dict[str, Registration] = {}
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = _struct_to_dict(request.object)
        outputs = _struct_to_dict(response.object)
        secret_names = set(request.additionalSecretOutputs) | {
            key for key, value in inputs.items() if is_secret(value)
        }
        for key in secret_names:
            if key in outputs and not is_secret(outputs[key]):
                outputs[key] = secret(outputs[key])
        response.object.CopyFrom(json_format.ParseDict(outputs, struct_pb2.Struct()))
        self.registrations[response.urn] = Registration(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=request.custom,
            parent=request.parent,
            provider=request.provider,
            dependencies=tuple(request.dependencies),
            property_dependencies={
                key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()
            },
            protect=request.protect,
            delete_before_replace=request.deleteBeforeReplace,
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
            inputs=inputs,
            outputs=outputs,
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = _struct_to_dict(request.outputs)
        return super().RegisterResourceOutputs(request)


@dataclass
class Deployment:
    """What one run of the program registered."""

    registrations: list[Registration]
    stack_outputs: dict[str, Any]
    error: BaseException | None = None
    by_urn: dict[str, Registration] = field(init=False)

    def __post_init__(self) -> None:
        self.by_urn = {r.urn: r for r in self.registrations}

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def custom_resources(self) -> Iterator[Registration]:
        return (r for r in self.registrations if r.custom)

    def transitive_dependencies(self, registration: Registration) -> set[str]:
        seen: set[str] = set()
        pending = list(registration.all_dependencies())
        while pending:
            urn = pending.pop()
            if urn in seen:
                continue
            seen.add(urn)
            if urn in self.by_urn:
                pending.extend(self.by_urn[urn].all_dependencies())
        return seen


def _run_main() -> None:
    runpy.run_path(str(PROGRAM), run_name="__main__")


def attempt_program(config: dict[str, str] | None = None, *, preview: bool = False) -> Deployment:
    """Runs ``__main__.py`` as the Pulumi language host would, against the fake cloud.

    A program error is kept in ``Deployment.error`` with whatever was registered before it.
    """
    cloud = FakeCloud(preview)
    monitor = RecordingMonitor(cloud)
    pulumi.runtime.set_mocks(
        cloud, project="gke-aci", stack="dev", preview=preview, monitor=monitor
    )
    pulumi.runtime.set_all_config({**BASE_CONFIG, **(config or {})})
    # set_mocks finished a root stack already; the program gets a fresh one, as in a real run.
    ROOT.set(None)
    error: BaseException | None = None
    try:
        _sync_await(run_in_stack(_run_main))
    except Exception as exc:
        error = exc
    finally:
        ROOT.set(None)
    return Deployment(list(monitor.registrations.values()), monitor.stack_outputs, error)


def run_program(config: dict[str, str] | None = None, *, preview: bool = False) -> Deployment:
    """Runs the program and fails the test with the program's own error if it fails."""
    deployment = attempt_program(config, preview=preview)
    if deployment.error is not None:
        raise deployment.error
    return deployment

"""A fake cloud behind the offline engine (synth/engine.py), and a runner for the real program.

The fake cloud computes what GCP, Azure, Azure AD and Kubernetes would (names, ids, endpoints,
keys, the pod's IP) from the inputs it is sent. In preview mode every value a cloud computes is
unknown, as on a first ``pulumi preview``.
"""

from __future__ import annotations

import base64
import copy
import functools
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.runtime import mocks

import core.resource_types as types
from core.resource_types import resource_type
from synth.engine import (
    UNKNOWN,
    Deployment,
    Registration,
    is_secret,
    redact,
    reveal,
    secret,
)
from synth.engine import run_program as run_offline

__all__ = ["UNKNOWN", "Deployment", "Registration", "is_secret", "redact", "reveal", "secret"]

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROGRAM = PROJECT_DIR / "__main__.py"
# The sample stacks (Pulumi.<stack>.yaml) that `make test` renders, as the Makefile names them.
SAMPLE_STACKS = ("dev", "burst")

# What the fake cloud hands out. Secret values are distinctive so tests can search for them.
SUBSCRIPTION_ID = "00000000-1111-2222-3333-444444444444"
TENANT_ID = "55555555-6666-7777-8888-999999999999"
# The identity that runs `pulumi up`, as Entra ID knows it.
DEPLOYER_OBJECT_ID = "dddddddd-0000-0000-0000-00000000000a"


def client_id_of(name: str) -> str:
    """The fake client id of the application named ``name`` (each identity has its own)."""
    return f"{name}-client-id"


def principal_id_of(name: str) -> str:
    return f"{name}-principal-object-id"


def password_of(name: str) -> str:
    return f"FAKE-{name}-password~s3cr3t"


APP_CLIENT_ID = client_id_of("aci-connector")
SP_OBJECT_ID = principal_id_of("aci-connector")
SP_PASSWORD = password_of("aci-connector")
REGISTRY_PUSH_PASSWORD = password_of("app-push")
REGISTRY_PULL_PASSWORD = password_of("app-pull")
COSMOS_KEY = "FAKEcosmosKEY+with/slashes=="
COSMOS_SECONDARY_KEY = "FAKEsecondaryKEY+zzz/yyy=="
TLS_PRIVATE_KEY = (
    "-----BEGIN EC PRIVATE KEY-----\nFAKE-tls-private-key\n-----END EC PRIVATE KEY-----\n"
)
TLS_CERT = "-----BEGIN CERTIFICATE-----\nFAKE-cert\n-----END CERTIFICATE-----\n"
TLS_CERT_REQUEST = (
    "-----BEGIN CERTIFICATE REQUEST-----\nFAKE-csr\n-----END CERTIFICATE REQUEST-----\n"
)
GKE_ENDPOINT = "34.82.10.20"
GKE_CA = base64.b64encode(b"FAKE-cluster-ca").decode()
POD_IP = "20.66.7.8"
# The entry point's load balancer address (burst mode and several replicas).
LOAD_BALANCER_IP = "34.83.50.60"
POD_UID = "5f1c0d2e-7a44-4b1e-9f3a-2d8c6b7e9a10"
# What pulumiverse-time computes at creation: the only clock in the stack.
CREATED_AT = "2026-11-26T17:00:00Z"
ROTATES_AT = "2027-02-24T17:00:00Z"
EXPIRES_AT = "2027-03-26T17:00:00Z"
IMAGE_DIGEST = "sha256:" + "d1" * 32
AUTONAME_SUFFIX = "a1b2c3d"

SECRET_VALUES = (
    SP_PASSWORD,
    REGISTRY_PUSH_PASSWORD,
    REGISTRY_PULL_PASSWORD,
    COSMOS_KEY,
    COSMOS_SECONDARY_KEY,
    TLS_PRIVATE_KEY,
)

BASE_CONFIG = {"gcp:project": "gke-aci-test", "gcp:zone": "us-west1-a"}

# What a cloud computes for a new resource, and the resource's id; from its inputs and name.
Computed = tuple[dict[str, Any], str]
ComputeRule = Callable[[dict[str, Any], str], Computed]


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
        if args.token == "azuread:index/getClientConfig:getClientConfig":
            return {
                "clientId": "cccccccc-0000-0000-0000-000000000009",
                "id": DEPLOYER_OBJECT_ID,
                "objectId": DEPLOYER_OBJECT_ID,
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
        if args.resource_id:  # an existing resource, read by its id (e.g. the natRouter setting)
            return args.resource_id, {**args.inputs, "name": args.resource_id.rsplit("/", 1)[1]}
        computed, resource_id = (
            compute(args.typ, args.inputs, args.name)
            if args.custom
            else ({}, f"{args.name}-id")  # a component: nothing of it reaches a cloud
        )
        if self.preview:
            computed = {key: UNKNOWN for key in computed}
            resource_id = None
        return resource_id, {**args.inputs, **computed}


def _autoname(name: str) -> str:
    return f"{name}-{AUTONAME_SUFFIX}"


def _cluster(inputs: dict[str, Any], name: str) -> Computed:
    name = inputs.get("name") or _autoname(name)
    return {
        "name": name,
        "endpoint": GKE_ENDPOINT,
        "masterAuth": {"clusterCaCertificate": GKE_CA},
    }, f"projects/gke-aci-test/locations/{inputs['location']}/clusters/{name}"


def _node_pool(inputs: dict[str, Any], name: str) -> Computed:
    return {"name": inputs.get("name") or _autoname(name)}, f"node-pool/{_autoname(name)}"


def _service_account(inputs: dict[str, Any], _name: str) -> Computed:
    email = f"{inputs['accountId']}@gke-aci-test.iam.gserviceaccount.com"
    return {"email": email, "member": f"serviceAccount:{email}"}, email


def _resource_group(inputs: dict[str, Any], name: str) -> Computed:
    name = inputs.get("resourceGroupName") or _autoname(name)
    return {"name": name}, f"/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{name}"


def _cosmos_account(inputs: dict[str, Any], name: str) -> Computed:
    name = inputs.get("accountName") or _autoname(name)
    return {
        "name": name,
        "documentEndpoint": f"https://{name}.documents.azure.com:443/",
    }, f"/subscriptions/{SUBSCRIPTION_ID}/databaseAccounts/{name}"


def _mongo_database(inputs: dict[str, Any], _name: str) -> Computed:
    name = inputs["databaseName"]
    return {"name": name}, f"/subscriptions/{SUBSCRIPTION_ID}/mongodbDatabases/{name}"


def _application(_inputs: dict[str, Any], name: str) -> Computed:
    return {"clientId": client_id_of(name)}, f"/applications/{name}-app-object-id"


def _service_principal(_inputs: dict[str, Any], name: str) -> Computed:
    object_id = principal_id_of(name)
    return {"objectId": object_id}, f"/servicePrincipals/{object_id}"


def _password(_inputs: dict[str, Any], name: str) -> Computed:
    return {"value": password_of(name), "keyId": "key-1"}, f"{name}/password"


def _role_assignment(inputs: dict[str, Any], name: str) -> Computed:
    guid = inputs.get("roleAssignmentName") or f"{name}-assignment-guid"
    return {"name": guid}, f"{inputs['scope']}/providers/Microsoft.Authorization/{guid}"


def _role_definition(inputs: dict[str, Any], name: str) -> Computed:
    guid = inputs.get("roleDefinitionId") or str(
        uuid.uuid5(uuid.NAMESPACE_URL, f"role-definition/{name}")
    )
    return {"name": guid}, f"{inputs['scope']}/providers/Microsoft.Authorization/{guid}"


def _registry(inputs: dict[str, Any], _name: str) -> Computed:
    name = inputs["registryName"]
    return {
        "name": name,
        "loginServer": f"{name}.azurecr.io",
    }, f"/subscriptions/{SUBSCRIPTION_ID}/registries/{name}"


def _image(inputs: dict[str, Any], _name: str) -> Computed:
    return {"digest": IMAGE_DIGEST, "ref": f"{inputs['tags'][0]}@{IMAGE_DIGEST}"}, IMAGE_DIGEST


def _provider_registration(inputs: dict[str, Any], _name: str) -> Computed:
    return {
        "registration_state": "Registered"
    }, f"/subscriptions/{inputs['subscription_id']}/providers/{inputs['namespace']}"


def _private_key(_inputs: dict[str, Any], _name: str) -> Computed:
    return {
        "privateKeyPem": TLS_PRIVATE_KEY,
        "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nFAKE\n-----END PUBLIC KEY-----\n",
    }, "private-key"


def _readiness_gate(inputs: dict[str, Any], _name: str) -> Computed:
    # The app answered its check.
    return {"status": 200}, f"{inputs['url']}#{inputs['revision']}"


def _kubernetes_object(inputs: dict[str, Any], name: str) -> Computed:
    """The provider names an object the program does not name."""
    metadata = dict(inputs.get("metadata") or {})
    metadata.setdefault("name", _autoname(name))
    namespace = metadata.get("namespace")
    resource_id = f"{namespace}/{metadata['name']}" if namespace else metadata["name"]
    return {"metadata": metadata}, resource_id


def _pod(inputs: dict[str, Any], name: str) -> Computed:
    computed, resource_id = _kubernetes_object(inputs, name)
    computed["metadata"]["uid"] = POD_UID
    computed["status"] = {"phase": "Running", "podIP": POD_IP, "hostIP": "10.128.0.9"}
    return computed, resource_id


def _deployment(inputs: dict[str, Any], name: str) -> Computed:
    computed, resource_id = _kubernetes_object(inputs, name)
    metadata = computed["metadata"]
    metadata["uid"] = f"{metadata['name']}-uid"
    metadata["generation"] = 1
    replicas = (inputs.get("spec") or {}).get("replicas", 1)
    computed["status"] = {"readyReplicas": replicas, "availableReplicas": replicas}
    return computed, resource_id


def _service(inputs: dict[str, Any], name: str) -> Computed:
    computed, resource_id = _kubernetes_object(inputs, name)
    if (inputs.get("spec") or {}).get("type") == "LoadBalancer":
        computed["status"] = {"loadBalancer": {"ingress": [{"ip": LOAD_BALANCER_IP}]}}
    return computed, resource_id


# What the fake cloud computes, by resource type: for each type whose row in the table of
# resource types (core/resource_types.py) lists `computed` outputs. The rest compute nothing.
COMPUTED: dict[str, ComputeRule] = {
    types.GKE_CLUSTER: _cluster,
    types.GKE_NODE_POOL: _node_pool,
    types.GCP_SERVICE_ACCOUNT: _service_account,
    types.CLOUD_ROUTER: lambda inputs, name: (
        {"name": inputs.get("name") or _autoname(name)},
        f"projects/gke-aci-test/regions/{inputs['region']}/routers/"
        + (inputs.get("name") or _autoname(name)),
    ),
    types.RESOURCE_GROUP: _resource_group,
    types.COSMOS_ACCOUNT: _cosmos_account,
    types.COSMOS_MONGO_DATABASE: _mongo_database,
    types.AZUREAD_APPLICATION: _application,
    types.AZUREAD_SERVICE_PRINCIPAL: _service_principal,
    types.AZUREAD_PASSWORD: _password,
    types.ROLE_ASSIGNMENT: _role_assignment,
    types.ROLE_DEFINITION: _role_definition,
    # What pulumiverse-time computes at creation: the only clock in the stack.
    types.TIME_ROTATING: lambda _i, _n: (
        {"rfc3339": CREATED_AT, "rotationRfc3339": ROTATES_AT},
        CREATED_AT,
    ),
    types.TIME_OFFSET: lambda _i, _n: ({"rfc3339": EXPIRES_AT}, EXPIRES_AT),
    types.CONTAINER_REGISTRY: _registry,
    types.IMAGE: _image,
    types.TLS_PRIVATE_KEY: _private_key,
    types.TLS_SELF_SIGNED_CERT: lambda _i, _n: ({"certPem": TLS_CERT}, "self-signed-cert"),
    types.TLS_CERT_REQUEST: lambda _i, name: (
        {"certRequestPem": TLS_CERT_REQUEST},
        f"{name}-cert-request",
    ),
    types.TLS_LOCALLY_SIGNED_CERT: lambda _i, name: ({"certPem": TLS_CERT}, f"{name}-cert"),
    types.READINESS_GATE: _readiness_gate,
    # ARM let the connector's credential read.
    types.ARM_ACCESS_GATE: lambda inputs, _n: (
        {"status": 200},
        f"{inputs['url']}#{inputs['revision']}",
    ),
    # The registry's token service granted what was asked.
    types.REGISTRY_ACCESS_GATE: lambda inputs, _n: (
        {"granted": sorted(inputs["actions"].split(","))},
        f"{inputs['server']}/{inputs['repository']}:{inputs['actions']}#{inputs['revision']}",
    ),
    types.PROVIDER_REGISTRATION: _provider_registration,
    types.POD: _pod,
    types.DEPLOYMENT: _deployment,
    types.SERVICE: _service,
    **{
        token: _kubernetes_object
        for token, row in types.RESOURCE_TYPES.items()
        if row.computed == ("metadata",)
    },
}


def compute(typ: str, inputs: dict[str, Any], name: str) -> Computed:
    """What the cloud computes for a new resource, by the table of resource types.

    A type without a row is an error naming it, as it is for synth; a type whose row lists
    computed outputs needs a rule in ``COMPUTED``.
    """
    row = resource_type(typ)
    rule = COMPUTED.get(typ)
    if rule is None:
        assert not row.computed, f"no rule in COMPUTED computes {row.computed} for {typ}"
        return {}, f"{name}-id"
    return rule(inputs, name)


# Set in every test process `make mutate` starts (mutmut 3.8, mutmut/mutation/trampoline.py); its
# value is "stats" while mutmut learns which tests reach which function (mutmut/__main__.py).
MUTMUT = "MUTANT_UNDER_TEST"
MUTMUT_LEARNING = "stats"


def attempt_program(config: dict[str, str] | None = None, *, preview: bool = False) -> Deployment:
    """Runs ``__main__.py`` against the fake cloud; a program error is kept in ``error``.

    A run depends only on the checkout, its configuration, preview or not, and the environment
    (the program follows some of the credential variables), so a test process makes each distinct
    run once and every caller gets a copy of its own to read or change.
    """
    run = _Run(
        config=tuple(sorted({**BASE_CONFIG, **(config or {})}.items())),
        preview=preview,
        environment=tuple(sorted(_program_environment())),
    )
    if os.environ.get(MUTMUT) == MUTMUT_LEARNING:
        # mutmut credits a function to the tests that run it: a shared run would credit its first
        # caller only, and a mutant would skip the tests that kill it. For the same reason no
        # fixture that runs the program outlives its test (tests/test_fake_cloud.py). While a
        # mutant is tested the process is its own, so runs are shared again.
        return _attempt(run)
    return copy.deepcopy(_attempt_once(run))


def _program_environment() -> list[tuple[str, str]]:
    # pytest names the running test in PYTEST_CURRENT_TEST, which the program never reads.
    return [(key, value) for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"]


@dataclass(frozen=True)
class _Run:
    config: tuple[tuple[str, str], ...]
    preview: bool
    environment: tuple[tuple[str, str], ...]


def _attempt(run: _Run) -> Deployment:
    return run_offline(
        PROGRAM,
        project="gke-aci",
        stack="dev",
        config=dict(run.config),
        cloud=FakeCloud(run.preview),
        preview=run.preview,
    )


_attempt_once = functools.cache(_attempt)


def run_program(config: dict[str, str] | None = None, *, preview: bool = False) -> Deployment:
    """Runs the program and fails the test with the program's own error if it fails."""
    deployment = attempt_program(config, preview=preview)
    if deployment.error is not None:
        raise deployment.error
    return deployment

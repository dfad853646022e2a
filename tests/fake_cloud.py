"""A fake cloud behind the offline engine (synth/engine.py), and a runner for the real program.

The fake cloud computes what GCP, Azure, Azure AD and Kubernetes would (names, ids, endpoints,
keys, the pod's IP) from the inputs it is sent. In preview mode every value a cloud computes is
unknown, as on a first ``pulumi preview``.
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

from pulumi.runtime import mocks

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

# What the fake cloud hands out. Secret values are distinctive so tests can search for them.
SUBSCRIPTION_ID = "00000000-1111-2222-3333-444444444444"
TENANT_ID = "55555555-6666-7777-8888-999999999999"


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
        if typ == "gcp:serviceaccount/account:Account":
            email = f"{inputs['accountId']}@gke-aci-test.iam.gserviceaccount.com"
            return {"email": email, "member": f"serviceAccount:{email}"}, email
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
            return {"clientId": client_id_of(args.name)}, f"/applications/{args.name}-app-object-id"
        if typ == "azuread:index/servicePrincipal:ServicePrincipal":
            object_id = principal_id_of(args.name)
            return {"objectId": object_id}, f"/servicePrincipals/{object_id}"
        if typ == "azuread:index/servicePrincipalPassword:ServicePrincipalPassword":
            return {"value": password_of(args.name), "keyId": "key-1"}, f"{args.name}/password"
        if typ == "azure-native:authorization:RoleAssignment":
            guid = f"{args.name}-assignment-guid"
            return {"name": guid}, f"{inputs['scope']}/providers/Microsoft.Authorization/{guid}"
        if typ == "azure-native:authorization:RoleDefinition":
            guid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"role-definition/{args.name}"))
            return {"name": guid}, f"{inputs['scope']}/providers/Microsoft.Authorization/{guid}"
        if typ == "time:index/rotating:Rotating":
            return {"rfc3339": CREATED_AT, "rotationRfc3339": ROTATES_AT}, CREATED_AT
        if typ == "time:index/offset:Offset":
            return {"rfc3339": EXPIRES_AT}, EXPIRES_AT
        if typ == "azure-native:containerregistry:Registry":
            name = inputs["registryName"]
            return {
                "name": name,
                "loginServer": f"{name}.azurecr.io",
            }, f"/subscriptions/{SUBSCRIPTION_ID}/registries/{name}"
        if typ == "docker-build:index:Image":
            return {"digest": IMAGE_DIGEST, "ref": f"{inputs['tags'][0]}@{IMAGE_DIGEST}"}, (
                IMAGE_DIGEST
            )
        if typ == "tls:index/privateKey:PrivateKey":
            return {
                "privateKeyPem": TLS_PRIVATE_KEY,
                "publicKeyPem": "-----BEGIN PUBLIC KEY-----\nFAKE\n-----END PUBLIC KEY-----\n",
            }, "private-key"
        if typ == "tls:index/selfSignedCert:SelfSignedCert":
            return {"certPem": TLS_CERT}, "self-signed-cert"
        if typ == "pulumi-python:dynamic/http:ReadinessGate":
            # The readiness gate: the app answered its check.
            return {"status": 200}, f"{inputs['url']}#{inputs['revision']}"
        if typ == "pulumi-python:dynamic/azure:ResourceProviderRegistration":
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
            metadata["uid"] = POD_UID
        if args.typ == "kubernetes:apps/v1:Deployment":
            replicas = (args.inputs.get("spec") or {}).get("replicas", 1)
            computed["status"] = {"readyReplicas": replicas, "availableReplicas": replicas}
            metadata["uid"] = f"{metadata['name']}-uid"
            metadata["generation"] = 1
        if args.typ == "kubernetes:core/v1:Service":
            spec = args.inputs.get("spec") or {}
            if spec.get("type") == "LoadBalancer":
                computed["status"] = {"loadBalancer": {"ingress": [{"ip": LOAD_BALANCER_IP}]}}
        namespace = metadata.get("namespace")
        return computed, f"{namespace}/{metadata['name']}" if namespace else metadata["name"]


def attempt_program(config: dict[str, str] | None = None, *, preview: bool = False) -> Deployment:
    """Runs ``__main__.py`` against the fake cloud; a program error is kept in ``error``."""
    return run_offline(
        PROGRAM,
        project="gke-aci",
        stack="dev",
        config={**BASE_CONFIG, **(config or {})},
        cloud=FakeCloud(preview),
        preview=preview,
    )


def run_program(config: dict[str, str] | None = None, *, preview: bool = False) -> Deployment:
    """Runs the program and fails the test with the program's own error if it fails."""
    deployment = attempt_program(config, preview=preview)
    if deployment.error is not None:
        raise deployment.error
    return deployment

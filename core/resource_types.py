"""Each resource type the program creates, once: cloud, flow, creation time, cost rule, outputs.

Synth reads it for the graph (``cloud``, ``flow``), the deploy-time estimate (``seconds``) and the
monthly cost (``cost``); the tests' fake cloud (tests/fake_cloud.py) for what a cloud computes
(``computed``). A type that is not here is an error naming it (:func:`resource_type`), never a
guess: adding a resource to the program means adding its row here. Standard library only, so the
policy pack imports its tokens too (docs/decisions/0015-one-table-of-resource-types.md,
docs/decisions/0020-core-package.md).

Tokens are the engine's: ``package:module:Type`` as each provider SDK registers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Cloud(StrEnum):
    """Where a resource lives, in the order synth draws and counts them."""

    GCP = "GCP"
    KUBERNETES = "Kubernetes on GKE"
    AZURE_AD = "Azure AD"
    # The app's image is built where `pulumi up` runs and lands in the stack's Azure registry.
    AZURE = "Azure"
    # Made on, or checked from, the machine that runs `pulumi up`.
    LOCAL = "Local (no cloud)"


class Cost(StrEnum):
    """How synth/cost.py prices a resource of the type (docs/cost.md)."""

    NONE = "no line of its own"
    CLUSTER_FEE = "cluster management fee, less the GKE free tier credit for a zonal cluster"
    NODES = "its nodes' machines and boot disks; their external IPs unless the nodes are private"
    CLOUD_NAT = "a NAT gateway per VM-hour, one NAT IP, and the data it processes"
    COSMOS_ACCOUNT = "request units or provisioned throughput, storage, continuous backup"
    COSMOS_THROUGHPUT = "its provisioned throughput, on its account's line"
    REGISTRY = "per registry-day of its tier"
    ACI_WHEN_ON_VIRTUAL_NODE = "ACI container groups for the pods that may run on the virtual node"
    LOAD_BALANCER = "a forwarding rule and its data processing, when of type LoadBalancer"


@dataclass(frozen=True)
class ResourceType:
    cloud: Cloud
    # Typical creation time of a new one, and where that figure comes from. Estimates for
    # planning, judged from the providers' and clouds' documentation, not measurements.
    seconds: int
    seconds_source: str
    cost: Cost = Cost.NONE
    # What its cloud computes that the program or its tests read; the fake cloud makes these up
    # and a first preview shows them as unknown.
    computed: tuple[str, ...] = ()
    # What an edge from it to another cloud carries; None: the edge is labelled with the inputs
    # that take its values.
    flow: str | None = None


class UnknownResourceTypeError(LookupError):
    """A resource type with no row in :data:`RESOURCE_TYPES`."""

    def __init__(self, token: str) -> None:
        super().__init__(
            f"resource type {token} is not in core/resource_types.py: add its row (cloud, "
            "creation time and source, cost rule, what its cloud computes, flow)"
        )
        self.token = token


def resource_type(token: str) -> ResourceType:
    """The row of ``token``; :class:`UnknownResourceTypeError` when there is none."""
    try:
        return RESOURCE_TYPES[token]
    except KeyError:
        raise UnknownResourceTypeError(token) from None


# --- tokens the code names ----------------------------------------------------------------------

GKE_CLUSTER: Final = "gcp:container/cluster:Cluster"
GKE_NODE_POOL: Final = "gcp:container/nodePool:NodePool"
GCP_SERVICE_ACCOUNT: Final = "gcp:serviceaccount/account:Account"
GCP_IAM_MEMBER: Final = "gcp:projects/iAMMember:IAMMember"
CLOUD_ROUTER: Final = "gcp:compute/router:Router"
GCP_SERVICE: Final = "gcp:projects/service:Service"
CLOUD_NAT: Final = "gcp:compute/routerNat:RouterNat"
KUBERNETES_PROVIDER: Final = "pulumi:providers:kubernetes"
RESOURCE_GROUP: Final = "azure-native:resources:ResourceGroup"
COSMOS_ACCOUNT: Final = "azure-native:cosmosdb:DatabaseAccount"
COSMOS_MONGO_DATABASE: Final = "azure-native:cosmosdb:MongoDBResourceMongoDBDatabase"
COSMOS_MONGO_COLLECTION: Final = "azure-native:cosmosdb:MongoDBResourceMongoDBCollection"
ROLE_ASSIGNMENT: Final = "azure-native:authorization:RoleAssignment"
ROLE_DEFINITION: Final = "azure-native:authorization:RoleDefinition"
CONTAINER_REGISTRY: Final = "azure-native:containerregistry:Registry"
PROVIDER_REGISTRATION: Final = "pulumi-python:dynamic/azure:ResourceProviderRegistration"
AZUREAD_APPLICATION: Final = "azuread:index/application:Application"
AZUREAD_SERVICE_PRINCIPAL: Final = "azuread:index/servicePrincipal:ServicePrincipal"
AZUREAD_PASSWORD: Final = "azuread:index/servicePrincipalPassword:ServicePrincipalPassword"
IMAGE: Final = "docker-build:index:Image"
TIME_ROTATING: Final = "time:index/rotating:Rotating"
TIME_OFFSET: Final = "time:index/offset:Offset"
TIME_SLEEP: Final = "time:index/sleep:Sleep"
READINESS_GATE: Final = "pulumi-python:dynamic/http:ReadinessGate"
REGISTRY_ACCESS_GATE: Final = "pulumi-python:dynamic/azure:RegistryAccessGate"
ARM_ACCESS_GATE: Final = "pulumi-python:dynamic/azure:ArmAccessGate"
POD: Final = "kubernetes:core/v1:Pod"
DEPLOYMENT: Final = "kubernetes:apps/v1:Deployment"
SERVICE: Final = "kubernetes:core/v1:Service"
SECRET: Final = "kubernetes:core/v1:Secret"
CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"
NAMESPACE: Final = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT: Final = "kubernetes:core/v1:ServiceAccount"
NETWORK_POLICY: Final = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
POD_DISRUPTION_BUDGET: Final = "kubernetes:policy/v1:PodDisruptionBudget"
CLUSTER_ROLE: Final = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole"
CLUSTER_ROLE_BINDING: Final = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding"
ROLE: Final = "kubernetes:rbac.authorization.k8s.io/v1:Role"
ROLE_BINDING: Final = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"


def kubernetes_token(kind: str, api_version: str) -> str:
    """``kubernetes:apps/v1:Deployment``, as pulumi-kubernetes names a kind's resources."""
    group, _, version = api_version.rpartition("/")
    return f"kubernetes:{group or 'core'}/{version}:{kind}"


# --- the table ----------------------------------------------------------------------------------

_GRAPH_CALL = "judged: one Microsoft Graph call"
_ARM_OPERATION = "judged: an ARM long-running operation, tens of seconds"
_LOCAL = "local computation"
# A Kubernetes object whose creation Pulumi does not wait on beyond the API call.
_KUBERNETES_OBJECT = ResourceType(
    Cloud.KUBERNETES,
    2,
    "judged: one Kubernetes API call, no readiness wait",
    computed=("metadata",),
)

RESOURCE_TYPES: Mapping[str, ResourceType] = {
    # Google Cloud
    GKE_CLUSTER: ResourceType(
        Cloud.GCP,
        420,
        "GKE documents zonal cluster creation as taking several minutes; 5-8 min is common "
        "for a cluster whose default pool is created and removed",
        Cost.CLUSTER_FEE,
        computed=("name", "endpoint", "masterAuth"),
        flow="kubeconfig (endpoint, CA)",
    ),
    GKE_NODE_POOL: ResourceType(
        Cloud.GCP,
        180,
        "judged: VM boot plus node registration, about 2-4 min for a small pool",
        Cost.NODES,
        computed=("name",),
        flow="nodes ready",
    ),
    GCP_SERVICE_ACCOUNT: ResourceType(
        Cloud.GCP, 5, "judged: one IAM API call", computed=("email", "member")
    ),
    GCP_IAM_MEMBER: ResourceType(
        Cloud.GCP, 15, "judged: a read-modify-write of the project's IAM policy"
    ),
    CLOUD_ROUTER: ResourceType(
        Cloud.GCP, 20, "judged: a Compute Engine regional operation", computed=("name",)
    ),
    GCP_SERVICE: ResourceType(
        Cloud.GCP,
        20,
        "judged: a Service Usage operation; seconds for an API already enabled, up to a minute "
        "or two for a new one",
    ),
    CLOUD_NAT: ResourceType(Cloud.GCP, 30, "judged: an update of the router", Cost.CLOUD_NAT),
    # Kubernetes on GKE
    KUBERNETES_PROVIDER: ResourceType(
        Cloud.KUBERNETES, 0, "provider configuration, no API call", flow="kubeconfig"
    ),
    POD: ResourceType(
        Cloud.KUBERNETES,
        120,
        "judged: on the virtual node this is an ACI container group: creation, image pull, "
        "start; Pulumi waits for the pod to be ready",
        Cost.ACI_WHEN_ON_VIRTUAL_NODE,
        computed=("metadata", "status"),
    ),
    DEPLOYMENT: ResourceType(
        Cloud.KUBERNETES,
        60,
        "judged: image pull and rollout on GKE nodes; Pulumi waits for readiness (replicas in "
        "ACI take about as long as the web Pod)",
        Cost.ACI_WHEN_ON_VIRTUAL_NODE,
        computed=("metadata", "status"),
    ),
    SERVICE: ResourceType(
        Cloud.KUBERNETES,
        60,
        "judged: a LoadBalancer Service waits for GCP's forwarding rule and address, about a "
        "minute; a ClusterIP or headless one is seconds",
        Cost.LOAD_BALANCER,
        computed=("metadata", "status"),
    ),
    SECRET: _KUBERNETES_OBJECT,
    CONFIG_MAP: _KUBERNETES_OBJECT,
    NAMESPACE: _KUBERNETES_OBJECT,
    SERVICE_ACCOUNT: _KUBERNETES_OBJECT,
    NETWORK_POLICY: _KUBERNETES_OBJECT,
    POD_DISRUPTION_BUDGET: _KUBERNETES_OBJECT,
    CLUSTER_ROLE: _KUBERNETES_OBJECT,
    CLUSTER_ROLE_BINDING: _KUBERNETES_OBJECT,
    ROLE: _KUBERNETES_OBJECT,
    ROLE_BINDING: _KUBERNETES_OBJECT,
    # Azure AD
    AZUREAD_APPLICATION: ResourceType(
        Cloud.AZURE_AD, 5, _GRAPH_CALL, computed=("clientId",), flow="client id"
    ),
    AZUREAD_SERVICE_PRINCIPAL: ResourceType(
        Cloud.AZURE_AD, 5, _GRAPH_CALL, computed=("objectId",), flow="principal id"
    ),
    AZUREAD_PASSWORD: ResourceType(
        Cloud.AZURE_AD,
        10,
        "judged: Graph call plus the provider's wait for the credential to appear",
        computed=("value", "keyId"),
        flow="client secret",
    ),
    # Azure
    RESOURCE_GROUP: ResourceType(
        Cloud.AZURE, 3, "judged: one ARM call, seconds", computed=("name",), flow="resource group"
    ),
    COSMOS_ACCOUNT: ResourceType(
        Cloud.AZURE,
        480,
        "Microsoft notes that creating a Cosmos DB account takes several minutes; "
        "5-10 min is commonly reported",
        Cost.COSMOS_ACCOUNT,
        computed=("name", "documentEndpoint"),
        flow="connection string",
    ),
    COSMOS_MONGO_DATABASE: ResourceType(
        Cloud.AZURE,
        30,
        _ARM_OPERATION,
        Cost.COSMOS_THROUGHPUT,
        computed=("name",),
        flow="database (in the connection string)",
    ),
    COSMOS_MONGO_COLLECTION: ResourceType(Cloud.AZURE, 30, _ARM_OPERATION, Cost.COSMOS_THROUGHPUT),
    ROLE_ASSIGNMENT: ResourceType(
        Cloud.AZURE,
        20,
        "judged: ARM call; retried while a new principal replicates",
        computed=("name",),
        flow="role granted",
    ),
    ROLE_DEFINITION: ResourceType(Cloud.AZURE, 10, "judged: one ARM call", computed=("name",)),
    CONTAINER_REGISTRY: ResourceType(
        Cloud.AZURE,
        30,
        "judged: an ARM long-running operation; a Basic registry is ready in under a minute",
        Cost.REGISTRY,
        computed=("name", "loginServer"),
        flow="registry server",
    ),
    PROVIDER_REGISTRATION: ResourceType(
        Cloud.AZURE,
        60,
        "resource provider registration: about a minute when not yet registered "
        "(dynamic/provider_registration.py waits up to 10 min); seconds when it is",
        computed=("registration_state",),
        flow="registration state",
    ),
    IMAGE: ResourceType(
        Cloud.AZURE,
        150,
        "judged: a multi-stage Python image built from wheels and pushed to a registry in the "
        "same region, 1-3 min on a laptop; cached layers make later builds faster",
        computed=("digest", "ref"),
        flow="image digest",
    ),
    # Local (no cloud)
    TIME_ROTATING: ResourceType(
        Cloud.LOCAL, 0, "local: records the current time", computed=("rfc3339", "rotationRfc3339")
    ),
    TIME_OFFSET: ResourceType(Cloud.LOCAL, 0, _LOCAL, computed=("rfc3339",)),
    TIME_SLEEP: ResourceType(
        Cloud.LOCAL,
        30,
        "its createDuration: 30 s for the connector's role definition "
        "(components/container_group_role.py)",
    ),
    REGISTRY_ACCESS_GATE: ResourceType(
        Cloud.AZURE,
        60,
        "judged: asks the registry's token service every 10 s until the new credential's role "
        "reaches it, usually within a minute or two (waits up to 15 min)",
        computed=("granted",),
    ),
    ARM_ACCESS_GATE: ResourceType(
        Cloud.AZURE,
        60,
        "judged: asks ARM every 10 s, as the connector's credential, until its role reaches "
        "ARM, usually within a minute or two (waits up to 15 min)",
        computed=("status",),
    ),
    READINESS_GATE: ResourceType(
        Cloud.LOCAL,
        30,
        "judged: polls the app every 10 s; our app answers once the container runs and its "
        "database answers (waits up to 10 min)",
        computed=("status",),
    ),
}

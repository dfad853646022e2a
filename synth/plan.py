"""How long a deployment takes: typical creation times, the critical path, and the serial sum.

The times are typical creation times of a *new* resource, judged from the providers' and clouds'
documentation and from common reports; each says where it comes from. They are estimates for
planning, not measurements of this stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    seconds: int
    source: str


TYPICAL_CREATION: Mapping[str, Estimate] = {
    "gcp:container/cluster:Cluster": Estimate(
        420,
        "GKE documents zonal cluster creation as taking several minutes; 5-8 min is common "
        "for a cluster whose default pool is created and removed",
    ),
    "gcp:container/nodePool:NodePool": Estimate(
        180, "judged: VM boot plus node registration, about 2-4 min for a small pool"
    ),
    "pulumi:providers:kubernetes": Estimate(0, "provider configuration, no API call"),
    "azure-native:resources:ResourceGroup": Estimate(3, "judged: one ARM call, seconds"),
    "azure-native:cosmosdb:DatabaseAccount": Estimate(
        480,
        "Microsoft notes that creating a Cosmos DB account takes several minutes; "
        "5-10 min is commonly reported",
    ),
    "azure-native:cosmosdb:MongoDBResourceMongoDBDatabase": Estimate(
        30, "judged: an ARM long-running operation, tens of seconds"
    ),
    "azuread:index/application:Application": Estimate(5, "judged: one Microsoft Graph call"),
    "azuread:index/servicePrincipal:ServicePrincipal": Estimate(
        5, "judged: one Microsoft Graph call"
    ),
    "azuread:index/servicePrincipalPassword:ServicePrincipalPassword": Estimate(
        10, "judged: Graph call plus the provider's wait for the credential to appear"
    ),
    "azure-native:authorization:RoleAssignment": Estimate(
        20, "judged: ARM call; retried while a new principal replicates"
    ),
    "pulumi-python:dynamic/http:ReadinessGate": Estimate(
        30,
        "judged: polls the app every 10 s; our app answers once the container runs and its "
        "database answers (waits up to 10 min)",
    ),
    "pulumi-python:dynamic/azure:ResourceProviderRegistration": Estimate(
        60,
        "resource provider registration: about a minute when not yet registered "
        "(components/provider_registration.py waits up to 10 min); seconds when it is",
    ),
    "azure-native:containerregistry:Registry": Estimate(
        30, "judged: an ARM long-running operation; a Basic registry is ready in under a minute"
    ),
    "docker-build:index:Image": Estimate(
        150,
        "judged: a multi-stage Python image built from wheels and pushed to a registry in the "
        "same region, 1-3 min on a laptop; cached layers make later builds faster",
    ),
    "gcp:serviceaccount/account:Account": Estimate(5, "judged: one IAM API call"),
    "gcp:projects/iAMMember:IAMMember": Estimate(
        15, "judged: a read-modify-write of the project's IAM policy"
    ),
    "gcp:compute/router:Router": Estimate(20, "judged: a Compute Engine regional operation"),
    "gcp:compute/routerNat:RouterNat": Estimate(30, "judged: an update of the router"),
    "azure-native:authorization:RoleDefinition": Estimate(10, "judged: one ARM call"),
    "azure-native:cosmosdb:MongoDBResourceMongoDBCollection": Estimate(
        30, "judged: an ARM long-running operation, tens of seconds"
    ),
    "time:index/rotating:Rotating": Estimate(0, "local: records the current time"),
    "time:index/offset:Offset": Estimate(0, "local computation"),
    "tls:index/privateKey:PrivateKey": Estimate(1, "local computation"),
    "tls:index/selfSignedCert:SelfSignedCert": Estimate(1, "local computation"),
    "kubernetes:apps/v1:Deployment": Estimate(
        60,
        "judged: image pull and rollout on GKE nodes; Pulumi waits for readiness (replicas in "
        "ACI take about as long as the web Pod)",
    ),
    "kubernetes:core/v1:Service": Estimate(
        60,
        "judged: a LoadBalancer Service waits for GCP's forwarding rule and address, about a "
        "minute; a ClusterIP or headless one is seconds",
    ),
    "kubernetes:core/v1:Pod": Estimate(
        120,
        "judged: on the virtual node this is an ACI container group: creation, image pull, "
        "start; Pulumi waits for the pod to be ready",
    ),
}
KUBERNETES_OBJECT = Estimate(2, "judged: one Kubernetes API call, no readiness wait")
UNLISTED = Estimate(10, "not in the table: a default guess")


def estimate(typ: str) -> Estimate:
    if typ in TYPICAL_CREATION:
        return TYPICAL_CREATION[typ]
    return KUBERNETES_OBJECT if typ.startswith("kubernetes:") else UNLISTED


class CycleError(ValueError):
    pass


def critical_path(
    nodes: Iterable[str],
    waits_for: Mapping[str, Iterable[str]],
    duration: Callable[[str], int],
) -> tuple[list[str], int]:
    """The longest chain of waits, and its length, in a graph of nodes with durations.

    ``waits_for[n]`` are the nodes ``n`` starts after. Each node starts when all it waits for
    have finished; the critical path is the chain that finishes last. Ties go to the smaller
    node name, so the answer is stable.
    """
    pending = sorted(set(nodes))
    preds = {n: sorted(set(waits_for.get(n, ()))) for n in pending}
    finish: dict[str, int] = {}
    via: dict[str, str | None] = {}
    while pending:
        ready = [n for n in pending if all(p in finish for p in preds[n])]
        if not ready:
            raise CycleError(f"the graph has a cycle among {pending}")
        for node in ready:
            latest = min(preds[node], key=lambda p: (-finish[p], p), default=None)
            via[node] = latest
            finish[node] = duration(node) + (finish[latest] if latest is not None else 0)
        pending = [n for n in pending if n not in finish]
    if not finish:
        return [], 0
    end = min(finish, key=lambda n: (-finish[n], n))
    path: list[str] = []
    node: str | None = end
    while node is not None:
        path.append(node)
        node = via[node]
    return path[::-1], finish[end]


def minutes(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"

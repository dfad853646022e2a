"""Private nodes, the control plane's allow-list and Cloud NAT: changeable both ways in place.

terraform-provider-google (v7.45.0) keeps the last value of an Optional+Computed block that the
program leaves out, and replaces the cluster when a ForceNew field changes. So each direction of
each setting is checked as the provider would see it: the same inputs apart from the fields the
provider updates in place, sent explicitly in both directions.
"""

from __future__ import annotations

from typing import Any

import pytest
from fake_cloud import UNKNOWN, Deployment, attempt_program, reveal, run_program

from settings import ConfigError
from specs.gke_network import ANYWHERE

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
ROUTER = "gcp:compute/router:Router"
NAT = "gcp:compute/routerNat:RouterNat"
K8S_PROVIDER = "pulumi:providers:kubernetes"
# Fields of the cluster the provider can only change by replacing it (resource_container_cluster.go
# ForceNew): none of the settings here may touch them.
CLUSTER_FORCE_NEW = {"location", "network", "subnetwork", "networkingMode", "ipAllocationPolicy"}

PUBLIC = {"gke-aci:privateNodes": "false"}
PRIVATE = {"gke-aci:privateNodes": "true"}


@pytest.fixture
def public() -> Deployment:
    return run_program(PUBLIC)


@pytest.fixture
def private() -> Deployment:
    return run_program(PRIVATE)


def changed_inputs(before: Deployment, after: Deployment, typ: str) -> set[str]:
    old, new = reveal(before.one(typ).inputs), reveal(after.one(typ).inputs)
    return {key for key in old.keys() | new.keys() if old.get(key) != new.get(key)}


# --- private nodes ----------------------------------------------------------------------------


def test_public_nodes_are_said_explicitly_so_that_leaving_private_is_not_a_no_op(
    public: Deployment,
) -> None:
    cluster = public.one(CLUSTER).inputs
    assert cluster["privateClusterConfig"] == {
        "enablePrivateNodes": False,
        "enablePrivateEndpoint": False,
    }
    assert public.one(NODE_POOL).inputs["networkConfig"] == {"enablePrivateNodes": False}
    assert public.of_type(ROUTER) == []
    assert public.of_type(NAT) == []


def test_private_nodes_use_no_fixed_control_plane_range(private: Deployment) -> None:
    cluster = private.one(CLUSTER).inputs
    assert cluster["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": False,
    }
    assert private.one(NODE_POOL).inputs["networkConfig"] == {"enablePrivateNodes": True}


@pytest.mark.parametrize("direction", ["to private", "to public"])
def test_switching_private_nodes_changes_only_fields_updated_in_place(
    public: Deployment, private: Deployment, direction: str
) -> None:
    before, after = (public, private) if direction == "to private" else (private, public)
    assert changed_inputs(before, after, CLUSTER) == {"privateClusterConfig"}
    assert changed_inputs(before, after, NODE_POOL) == {"networkConfig"}
    assert not changed_inputs(before, after, CLUSTER) & CLUSTER_FORCE_NEW
    # The cluster and the Kubernetes provider keep their identity: nothing on it is replaced.
    assert before.one(CLUSTER).urn == after.one(CLUSTER).urn
    assert (
        before.one(K8S_PROVIDER).inputs["clusterIdentifier"]
        == (after.one(K8S_PROVIDER).inputs["clusterIdentifier"])
    )


def test_private_nodes_wait_for_their_nat(private: Deployment) -> None:
    router, nat = private.one(ROUTER), private.one(NAT)
    assert nat.inputs["router"] == reveal(router.outputs["name"])
    assert nat.inputs["region"] == "us-west1"
    assert nat.inputs["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"
    assert nat.delete_before_replace is True
    for typ in (CLUSTER, NODE_POOL):
        assert {router.urn, nat.urn} <= set(private.one(typ).dependencies), typ
    # So the Kubernetes objects wait for the NAT too, instead of timing out without egress.
    assert nat.urn in private.transitive_dependencies(private.one(K8S_PROVIDER))


def test_a_first_preview_of_private_nodes_sends_the_unknown_router_name() -> None:
    preview = run_program(PRIVATE, preview=True)
    assert preview.one(NAT).inputs["router"] == UNKNOWN
    assert preview.one(NODE_POOL).inputs["networkConfig"] == {"enablePrivateNodes": True}


def test_an_existing_router_is_reused_instead_of_a_second_nat() -> None:
    stack = run_program({**PRIVATE, "gke-aci:natRouter": "shared-nat"})
    assert stack.of_type(ROUTER) == []
    assert stack.of_type(NAT) == []
    # The router is read, so a wrong name stops the preview, and the nodes wait for it.
    for typ in (CLUSTER, NODE_POOL):
        [read] = [urn for urn in stack.one(typ).dependencies if f"${ROUTER}::" in urn]
        assert read.endswith("::gke-nat"), read


def test_a_nat_router_without_private_nodes_is_refused_before_anything_is_created() -> None:
    deployment = attempt_program({**PUBLIC, "gke-aci:natRouter": "shared-nat"})
    assert isinstance(deployment.error, ConfigError)
    assert deployment.error.problems == [
        "gke-aci:natRouter: got 'shared-nat'; allowed: unset unless privateNodes is true "
        "(only private nodes need Cloud NAT)"
    ]
    assert deployment.registrations == []


def test_a_bad_router_name_is_refused() -> None:
    deployment = attempt_program({**PRIVATE, "gke-aci:natRouter": "Shared_NAT"})
    assert isinstance(deployment.error, ConfigError)
    [problem] = deployment.error.problems
    assert problem.startswith("gke-aci:natRouter: got 'Shared_NAT'; allowed: the name of an")


# --- the control plane's allow-list -----------------------------------------------------------


def cidr_blocks(stack: Deployment) -> list[dict[str, Any]]:
    return stack.one(CLUSTER).inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"]


def test_no_restriction_is_sent_as_every_ipv4_address(public: Deployment) -> None:
    assert cidr_blocks(public) == [{"cidrBlock": ANYWHERE, "displayName": "anywhere"}]


@pytest.mark.parametrize("direction", ["restrict", "clear"])
def test_the_allow_list_changes_both_ways_in_place(public: Deployment, direction: str) -> None:
    restricted = run_program(
        {**PUBLIC, "gke-aci:authorizedNetworks": "203.0.113.0/24, 198.51.100.7/32"}
    )
    assert cidr_blocks(restricted) == [
        {"cidrBlock": "203.0.113.0/24", "displayName": "authorized-1"},
        {"cidrBlock": "198.51.100.7/32", "displayName": "authorized-2"},
    ]
    before, after = (public, restricted) if direction == "restrict" else (restricted, public)
    # Clearing sends a block too: leaving it out would keep the old list.
    assert "masterAuthorizedNetworksConfig" in after.one(CLUSTER).inputs
    assert changed_inputs(before, after, CLUSTER) == {"masterAuthorizedNetworksConfig"}

"""A fresh project: the stack enables the Google APIs it calls, before anything calls them, and
leaves them enabled on destroy (other workloads in the project may use them)."""

from __future__ import annotations

import pytest
from fake_cloud import Deployment, run_program

from components.gke_cluster import SERVICES

SERVICE = "gcp:projects/service:Service"
# Which API each kind of resource is created through.
API_OF = {
    "gcp:container/": "container.googleapis.com",
    "gcp:compute/": "compute.googleapis.com",
    "gcp:serviceaccount/": "iam.googleapis.com",
    "gcp:projects/iAMMember:": "cloudresourcemanager.googleapis.com",
}


@pytest.fixture(params=["public", "private"])
def stack(request: pytest.FixtureRequest) -> Deployment:
    return run_program({"gke-aci:privateNodes": str(request.param == "private").lower()})


def services(stack: Deployment) -> dict[str, str]:
    """Each enabled API and the URN of the resource that enables it."""
    return {r.inputs["service"]: r.urn for r in stack.of_type(SERVICE)}


def test_the_apis_the_stack_calls_are_enabled_and_stay_enabled(stack: Deployment) -> None:
    assert set(services(stack)) == set(SERVICES.values()) == set(API_OF.values())
    for service in stack.of_type(SERVICE):
        assert service.inputs["project"] == "gke-aci-test"
        assert service.inputs["disableOnDestroy"] is False
        assert "disableDependentServices" not in service.inputs


def test_every_gcp_resource_waits_for_its_api(stack: Deployment) -> None:
    enabled = services(stack)
    checked: set[str] = set()
    for resource in stack.custom_resources():
        for prefix, api in API_OF.items():
            if resource.type.startswith(prefix):
                assert enabled[api] in stack.transitive_dependencies(resource), resource.urn
                checked.add(prefix)
    # Public nodes bring no compute resource of the stack's own (the cluster waits for compute).
    private = bool(stack.of_type("gcp:compute/router:Router"))
    assert checked == (set(API_OF) if private else set(API_OF) - {"gcp:compute/"})


def test_the_first_calls_of_each_api_wait_directly(stack: Deployment) -> None:
    enabled = services(stack)
    account = stack.one("gcp:serviceaccount/account:Account")
    assert enabled["iam.googleapis.com"] in account.dependencies
    for member in stack.of_type("gcp:projects/iAMMember:IAMMember"):
        assert enabled["cloudresourcemanager.googleapis.com"] in member.dependencies
    cluster = stack.one("gcp:container/cluster:Cluster")
    assert {enabled["container.googleapis.com"], enabled["compute.googleapis.com"]} <= set(
        cluster.dependencies
    )

"""The nodes' disks (sized for a trial project's quota) and names that do not collide."""

from __future__ import annotations

import pytest
from fake_cloud import BASE_CONFIG, PROGRAM, FakeCloud, attempt_program, run_program

from components.gke_cluster import node_account_id
from settings import ConfigError
from synth.engine import run_program as run_offline

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
ACCOUNT = "gcp:serviceaccount/account:Account"


def disks(config: dict[str, str]) -> list[tuple[int, str]]:
    stack = run_program(config)
    return [
        (node_config["diskSizeGb"], node_config["diskType"])
        for node_config in (
            stack.one(CLUSTER).inputs["nodeConfig"],
            stack.one(NODE_POOL).inputs["nodeConfig"],
        )
    ]


def test_every_node_gets_a_50_gb_balanced_disk_by_default() -> None:
    # 3 nodes and the one a surge upgrade adds: 200 GB of SSD quota, not GKE's 400.
    assert disks({}) == [(50, "pd-balanced"), (50, "pd-balanced")]


def test_disk_size_and_type_are_settings() -> None:
    config = {"gke-aci:nodeDiskSizeGb": "120", "gke-aci:nodeDiskType": "pd-standard"}
    assert disks(config) == [(120, "pd-standard"), (120, "pd-standard")]


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("gke-aci:nodeDiskSizeGb", "9", "a whole number from 10 to 1000"),
        ("gke-aci:nodeDiskSizeGb", "fifty", "a whole number from 10 to 1000"),
        ("gke-aci:nodeDiskType", "hyperdisk-extreme", "pd-balanced or pd-standard or pd-ssd"),
    ],
)
def test_a_bad_disk_setting_stops_the_program(key: str, value: str, allowed: str) -> None:
    deployment = attempt_program({key: value})
    assert isinstance(deployment.error, ConfigError)
    assert deployment.error.problems == [f"{key}: got {value!r}; allowed: {allowed}"]
    assert deployment.registrations == []


def account_id(project: str, stack: str, gcp_project: str = "gke-aci-test") -> str:
    deployment = run_offline(
        PROGRAM,
        project=project,
        stack=stack,
        config={**BASE_CONFIG, "gcp:project": gcp_project},
        cloud=FakeCloud(preview=False),
        preview=False,
    )
    if deployment.error is not None:
        raise deployment.error
    return deployment.one(ACCOUNT).inputs["accountId"]


def test_the_node_account_is_unique_per_pulumi_project_and_stack_and_stable() -> None:
    ids = {
        (project, stack): account_id(project, stack)
        for project in ("gke-aci", "gke-aci-copy")
        for stack in ("dev", "burst")
    }
    # Two Pulumi projects with a `dev` stack in one GCP project no longer share an account.
    assert len(set(ids.values())) == 4
    assert account_id("gke-aci", "dev") == ids[("gke-aci", "dev")]
    assert ids[("gke-aci", "dev")] == node_account_id("gke-aci-test", "gke-aci", "dev")
    assert account_id("gke-aci", "dev", "other-project-1") != ids[("gke-aci", "dev")]

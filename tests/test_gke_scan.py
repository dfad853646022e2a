"""Checkov's GKE checks over the cluster as this program registers it.

pulumi-gcp wraps terraform-provider-google: a resource's inputs are the Terraform resource's
arguments with camelCase names, and single nested blocks are objects rather than one-item lists.
Written back as a Terraform plan (``planned_values``), they are what Checkov's ``terraform_plan``
framework reads, whose parser turns objects back into blocks. So the checks run on the values
the engine receives, not on a hand-written copy.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from checkov_scan import failed_checks, passed_checks, scan_each
from fake_cloud import Deployment, reveal, run_program

# pulumi-gcp's type token for each terraform-provider-google resource (provider/resources.go).
TERRAFORM_TYPES = {
    "gcp:container/cluster:Cluster": "google_container_cluster",
    "gcp:container/nodePool:NodePool": "google_container_node_pool",
    "gcp:serviceaccount/account:Account": "google_service_account",
    "gcp:projects/iAMMember:IAMMember": "google_project_iam_member",
    "gcp:compute/router:Router": "google_compute_router",
    "gcp:compute/routerNat:RouterNat": "google_compute_router_nat",
    "gcp:projects/service:Service": "google_project_service",
}
CLUSTER = "google_container_cluster.gke"
NODE_POOL = "google_container_node_pool.gke_nodes"

# What the cluster leaves out on purpose, and where that is said (docs/security.md).
OPT_INS = {
    "CKV_GCP_18": "control plane open to every address: the authorizedNetworks setting",
    "CKV_GCP_65": "Google Groups for RBAC: needs a Workspace or Cloud Identity domain",
    "CKV_GCP_66": "Binary Authorization: needs a project policy with attestors",
}
SETTINGS_OPT_INS = {"CKV_GCP_18"}
# Checks that only look for a block the program now always sends, whatever the setting
# (specs/gke_network.py): they pass by default and say nothing about the values, which
# tests/test_gke_network.py asserts instead.
PRESENCE_ONLY = {
    "CKV_GCP_20",  # master_authorized_networks_config (0.0.0.0/0 when authorizedNetworks is empty)
    "CKV_GCP_25",  # private_cluster_config (enable_private_nodes false unless privateNodes)
    "CKV_GCP_64",  # the same block
}

# The hardening Checkov sees on the cluster: the temporary default pool's nodes (its
# node_config), labels, network policy, intranode visibility, and the rest.
CLUSTER_PASSES = {
    "CKV_GCP_68",  # secure boot
    "CKV_GCP_69",  # GKE metadata server
    "CKV_GCP_72",  # integrity monitoring
    "CKV_GCP_21",  # labels
    "CKV_GCP_12",  # network policy (Dataplane V2)
    "CKV_GCP_61",  # intranode visibility
    "CKV_GCP_7",  # no legacy ABAC
    "CKV_GCP_13",  # no client certificate
    "CKV_GCP_70",  # release channel
    "CKV_GCP_71",  # shielded nodes
}
NODE_POOL_PASSES = {"CKV_GCP_9", "CKV_GCP_10", "CKV_GCP_68", "CKV_GCP_69", "CKV_GCP_72"}


def terraform_name(pulumi_name: str) -> str:
    """``masterIpv4CidrBlock`` -> ``master_ipv4_cidr_block``: the bridge's names, reversed."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", pulumi_name).lower()


def terraform_values(value: Any) -> Any:
    if isinstance(value, dict):
        return {terraform_name(k): terraform_values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [terraform_values(v) for v in value]
    return value


def terraform_plan(stack: Deployment) -> dict[str, Any]:
    """Every GCP resource the program registers, as the ``planned_values`` of a plan."""
    resources = []
    for registration in stack.custom_resources():
        if not registration.type.startswith("gcp:"):
            continue
        assert registration.type in TERRAFORM_TYPES, (
            f"{registration.type} has no Terraform type here: add it so Checkov scans it"
        )
        typ = TERRAFORM_TYPES[registration.type]
        name = re.sub(r"[^A-Za-z0-9_]", "_", registration.name)
        resources.append(
            {
                "address": f"{typ}.{name}",
                "mode": "managed",
                "type": typ,
                "name": name,
                "provider_name": "registry.terraform.io/hashicorp/google",
                "values": terraform_values(reveal(registration.inputs)),
            }
        )
    return {
        "format_version": "1.2",
        # Checkov takes a JSON file for a plan only when this key is there; it reads no value.
        "terraform_version": "none: rendered from Pulumi registrations",
        "planned_values": {"root_module": {"resources": resources}},
    }


PRIVATE_WITH_ALLOW_LIST = {
    "gke-aci:privateNodes": "true",
    "gke-aci:authorizedNetworks": "203.0.113.0/24",
}


def without_rendered_values(plan: dict[str, Any]) -> dict[str, Any]:
    """The default plan without the default pool's node_config and the labels, and with the
    legacy datapath: the checks that pass on the rendered values must fail on it."""
    plan = copy.deepcopy(plan)
    [cluster] = [
        r for r in plan["planned_values"]["root_module"]["resources"] if r["address"] == CLUSTER
    ]
    del cluster["values"]["node_config"]
    del cluster["values"]["resource_labels"]
    cluster["values"]["datapath_provider"] = "LEGACY_DATAPATH"
    return plan


@pytest.fixture(scope="module")
def plans() -> dict[str, dict[str, Any]]:
    default = terraform_plan(run_program())
    return {
        "default": default,
        "private": terraform_plan(run_program(PRIVATE_WITH_ALLOW_LIST)),
        "unrendered": without_rendered_values(default),
    }


@pytest.fixture(scope="module")
def reports(
    plans: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    targets = {
        name: {"tfplan.json": json.dumps(plan, indent=2, sort_keys=True)}
        for name, plan in plans.items()
    }
    found = scan_each(targets, "terraform_plan", tmp_path_factory.mktemp("gke-scan"))
    for report in found.values():
        assert report["summary"]["parsing_errors"] == 0
    return found


@pytest.fixture(scope="module")
def default_plan(plans: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return plans["default"]


@pytest.fixture(scope="module")
def default_report(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return reports["default"]


def test_every_gcp_resource_is_scanned(default_plan: dict[str, Any]) -> None:
    addresses = {r["address"] for r in default_plan["planned_values"]["root_module"]["resources"]}
    assert {CLUSTER, NODE_POOL, "google_service_account.gke_nodes"} <= addresses
    assert sum(a.startswith("google_project_iam_member.") for a in addresses) == 2


def test_the_only_failures_are_the_documented_opt_ins(default_report: dict[str, Any]) -> None:
    assert failed_checks(default_report) == {(check, CLUSTER) for check in OPT_INS}
    assert {(check, CLUSTER) for check in PRESENCE_ONLY} <= passed_checks(default_report)


def test_the_cluster_and_its_default_pool_pass_the_hardening_checks(
    default_report: dict[str, Any],
) -> None:
    passed = passed_checks(default_report)
    assert {(check, CLUSTER) for check in CLUSTER_PASSES} <= passed
    assert {(check, NODE_POOL) for check in NODE_POOL_PASSES} <= passed


def test_private_nodes_and_authorized_networks_leave_only_the_two_opt_ins(
    plans: dict[str, dict[str, Any]], reports: dict[str, dict[str, Any]]
) -> None:
    report = reports["private"]
    assert failed_checks(report) == {
        (check, CLUSTER) for check in OPT_INS.keys() - SETTINGS_OPT_INS
    }
    assert {(check, CLUSTER) for check in SETTINGS_OPT_INS} <= passed_checks(report)
    # Private nodes bring a router and Cloud NAT, rendered for the scan with the rest.
    types = {r["type"] for r in plans["private"]["planned_values"]["root_module"]["resources"]}
    assert {"google_compute_router", "google_compute_router_nat"} <= types


def test_the_scan_reads_the_rendered_values(reports: dict[str, dict[str, Any]]) -> None:
    """Without the default pool's node_config and the labels, the same checks fail."""
    failed = {
        check for check, resource in failed_checks(reports["unrendered"]) if resource == CLUSTER
    }
    assert {"CKV_GCP_21", "CKV_GCP_69", "CKV_GCP_12"} <= failed


def test_terraform_names_are_the_bridges_in_reverse() -> None:
    assert terraform_name("masterIpv4CidrBlock") == "master_ipv4_cidr_block"
    assert terraform_name("enableIntranodeVisibility") == "enable_intranode_visibility"
    assert terraform_name("oauthScopes") == "oauth_scopes"
    assert terraform_name("location") == "location"
    assert terraform_values(
        {"nodeConfig": [{"shieldedInstanceConfig": {"enableSecureBoot": 1}}]}
    ) == {"node_config": [{"shielded_instance_config": {"enable_secure_boot": 1}}]}

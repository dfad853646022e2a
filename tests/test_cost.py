"""The monthly cost in plan.md: each line follows the synthesized resources and synth/prices.py."""

from __future__ import annotations

import math
import re
from dataclasses import fields
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fake_cloud import PROJECT_DIR, run_program

from core import resource_types as types
from synth import prices
from synth.aci import aci_workloads
from synth.cli import load_stack_config, synthesize
from synth.cost import CostEstimate, CostLine, estimate_monthly_cost
from synth.engine import UNKNOWN, Deployment, Registration
from synth.node_capacity import GIB, MACHINES, MIB, Machine, Room, allocatable, place, pod_requests
from synth.prices import ASSUMPTIONS, Price, RegionalPrice

HOURS = ASSUMPTIONS.hours_per_month
E2_STANDARD_2 = prices.MACHINE_HOURLY["e2-standard-2"].by_region["us-west1"].usd


def estimate(config: dict[str, str] | None = None, *, preview: bool = False) -> CostEstimate:
    return estimate_monthly_cost(run_program(config, preview=preview))


def lines(estimate: CostEstimate, item: str) -> list[CostLine]:
    return [line for line in estimate.lines if line.item == item]


def one(estimate: CostEstimate, item: str) -> CostLine:
    [line] = lines(estimate, item)
    return line


@pytest.fixture(scope="module")
def default() -> CostEstimate:
    return estimate()


def test_the_default_stack_is_priced_line_by_line(default: CostEstimate) -> None:
    assert [line.item for line in default.lines] == [
        "GKE cluster management fee",
        "GKE free tier credit",
        "GKE nodes",
        "Node boot disks",
        "Node external IPs",
        "Cosmos DB request units",
        "Cosmos DB storage",
        "Cosmos DB continuous backup (30 days)",
        "Container registry (Basic)",
        "ACI container groups",
        "Egress GCP to Azure",
        "Egress Azure to GCP",
    ]
    assert one(default, "GKE cluster management fee").high == pytest.approx(73.00)
    assert one(default, "GKE free tier credit").high == pytest.approx(-73.00)
    assert one(default, "GKE nodes").high == pytest.approx(3 * E2_STANDARD_2 * HOURS)
    assert one(default, "GKE nodes").detail == "3 x e2-standard-2 in us-west1 x 730 h"
    assert one(default, "Node boot disks").high == pytest.approx(3 * 50 * 0.10)
    assert one(default, "Node external IPs").high == pytest.approx(3 * 0.005 * HOURS)
    assert one(default, "Cosmos DB request units").high == pytest.approx(5 * 0.25)
    assert one(default, "Container registry (Basic)").high == pytest.approx(0.167 * HOURS / 24)
    assert one(default, "Egress Azure to GCP").high == 0  # within Azure's free 100 GB
    assert default.low == default.high == pytest.approx(sum(line.high for line in default.lines))


def test_the_app_pod_is_one_container_group_sized_as_the_connector_sizes_it(
    default: CostEstimate,
) -> None:
    aci = one(default, "ACI container groups")
    # The web pod requests 1 CPU and 1Gi (appCpu, appMemory); azure-aci rounds 1Gi to 1.0 GB.
    assert aci.detail == "Pod todo/web: 1 x (1 vCPU + 1 GB x 730 h)"
    assert aci.high == pytest.approx(HOURS * (1 * 0.0405 + 1 * 0.00445))
    assert aci.assumed  # the ACI prices are East US figures


def test_a_first_preview_prices_the_same_as_a_deployed_stack(default: CostEstimate) -> None:
    first_preview = estimate(preview=True)
    assert [(line.item, line.high) for line in first_preview.lines] == [
        (line.item, line.high) for line in default.lines
    ]


def sample_stack_config(stack: str) -> dict[str, str]:
    return dict(load_stack_config(PROJECT_DIR, stack).values)


def test_the_readme_and_docs_give_the_default_stacks_total(default: CostEstimate) -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    assert f"about {default.total_text()} a month" in readme
    assert "build/synth/<stack>/plan.md" in readme
    cost_md = (PROJECT_DIR / "docs" / "cost.md").read_text()
    assert f"About **{default.total_text()} a month**" in cost_md
    for line in default.lines[2:5]:  # nodes, disks and IPs, as the page lists them
        assert f"| {line.item} |" in cost_md
        assert f"| ${line.high:,.2f} |" in cost_md


def test_the_docs_give_the_burst_stacks_range() -> None:
    burst = estimate(sample_stack_config("burst"))
    replicas = sample_stack_config("burst")["gke-aci:appReplicas"]
    cost_md = " ".join((PROJECT_DIR / "docs" / "cost.md").read_text().split())
    assert f"with {replicas} replicas, {burst.total_text()} a month" in cost_md
    readme = " ".join((PROJECT_DIR / "README.md").read_text().split())
    low, high = burst.total_text().split(" to ")
    assert f"{replicas} replicas) costs from {low} to {high} a month" in readme


def test_node_count_and_machine_type_follow_the_settings() -> None:
    cost = estimate({"gke-aci:nodeCount": "5", "gke-aci:nodeMachineType": "e2-standard-4"})
    e2_standard_4 = prices.MACHINE_HOURLY["e2-standard-4"].by_region["us-west1"].usd
    assert one(cost, "GKE nodes").high == pytest.approx(5 * e2_standard_4 * HOURS)
    assert one(cost, "Node boot disks").high == pytest.approx(5 * 50 * 0.10)
    assert one(cost, "Node external IPs").detail.startswith("5 ephemeral IPv4 addresses")


def test_a_machine_type_without_a_price_is_shown_and_left_out_of_the_total() -> None:
    cost = estimate({"gke-aci:nodeMachineType": "n2d-highmem-4"})
    nodes = one(cost, "GKE nodes")
    assert math.isnan(nodes.high)
    assert nodes.notes == (
        "no price for n2d-highmem-4 in synth/prices.py: not counted in the total",
    )
    assert cost.total_text().endswith("(without n/a lines)")
    assert not math.isnan(cost.high)


def test_a_region_without_a_price_uses_the_tables_region_and_says_so() -> None:
    cost = estimate({"gcp:zone": "europe-west1-b"})
    nodes = one(cost, "GKE nodes")
    assert nodes.high == pytest.approx(3 * E2_STANDARD_2 * HOURS)
    assert nodes.notes == ("no europe-west1 price in synth/prices.py; the us-west1 price is used",)
    assert nodes.assumed


def test_private_nodes_pay_for_cloud_nat_instead_of_node_ips() -> None:
    cost = estimate({"gke-aci:privateNodes": "true"})
    assert lines(cost, "Node external IPs") == []
    assert one(cost, "Cloud NAT gateway").high == pytest.approx(3 * 0.0014 * HOURS)
    assert one(cost, "Cloud NAT IP address").high == pytest.approx(0.005 * HOURS)
    assert one(cost, "Cloud NAT data processing").high == pytest.approx(ASSUMPTIONS.nat_gb * 0.045)


def test_provisioned_cosmos_pays_for_its_throughput() -> None:
    cost = estimate(
        {"gke-aci:cosmosCapacityMode": "provisioned", "gke-aci:cosmosProvisionedThroughput": "1000"}
    )
    assert lines(cost, "Cosmos DB request units") == []
    throughput = one(cost, "Cosmos DB throughput")
    assert throughput.high == pytest.approx(10 * 0.008 * HOURS)
    assert "1,000 RU/s provisioned" in throughput.detail


def test_an_image_run_as_it_is_needs_no_registry() -> None:
    cost = estimate({"gke-aci:appImage": "janakiramm/todo"})
    assert lines(cost, "Container registry (Basic)") == []
    assert len(lines(cost, "ACI container groups")) == 1


# --- burst mode, on a deployment built for the purpose --------------------------------------


def registration(typ: str, name: str, inputs: dict[str, Any]) -> Registration:
    return Registration(
        urn=f"urn:pulumi:dev::gke-aci::{typ}::{name}",
        id=name,
        type=typ,
        name=name,
        custom=True,
        parent="",
        provider="",
        dependencies=(),
        property_dependencies={},
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
        custom_timeouts={},
        ignore_changes=(),
        additional_secret_outputs=(),
        inputs=inputs,
        outputs=inputs,
    )


TOLERATION = {"key": "virtual-kubelet.io/provider", "operator": "Exists", "effect": "NoSchedule"}
PREFER_GKE = {
    "nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 1,
                "preference": {
                    "matchExpressions": [
                        {"key": "type", "operator": "NotIn", "values": ["virtual-kubelet"]}
                    ]
                },
            }
        ]
    }
}


def deployment(replicas: int, pod_spec: dict[str, Any], name: str = "web") -> Registration:
    return registration(
        types.DEPLOYMENT,
        name,
        {
            "metadata": {"name": name, "namespace": "todo"},
            "spec": {"replicas": replicas, "template": {"spec": pod_spec}},
        },
    )


def container(cpu: str | None, memory: str | None) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": "web", "image": "app", "resources": {"requests": requests}}


def test_a_burst_deployment_costs_from_what_overflows_the_nodes_to_all_replicas_in_aci() -> None:
    cost = estimate(
        {"gke-aci:appPlacement": "burst", "gke-aci:appReplicas": "4", "gke-aci:appMemory": "2Gi"}
    )
    aci = one(cost, "ACI container groups")
    per_group = HOURS * (1 * 0.0405 + 2.1 * 0.00445)  # 2Gi is 2.147e9 bytes: 2.1 GB in ACI
    # Each e2-standard-2 keeps 1.93 vCPU for pods: one 1-vCPU replica a node, three in all.
    assert (aci.low, aci.high) == (pytest.approx(1 * per_group), pytest.approx(4 * per_group))
    assert aci.detail.startswith("Deployment todo/web: 1 to 4 x (1 vCPU + 2.1 GB")
    assert aci.notes == (
        "Deployment todo/web prefers GKE nodes and overflows to ACI: at most 3 of its 4 replicas "
        "fit on the GKE nodes, 3 x e2-standard-2 (1.93 vCPU and 6.1 GiB allocatable each), so "
        "from 1 to all 4 run in ACI (GKE's own pods and the stack's others take room too: more "
        "may overflow)",
    )
    assert one(cost, "Entry load balancer").high == pytest.approx(0.025 * HOURS)
    assert one(cost, "Entry load balancer").detail.startswith("Service todo/web:")
    assert cost.total_text() == f"${cost.low:,.2f} to ${cost.high:,.2f}"


@pytest.mark.parametrize(
    ("config", "fewest"),
    [
        ({}, 3),  # 6 replicas, 3 nodes of one replica each
        ({"gke-aci:nodeCount": "6"}, 0),
        ({"gke-aci:nodeMachineType": "e2-standard-4"}, 0),  # 3.92 vCPU: three replicas a node
        ({"gke-aci:nodeCount": "2"}, 4),
        ({"gke-aci:appMemory": "4Gi"}, 3),  # 6.1 GiB a node: one 4 GiB replica
        ({"gke-aci:appReplicas": "2"}, 0),
    ],
)
def test_the_burst_floor_follows_the_nodes_allocatable_capacity(
    config: dict[str, str], fewest: int
) -> None:
    burst = sample_stack_config("burst")
    aci = one(estimate({**burst, **config}), "ACI container groups")
    replicas = int({**burst, **config}["gke-aci:appReplicas"])
    assert aci.low == pytest.approx(aci.high * fewest / replicas)
    assert aci.detail.startswith(f"Deployment todo/web: {fewest} to {replicas} x")


def test_a_machine_without_a_known_capacity_leaves_the_floor_at_none_and_says_so() -> None:
    burst = sample_stack_config("burst")
    cost = estimate({**burst, "gke-aci:nodeMachineType": "n2d-highmem-4"})
    aci = one(cost, "ACI container groups")
    assert aci.low == 0
    assert aci.notes[0].endswith(
        "(no allocatable capacity for n2d-highmem-4 in synth/node_capacity.py, so the floor "
        "assumes all fit on GKE)"
    )


def test_only_pods_that_tolerate_the_virtual_node_count_and_a_selector_pins_them() -> None:
    pinned = deployment(
        3,
        {
            "tolerations": [TOLERATION],
            "nodeSelector": {"type": "virtual-kubelet"},
            "containers": [container("250m", "1Gi"), container(None, None)],
        },
        name="pinned",
    )
    gke_only = deployment(2, {"containers": [container("1", "1Gi")]}, name="web-entry")
    [workload] = aci_workloads(Deployment([pinned, gke_only], {}))
    assert (workload.name, workload.replicas, workload.pinned) == ("todo/pinned", 3, True)
    # A container without requests gets ACI's 1 vCPU and 1.5 GB (azure-aci getContainers).
    assert (workload.cpu, workload.memory_gb) == (1.25, 2.5)


# --- the price table ----------------------------------------------------------------------------


def all_prices() -> list[Price]:
    found: list[Price] = []
    for value in vars(prices).values():
        if isinstance(value, Price):
            found.append(value)
        elif isinstance(value, RegionalPrice):
            found.extend(value.by_region.values())
    found.extend(
        p for regional in prices.MACHINE_HOURLY.values() for p in regional.by_region.values()
    )
    return found


def test_every_price_names_its_source_and_every_assumption_says_what_it_is() -> None:
    table = all_prices()
    assert len(table) >= 20
    for price in table:
        assert price.usd > 0, price
        assert price.source.startswith("https://"), price
        assert price.unit.startswith("per "), price
        assert re.fullmatch(r"20[0-9]{2}-[01][0-9]-[0-3][0-9]", price.read_on), price
        if price.assumption:
            assert price.note, price
    assert {f.name for f in fields(Price)} >= {"usd", "unit", "source", "assumption", "read_on"}


def test_plan_md_and_the_summary_carry_the_estimate(tmp_path: Path) -> None:
    summary = synthesize(PROJECT_DIR, "dev", tmp_path / "out")
    assert summary.cost is not None
    plan = (tmp_path / "out" / "plan.md").read_text()
    total = summary.cost.total_text()
    assert f"Monthly cost: about **{total}**" in plan
    assert "## Monthly cost estimate" in plan
    assert f"| **Total** | | **{total}** |" in plan
    assert "| $0.0405 per vCPU-hour |" in plan
    assert "ASSUMPTION: East US figure; no West US price was found" in plan


# --- what a GKE node leaves for pods ------------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "cpu", "reserved_memory"),
    [
        # 6% of the first core, 1% of the second; 25% of the first 4 GiB, 20% of the next 4.
        (Machine(2, 8), "1.93", Decimal("1.8") * GIB),
        (Machine(4, 16), "3.92", Decimal("2.6") * GIB),  # 0.5% of cores 3-4; 10% of GiB 9-16
        # 0.25% of each core above 4; 6% of GiB 17-128 and 2% above 128.
        (Machine(8, 256), "7.91", (Decimal("2.6") + Decimal("6.72") + Decimal("2.56")) * GIB),
        (Machine(1, 0.5), "0.94", Decimal(255 * MIB)),  # under 1 GiB: 255 MiB
    ],
)
def test_allocatable_is_capacity_less_gkes_reservation_and_eviction_threshold(
    machine: Machine, cpu: str, reserved_memory: Decimal
) -> None:
    room = allocatable(machine)
    assert room.cpu == Decimal(cpu)
    capacity = Decimal(str(machine.memory_gib)) * GIB
    assert room.memory == capacity - reserved_memory - 100 * MIB


def test_every_priced_machine_type_has_a_known_capacity() -> None:
    assert MACHINES.keys() == prices.MACHINE_HOURLY.keys()


def test_pods_are_placed_while_their_requests_fit_and_use_up_the_room() -> None:
    rooms = [Room(Decimal("1.93"), Decimal(6 * GIB)), Room(Decimal("1.5"), Decimal(GIB))]
    one_vcpu = Room(Decimal(1), Decimal(GIB))
    assert place(rooms, one_vcpu, 5) == 2
    assert rooms == [Room(Decimal("0.93"), Decimal(5 * GIB)), Room(Decimal("0.5"), Decimal(0))]
    assert place(rooms, Room(Decimal("0.5"), Decimal(GIB)), 5) == 1  # memory runs out first
    assert place(rooms, Room(Decimal(0), Decimal(0)), 7) == 7  # bounded by the replicas


def test_a_pod_requests_its_containers_sum_or_its_largest_init_container() -> None:
    spec = {
        "containers": [
            {"resources": {"requests": {"cpu": "250m", "memory": "1Gi"}}},
            {"resources": {"limits": {"cpu": "1", "memory": "512Mi"}}},  # request from limit
            {"name": "no-resources"},
        ],
        "initContainers": [{"resources": {"requests": {"cpu": "2", "memory": "1Mi"}}}],
    }
    assert pod_requests(spec) == Room(Decimal(2), Decimal(GIB + 512 * MIB))
    # A value known only after deploy asks for nothing: the floor stays a floor.
    assert pod_requests({"containers": [{"resources": {"requests": {"cpu": UNKNOWN}}}]}) == Room(
        Decimal(0), Decimal(0)
    )

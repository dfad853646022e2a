"""What the stack costs a month, line by line, read from what the program would deploy.

Every figure follows the synthesized resources, so it follows the stack's settings: the node
pool's machine type and size, private nodes (Cloud NAT), the Cosmos DB capacity mode, the
registry, and the ACI container groups, sized as the connector sizes them from each pod's
requests. A workload that may run on GKE or in ACI (a Deployment that tolerates the virtual
node without requiring it: burst mode) gives a range: from the replicas the GKE nodes'
allocatable capacity cannot take (synth/node_capacity.py) to all of them in ACI. Which
resources are priced, and by which rule, is each type's cost rule in core/resource_types.py.
Prices and usage assumptions come from synth/prices.py only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from core.resource_types import Cost, resource_type
from synth import prices
from synth.aci import AciWorkload, aci_workloads
from synth.engine import UNKNOWN, Deployment, Registration, reveal
from synth.node_capacity import GIB, MACHINES, Room, allocatable, place
from synth.prices import ASSUMPTIONS, Assumptions, Price


@dataclass(frozen=True)
class CostLine:
    item: str
    detail: str
    low: float
    high: float
    prices: tuple[Price, ...]
    notes: tuple[str, ...] = ()
    # The quantity is an assumed usage (see Assumptions), not something the stack sets.
    assumed_usage: bool = False

    @property
    def assumed(self) -> bool:
        return self.assumed_usage or bool(self.notes) or any(p.assumption for p in self.prices)


@dataclass(frozen=True)
class CostEstimate:
    lines: list[CostLine]
    assumptions: Assumptions = ASSUMPTIONS
    notes: list[str] = field(default_factory=list)

    @property
    def low(self) -> float:
        return sum(line.low for line in self.priced())

    @property
    def high(self) -> float:
        return sum(line.high for line in self.priced())

    def priced(self) -> list[CostLine]:
        """The lines with a price (a line without one is shown but left out of the total)."""
        return [line for line in self.lines if not math.isnan(line.high)]

    def total_text(self) -> str:
        text = usd_range(self.low, self.high)
        return text if len(self.priced()) == len(self.lines) else f"{text} (without n/a lines)"


def estimate_monthly_cost(
    deployment: Deployment, assumptions: Assumptions = ASSUMPTIONS
) -> CostEstimate:
    hours = assumptions.hours_per_month
    lines: list[CostLine] = []
    notes: list[str] = []
    region = _gcp_region(deployment)

    for cluster in priced_as(deployment, Cost.CLUSTER_FEE):
        lines.extend(_cluster_fee(cluster, hours))
    nodes = 0
    private = False
    for pool in priced_as(deployment, Cost.NODES):
        pool_lines, count = _node_pool(pool, region, hours)
        lines.extend(pool_lines)
        nodes += count
    for cluster in priced_as(deployment, Cost.CLUSTER_FEE):
        private |= bool(
            (_inputs(cluster).get("privateClusterConfig") or {}).get("enablePrivateNodes")
        )
    if nodes and not private:
        lines.append(
            _hourly(
                "Node external IPs",
                f"{nodes} ephemeral IPv4 addresses",
                nodes,
                prices.VM_EXTERNAL_IP,
                hours,
            )
        )
    if priced_as(deployment, Cost.CLOUD_NAT):
        lines.extend(_cloud_nat(nodes, hours, assumptions))

    for account in priced_as(deployment, Cost.COSMOS_ACCOUNT):
        lines.extend(_cosmos(account, deployment, hours, assumptions))
    for registry in priced_as(deployment, Cost.REGISTRY):
        lines.extend(_registry(registry, hours))

    lines.extend(_container_groups(deployment, hours, notes))
    for service in _load_balancers(deployment):
        lines.extend(_load_balancer(service, hours, assumptions))
    lines.extend(_egress(region, assumptions))
    return CostEstimate(lines, assumptions, notes)


def priced_as(deployment: Deployment, rule: Cost) -> list[Registration]:
    """The resources whose type the table of resource types prices by ``rule``."""
    return [r for r in deployment.custom_resources() if resource_type(r.type).cost is rule]


# --- GCP --------------------------------------------------------------------------------------


def _cluster_fee(cluster: Registration, hours: float) -> list[CostLine]:
    location = str(_inputs(cluster).get("location", ""))
    fee = _hourly(
        "GKE cluster management fee", f"1 cluster ({location})", 1, prices.GKE_CLUSTER_FEE, hours
    )
    lines = [fee]
    if _is_zone(location):
        credit = min(fee.high, prices.GKE_FREE_TIER_CREDIT.usd)
        lines.append(
            _line(
                "GKE free tier credit",
                "a zonal cluster; the credit is once per billing account",
                -credit,
                prices.GKE_FREE_TIER_CREDIT,
                notes=(
                    "assumes no other zonal or Autopilot cluster uses the billing account's "
                    "credit; without it, add the fee",
                ),
            )
        )
    return lines


def _pool_size(pool: Registration) -> tuple[int, str]:
    """A node pool's node count and machine type."""
    inputs = _inputs(pool)
    count = int(_number(inputs.get("nodeCount") or inputs.get("initialNodeCount"), default=1))
    return count, str((inputs.get("nodeConfig") or {}).get("machineType") or "e2-medium")


def _node_pool(pool: Registration, region: str, hours: float) -> tuple[list[CostLine], int]:
    count, machine = _pool_size(pool)
    node_config = _inputs(pool).get("nodeConfig") or {}
    disk_gb = _number(node_config.get("diskSizeGb"), default=prices.NODE_BOOT_DISK_GB)
    disk_type = str(node_config.get("diskType") or "pd-balanced")
    lines: list[CostLine] = []
    regional = prices.MACHINE_HOURLY.get(machine)
    if regional is None:
        lines.append(
            CostLine(
                "GKE nodes",
                f"{count} x {machine} in {region}",
                math.nan,
                math.nan,
                (),
                (f"no price for {machine} in synth/prices.py: not counted in the total",),
            )
        )
    else:
        machine_price, note = regional.at(region)
        lines.append(
            _line(
                "GKE nodes",
                f"{count} x {machine} in {region} x {hours:g} h",
                count * hours * machine_price.usd,
                machine_price,
                notes=(note,) if note else (),
            )
        )
    disk_price, note = prices.PD_BALANCED.at(region)
    disk_notes = [note] if note else []
    if disk_type != "pd-balanced":
        disk_notes.append(f"{disk_type} priced as pd-balanced")
    lines.append(
        _line(
            "Node boot disks",
            f"{count} x {disk_gb:g} GB {disk_type}",
            count * disk_gb * disk_price.usd,
            disk_price,
            notes=tuple(disk_notes),
        )
    )
    return lines, count


def _cloud_nat(nodes: int, hours: float, assumptions: Assumptions) -> list[CostLine]:
    per_vm = nodes * prices.NAT_GATEWAY_PER_VM.usd
    gateway = (
        prices.NAT_GATEWAY_PER_VM
        if per_vm < prices.NAT_GATEWAY_MAX.usd
        else (prices.NAT_GATEWAY_MAX)
    )
    return [
        _line(
            "Cloud NAT gateway",
            f"{nodes} VMs x {hours:g} h (private nodes)",
            min(per_vm, prices.NAT_GATEWAY_MAX.usd) * hours,
            gateway,
        ),
        _hourly("Cloud NAT IP address", "1 IPv4 address", 1, prices.NAT_IP, hours),
        _traffic("Cloud NAT data processing", assumptions.nat_gb, prices.NAT_DATA),
    ]


def _load_balancers(deployment: Deployment) -> Iterator[Registration]:
    for service in priced_as(deployment, Cost.LOAD_BALANCER):
        if (_inputs(service).get("spec") or {}).get("type") == "LoadBalancer":
            yield service


def _load_balancer(service: Registration, hours: float, assumptions: Assumptions) -> list[CostLine]:
    name = _object_name(service)
    return [
        _hourly(
            "Entry load balancer",
            f"Service {name}: 1 forwarding rule",
            1,
            prices.LB_FORWARDING_RULE,
            hours,
        ),
        _traffic("Entry load balancer data", assumptions.load_balancer_gb, prices.LB_DATA),
    ]


def _egress(region: str, assumptions: Assumptions) -> list[CostLine]:
    gb = assumptions.cross_cloud_gb
    gcp_price, note = prices.GCP_INTERNET_EGRESS.at(region)
    azure_billable = max(0.0, gb - prices.AZURE_FREE_EGRESS_GB)
    return [
        _traffic("Egress GCP to Azure", gb, gcp_price, notes=(note,) if note else ()),
        _line(
            "Egress Azure to GCP",
            f"{gb:g} GB a month (assumed); the first {prices.AZURE_FREE_EGRESS_GB} GB are free",
            azure_billable * prices.AZURE_INTERNET_EGRESS.usd,
            prices.AZURE_INTERNET_EGRESS,
            notes=("assumes nothing else in the subscription uses the free 100 GB",),
            assumed_usage=True,
        ),
    ]


# --- Azure ------------------------------------------------------------------------------------


def _cosmos(
    account: Registration, deployment: Deployment, hours: float, assumptions: Assumptions
) -> list[CostLine]:
    inputs = _inputs(account)
    name = account.name
    capabilities = {c.get("name") for c in inputs.get("capabilities") or [] if isinstance(c, dict)}
    regions = max(1, len(inputs.get("locations") or []))
    storage = assumptions.cosmos_storage_gb
    lines: list[CostLine] = []
    if "EnableServerless" in capabilities:
        ru = assumptions.cosmos_request_units
        lines.append(
            _line(
                "Cosmos DB request units",
                f"{name}: serverless, {ru:,} RUs a month (assumed load)",
                ru / 1_000_000 * prices.COSMOS_SERVERLESS_RU.usd,
                prices.COSMOS_SERVERLESS_RU,
                assumed_usage=True,
            )
        )
    else:
        throughput = sum(_throughput(r) for r in _cosmos_children(deployment, account))
        lines.append(
            _line(
                "Cosmos DB throughput",
                f"{name}: {throughput:,} RU/s provisioned x {_regions(regions)} x {hours:g} h",
                throughput / 100 * regions * hours * prices.COSMOS_PROVISIONED.usd,
                prices.COSMOS_PROVISIONED,
            )
        )
    stored = [("Cosmos DB storage", prices.COSMOS_STORAGE)]
    backup = inputs.get("backupPolicy") or {}
    tier = (backup.get("continuousModeProperties") or {}).get("tier")
    if backup.get("type") == "Continuous" and tier == "Continuous30Days":
        stored.append(
            ("Cosmos DB continuous backup (30 days)", prices.COSMOS_CONTINUOUS_30_DAY_BACKUP)
        )
    lines.extend(
        _line(
            item,
            f"{storage:g} GB x {_regions(regions)} (assumed size)",
            storage * regions * price.usd,
            price,
            assumed_usage=True,
        )
        for item, price in stored
    )
    return lines


def _regions(count: int) -> str:
    return "1 region" if count == 1 else f"{count} regions"


def _cosmos_children(deployment: Deployment, account: Registration) -> Iterator[Registration]:
    for registration in priced_as(deployment, Cost.COSMOS_THROUGHPUT):
        if registration.parent == account.parent:
            yield registration


def _throughput(resource: Registration) -> int:
    options = _inputs(resource).get("options") or {}
    return int(_number(options.get("throughput"), default=0))


def _registry(registry: Registration, hours: float) -> list[CostLine]:
    sku = str((_inputs(registry).get("sku") or {}).get("name", ""))
    days = hours / 24
    if sku != "Basic":
        return [
            CostLine(
                "Container registry",
                f"{registry.name}: {sku}",
                math.nan,
                math.nan,
                (),
                (f"no price for the {sku} tier in synth/prices.py: not counted in the total",),
            )
        ]
    return [
        _line(
            "Container registry (Basic)",
            f"{registry.name}: {days:.1f} days",
            days * prices.ACR_BASIC.usd,
            prices.ACR_BASIC,
        )
    ]


@dataclass(frozen=True)
class GkeNodes:
    """The room the GKE nodes leave for pods, to price what overflows to ACI in burst mode."""

    rooms: list[Room]
    # "3 x e2-standard-2 (1.93 vCPU and 6.1 GiB allocatable each)", one per pool.
    described: list[str]
    # Machine types without a known capacity: the floor then assumes every replica fits.
    unknown: list[str]


def gke_nodes(deployment: Deployment) -> GkeNodes:
    nodes = GkeNodes([], [], [])
    for pool in priced_as(deployment, Cost.NODES):
        count, machine = _pool_size(pool)
        if machine not in MACHINES:
            nodes.unknown.append(machine)
            continue
        room = allocatable(MACHINES[machine])
        nodes.rooms.extend(replace(room) for _ in range(count))
        nodes.described.append(
            f"{count} x {machine} ({float(room.cpu):g} vCPU and {room.memory / GIB:.1f} GiB "
            "allocatable each)"
        )
    return nodes


def _container_groups(deployment: Deployment, hours: float, notes: list[str]) -> list[CostLine]:
    lines: list[CostLine] = []
    nodes = gke_nodes(deployment)
    for workload in aci_workloads(deployment):
        per_group = hours * (
            workload.cpu * prices.ACI_VCPU.usd + workload.memory_gb * prices.ACI_MEMORY.usd
        )
        size = f"{workload.cpu:g} vCPU + {workload.memory_gb:g} GB x {hours:g} h"
        high = workload.replicas * per_group
        if workload.pinned:
            detail = f"{workload.kind} {workload.name}: {workload.replicas} x ({size})"
            line_notes: tuple[str, ...] = ()
            low = high
        else:
            fewest, burst = _overflow(workload, nodes)
            detail = (
                f"{workload.kind} {workload.name}: {fewest} to {workload.replicas} x ({size}), "
                "burst mode"
            )
            line_notes = (burst,)
            notes.append(burst)
            low = fewest * per_group
        lines.append(
            CostLine(
                "ACI container groups",
                detail,
                low,
                high,
                (prices.ACI_VCPU, prices.ACI_MEMORY),
                line_notes,
            )
        )
    return lines


def _overflow(workload: AciWorkload, nodes: GkeNodes) -> tuple[int, str]:
    """The fewest replicas of a burst workload that run in ACI, and a note saying why."""
    what = f"{workload.kind} {workload.name} prefers GKE nodes and overflows to ACI"
    replicas = workload.replicas
    if nodes.unknown:
        machines = ", ".join(sorted(set(nodes.unknown)))
        return 0, (
            f"{what}: from 0 to all {replicas} replicas run in ACI (no allocatable capacity "
            f"for {machines} in synth/node_capacity.py, so the floor assumes all fit on GKE)"
        )
    fit = place(nodes.rooms, workload.requests, replicas)
    return replicas - fit, (
        f"{what}: at most {fit} of its {replicas} replicas fit on the GKE nodes, "
        f"{' and '.join(nodes.described)}, so from {replicas - fit} to all {replicas} run in "
        "ACI (GKE's own pods and the stack's others take room too: more may overflow)"
    )


# --- helpers ----------------------------------------------------------------------------------


def _line(
    item: str,
    detail: str,
    usd: float,
    price: Price,
    notes: tuple[str, ...] = (),
    assumed_usage: bool = False,
) -> CostLine:
    return CostLine(item, detail, usd, usd, (price,), notes, assumed_usage)


def _hourly(item: str, what: str, units: float, price: Price, hours: float) -> CostLine:
    """``units`` of something billed by the hour, all month."""
    return _line(item, f"{what} x {hours:g} h", units * hours * price.usd, price)


def _traffic(item: str, gb: float, price: Price, notes: tuple[str, ...] = ()) -> CostLine:
    """An assumed amount of traffic a month at a per-GB price."""
    return _line(
        item, f"{gb:g} GiB a month (assumed)", gb * price.usd, price, notes, assumed_usage=True
    )


def _inputs(registration: Registration) -> dict[str, Any]:
    return reveal(registration.inputs)


def _number(value: object, default: float) -> float:
    if value is None or value == UNKNOWN or value == "":
        return default
    return float(str(value))


def _object_name(registration: Registration) -> str:
    metadata = _inputs(registration).get("metadata") or {}
    name = metadata.get("name")
    namespace = metadata.get("namespace")
    shown = name if isinstance(name, str) and name != UNKNOWN else registration.name
    return f"{namespace}/{shown}" if isinstance(namespace, str) and namespace != UNKNOWN else shown


def _is_zone(location: str) -> bool:
    return re.fullmatch(r"[a-z]+-[a-z]+[0-9]+-[a-z]", location) is not None


def _gcp_region(deployment: Deployment) -> str:
    for cluster in priced_as(deployment, Cost.CLUSTER_FEE):
        location = str(_inputs(cluster).get("location", ""))
        return location.rsplit("-", 1)[0] if _is_zone(location) else location
    return "us-west1"


def usd(amount: float) -> str:
    if math.isnan(amount):
        return "n/a"
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def usd_range(low: float, high: float) -> str:
    return usd(low) if math.isclose(low, high) else f"{usd(low)} to {usd(high)}"


def cost_markdown(estimate: CostEstimate) -> str:
    """The plan.md section: the lines, the total, the assumptions and the prices used."""
    a = estimate.assumptions
    rows = "\n".join(
        f"| {line.item}{' *' if line.assumed else ''} | {line.detail} "
        f"| {usd_range(line.low, line.high)} |"
        for line in estimate.lines
    )
    used: dict[tuple[str, str, str], Price] = {}
    for line in estimate.lines:
        for price in line.prices:
            used.setdefault((price.source, price.unit, f"{price.usd}"), price)
    price_rows = "\n".join(
        f"| ${price.usd:g} {price.unit} | {price.source} | {price.read_on} "
        f"| {('ASSUMPTION: ' if price.assumption else '') + price.note} |"
        for price in used.values()
    )
    line_notes = "".join(
        f"- {line.item}: {note}\n" for line in estimate.lines for note in line.notes
    )
    return (
        "## Monthly cost estimate\n\n"
        f"About **{estimate.total_text()} a month**, pay-as-you-go in US dollars, from what this "
        f"plan would deploy and the prices in `synth/prices.py` (read {prices.READ_ON}). Lines "
        "marked * rest on an assumption or a price that is not the provider's own for exactly "
        "this item (see the notes). Taxes, discounts and other credits are not included.\n\n"
        "| Item | What | Per month |\n| --- | --- | --- |\n"
        f"{rows}\n"
        f"| **Total** | | **{estimate.total_text()}** |\n\n"
        "Assumptions:\n\n"
        f"- {a.hours_per_month:g} hours a month, everything running all month.\n"
        f"- Serverless Cosmos DB: {a.cosmos_request_units:,} request units a month; "
        f"{a.cosmos_storage_gb:g} GB stored (the least Cosmos DB bills a non-empty container).\n"
        f"- {a.cross_cloud_gb:g} GB a month each way between the clouds; "
        f"{a.load_balancer_gb:g} GB through an entry load balancer; {a.nat_gb:g} GB through "
        "Cloud NAT with private nodes. Traffic to the app's users is not included.\n"
        + (f"\nNotes:\n\n{line_notes}" if line_notes else "")
        + "\nPrices used:\n\n"
        "| Price | Source | Read | Note |\n| --- | --- | --- | --- |\n"
        f"{price_rows}\n"
    )

"""What a GKE node leaves for pods, and how many replicas of a workload the nodes can take.

The scheduler places a pod on a node only while the pods' requests fit the node's *allocatable*
CPU and memory: its capacity less what GKE reserves for the kubelet, the container runtime and
the OS, and, for memory, less the 100 MiB of the kubelet's eviction threshold. Google documents
the reservation in "Plan GKE Standard node sizes", section "Memory and CPU reservations"
(https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes#memory_and_cpu_reservations):

- CPU: 6% of the first core, 1% of the next core (up to 2), 0.5% of the next 2 cores (up to 4),
  0.25% of any core above 4;
- memory: 255 MiB on a machine with less than 1 GiB; otherwise 25% of the first 4 GiB, 20% of
  the next 4 GiB (up to 8), 10% of the next 8 GiB (up to 16), 6% of the next 112 GiB (up to
  128), 2% of any above 128 GiB.

An e2-standard-2 (2 vCPUs, 8 GB) keeps 1.93 vCPU and about 6.1 GiB for pods, so it takes one
1-vCPU replica, not two. The burst estimate's floor is read from this (synth/cost.py). It is a
floor: GKE's own system pods and the stack's other pods also take room, so more may overflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from core.aci_rules.quantities import QuantityError, parse_quantity
from synth.engine import UNKNOWN

MIB: Final = 2**20
GIB: Final = 2**30
EVICTION_THRESHOLD_BYTES: Final = 100 * MIB
# (cores in the tier, share reserved); the last tier takes every core above the others.
CPU_RESERVATION: Final = (
    (Decimal(1), Decimal("0.06")),
    (Decimal(1), Decimal("0.01")),
    (Decimal(2), Decimal("0.005")),
    (None, Decimal("0.0025")),
)
# (GiB in the tier, share reserved), for machines with at least 1 GiB.
MEMORY_RESERVATION: Final = (
    (Decimal(4), Decimal("0.25")),
    (Decimal(4), Decimal("0.20")),
    (Decimal(8), Decimal("0.10")),
    (Decimal(112), Decimal("0.06")),
    (None, Decimal("0.02")),
)
SMALL_MACHINE_RESERVATION_BYTES: Final = 255 * MIB


@dataclass(frozen=True)
class Machine:
    """A machine type's capacity."""

    vcpus: int
    memory_gib: float


# The node machine types synth/prices.py prices, from the same file as their prices
# (prices.GCP_PRICING_YML: compute.instance.<type>.cpu and .ram). Its `ram` is in GB as Compute
# Engine states it; it is read as GiB, the larger reading, so the floor never overstates what
# overflows to ACI. Shared-core E2 types (e2-micro, e2-small, e2-medium) are reserved differently
# and are not listed.
MACHINES: Mapping[str, Machine] = {
    "e2-standard-2": Machine(vcpus=2, memory_gib=8),
    "e2-standard-4": Machine(vcpus=4, memory_gib=16),
}


@dataclass
class Room:
    """What is still free on one node for pods: CPU in cores, memory in bytes."""

    cpu: Decimal
    memory: Decimal


def _tiered(amount: Decimal, tiers: Sequence[tuple[Decimal | None, Decimal]]) -> Decimal:
    reserved, left = Decimal(0), amount
    for size, share in tiers:
        part = left if size is None else min(left, size)
        reserved += part * share
        left -= part
    return reserved


def allocatable(machine: Machine) -> Room:
    """The CPU and memory GKE leaves for pods on a node of ``machine``."""
    cpu = Decimal(machine.vcpus)
    memory_gib = Decimal(str(machine.memory_gib))
    reserved_memory = (
        Decimal(SMALL_MACHINE_RESERVATION_BYTES)
        if memory_gib < 1
        else _tiered(memory_gib, MEMORY_RESERVATION) * GIB
    )
    return Room(
        cpu=cpu - _tiered(cpu, CPU_RESERVATION),
        memory=memory_gib * GIB - reserved_memory - EVICTION_THRESHOLD_BYTES,
    )


def _quantity(value: object) -> Decimal:
    """A known request or limit; zero when absent, unknown or unreadable (fits more: a floor)."""
    if value is None or value == UNKNOWN:
        return Decimal(0)
    try:
        return parse_quantity(value)
    except QuantityError:
        return Decimal(0)


def _container_requests(container: Mapping[str, Any]) -> tuple[Decimal, Decimal]:
    """A container's requests; Kubernetes takes a missing request from the limit."""
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    cpu, memory = (_quantity(requests.get(key, limits.get(key))) for key in ("cpu", "memory"))
    return cpu, memory


def pod_requests(spec: Mapping[str, Any]) -> Room:
    """What a pod asks of a node: its containers' requests, or its largest init container's."""

    def each(key: str) -> Iterable[Mapping[str, Any]]:
        return (c for c in spec.get(key) or [] if isinstance(c, Mapping))

    app = [_container_requests(c) for c in each("containers")]
    init = [_container_requests(c) for c in each("initContainers")]
    return Room(
        cpu=max([sum((r[0] for r in app), Decimal(0)), *(r[0] for r in init)]),
        memory=max([sum((r[1] for r in app), Decimal(0)), *(r[1] for r in init)]),
    )


def place(rooms: Sequence[Room], pod: Room, replicas: int) -> int:
    """How many of ``replicas`` pods fit into ``rooms``, taking the room each one uses."""
    placed = 0
    for room in rooms:
        while placed < replicas and room.cpu >= pod.cpu and room.memory >= pod.memory:
            room.cpu -= pod.cpu
            room.memory -= pod.memory
            placed += 1
    return placed

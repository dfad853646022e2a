"""How long a deployment takes: typical creation times, the critical path, and the serial sum.

The times are typical creation times of a *new* resource, one per type in the table of resource
types (core/resource_types.py), each with where it comes from. They are estimates for planning,
not measurements of this stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from core.resource_types import resource_type


@dataclass(frozen=True)
class Estimate:
    seconds: int
    source: str


def estimate(typ: str) -> Estimate:
    """The typical creation time of a new ``typ`` (an error for a type the table lacks)."""
    row = resource_type(typ)
    return Estimate(row.seconds, row.seconds_source)


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

"""Reading Kubernetes objects that may hold values not known yet (a preview's unknowns)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# Tells whether a value stands for one not known yet (another resource's output in a preview).
IsUnknown = Callable[[object], bool]


def never_unknown(_: object) -> bool:
    """For objects with every value known (a cluster's, a manifest's)."""
    return False


def at(value: Any, *path: str) -> Any:
    """The value at ``path`` in nested mappings, or None when a step is missing or not a map."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value

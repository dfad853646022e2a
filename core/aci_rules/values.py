"""Reading Kubernetes objects that may hold values not known yet (a preview's unknowns)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

# How a value not known until deploy is written where a person or a rule reads it: synth's
# renders, and the program's own check of a pod spec whose image or secrets are other resources'
# outputs. The one spelling of "unknown" the project writes; the engine's own is Pulumi's.
KNOWN_AFTER_DEPLOY: Final = "(known after deploy)"

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

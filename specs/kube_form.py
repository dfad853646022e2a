"""A Kubernetes object built for pulumi-kubernetes, in the form the cluster sees it.

The program writes Kubernetes objects as pulumi-kubernetes' typed dicts (snake_case keys, values
that may be ``pulumi.Output``). The ACI rules (core/aci_rules) read objects in API form
(camelCase), as the policy pack and ``kubectl`` see them. ``api_form`` translates with the table
pulumi-kubernetes generated from the OpenAPI schema (``pulumi_kubernetes._tables``), which spells
the irregular names (``pod_ip`` -> ``podIP``, ``from_`` -> ``from``); a field newer than that table
is camel-cased by rule. ``tests/test_web_workload.py`` holds the result against what the program
really registers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from core.aci_rules.values import KNOWN_AFTER_DEPLOY
from pulumi_internals import SNAKE_TO_CAMEL_CASE_TABLE

# Fields whose keys are data (label keys, resource names), never field names to translate.
_MAPS = frozenset(
    {"labels", "annotations", "node_selector", "match_labels", "requests", "limits", "data"}
)


def api_form(value: Any) -> Any:
    """``value`` with snake_case field names in camelCase and Outputs as ``KNOWN_AFTER_DEPLOY``."""
    if isinstance(value, pulumi.Output):
        return KNOWN_AFTER_DEPLOY
    if isinstance(value, Mapping):
        return {
            _field_name(key): (_data(item) if key in _MAPS else api_form(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [api_form(item) for item in value]
    return value


def _field_name(key: str) -> str:
    if key in SNAKE_TO_CAMEL_CASE_TABLE:
        return SNAKE_TO_CAMEL_CASE_TABLE[key]
    first, *rest = key.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _data(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: api_form(item) for key, item in value.items()}
    return api_form(value)


def is_not_known_yet(value: object) -> bool:
    return value == KNOWN_AFTER_DEPLOY

"""Kubernetes resource quantities, and how the ACI connector turns them into ACI's numbers.

azure-aci v1.6.4 (commit 382bbaad88c3) ``pkg/provider/aci.go`` ``getContainers``, lines 1199-1233:

- a CPU request becomes ``MilliValue()/10`` (integer division) ``/100`` cores, at least 0.01;
  without a CPU request the container gets 1.0 core;
- a memory request becomes ``Value()/100000000`` (integer division) ``/10`` GB, at least 0.1;
  without a memory request the container gets 1.5 GB;
- limits are sent only when ``resources.limits`` is present; a missing limit key takes the
  request's value; a CPU limit is ``MilliValue()/1000`` cores, unrounded; a memory limit is
  floored to 0.1 GB with no minimum.

Decimal arithmetic keeps the figures exact (0.1 GB steps, 0.01 core steps).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

__all__ = [
    "DEFAULT_CPU_REQUEST",
    "DEFAULT_MEMORY_REQUEST_GB",
    "QuantityError",
    "aci_cpu_limit",
    "aci_cpu_request",
    "aci_memory_limit",
    "aci_memory_request",
    "millicores",
    "parse_quantity",
    "to_bytes",
]

# What the connector gives a container that requests nothing (aci.go 1199-1215).
DEFAULT_CPU_REQUEST = Decimal("1.0")
DEFAULT_MEMORY_REQUEST_GB = Decimal("1.5")

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
# The quantity grammar of k8s.io/apimachinery/pkg/api/resource (quantity.go): a signed decimal
# number followed by a binary suffix, a decimal suffix or a decimal exponent.
_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>[KMGTPE]i)|(?P<exponent>[eE][+-]?[0-9]+)|(?P<decimal>[numkMGTPE]?))"
)
_GB = Decimal(10**8)  # the connector counts memory in steps of 0.1 GB (10^8 bytes)


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def parse_quantity(text: object) -> Decimal:
    """The value of a Kubernetes quantity (``"500m"`` -> 0.5, ``"1Gi"`` -> 1073741824)."""
    if isinstance(text, bool):
        raise QuantityError(f"{text!r} is not a quantity")
    if isinstance(text, int | float):
        return Decimal(str(text))
    if not isinstance(text, str):
        raise QuantityError(f"{text!r} is not a quantity")
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise QuantityError(f"{text!r} is not a quantity")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only numbers
        raise QuantityError(f"{text!r} is not a quantity") from error
    if match["binary"]:
        return number * _BINARY[match["binary"]]
    if match["exponent"]:
        return number.scaleb(int(match["exponent"][1:]))
    return number * _DECIMAL[match["decimal"] or ""]


def millicores(text: object) -> Decimal:
    """A CPU quantity in millicores, rounded up as ``Quantity.MilliValue()`` does."""
    return Decimal(math.ceil(parse_quantity(text) * 1000))


def to_bytes(text: object) -> Decimal:
    """A memory quantity in bytes, rounded up as ``Quantity.Value()`` does."""
    return Decimal(math.ceil(parse_quantity(text)))


def aci_cpu_request(text: object | None) -> Decimal:
    """The cores the connector requests for a container (None: no CPU request)."""
    if text is None:
        return DEFAULT_CPU_REQUEST
    return max(Decimal("0.01"), (millicores(text) // 10) / 100)


def aci_memory_request(text: object | None) -> Decimal:
    """The GB the connector requests for a container (None: no memory request)."""
    if text is None:
        return DEFAULT_MEMORY_REQUEST_GB
    return max(Decimal("0.1"), (to_bytes(text) // _GB) / 10)


def aci_cpu_limit(text: object) -> Decimal:
    """The cores the connector sends as a container's CPU limit."""
    return millicores(text) / 1000


def aci_memory_limit(text: object) -> Decimal:
    """The GB the connector sends as a container's memory limit (no minimum)."""
    return (to_bytes(text) // _GB) / 10

"""Every Pulumi API this project uses that Pulumi does not publish, in one place.

The program, synth and the tests need a few of the Python SDK's internals: the stack's
configuration as a map (``pulumi.Config`` cannot list keys), the engine's wire values for
unknowns and secrets, the entry points that run a program under the mock engine, how a dynamic
provider is pickled for its own process and that process's gRPC messages (the tests talk to it
as the engine does), and
pulumi-kubernetes' table of field names. None of them is a documented API, so a new SDK release
may move or change them: ``requirements.txt`` pins ``pulumi`` to the minor version they were
read from (3.272), Dependabot proposes each bump, and ``make test`` exercises every name here.
"""

from __future__ import annotations

import pulumi
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime._serialization import _deserialize as deserialize_in_context
from pulumi.runtime._serialization import _serialize as serialize_in_context
from pulumi.runtime.config import CONFIG, get_config_env
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc, resource_pb2
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await as sync_await
from pulumi_kubernetes._tables import SNAKE_TO_CAMEL_CASE_TABLE

# What the engine sends for a value not known until deploy (a preview's unknowns).
UNKNOWN: str = rpc.UNKNOWN
# How the engine marks a secret on the wire: {SECRET_KEY: SECRET_SIG, "value": ...}.
SECRET_KEY: str = rpc._special_sig_key  # pyright: ignore[reportPrivateUsage]
SECRET_SIG: str = rpc._special_secret_sig  # pyright: ignore[reportPrivateUsage]


def is_unknown(value: object) -> bool:
    """Whether a dynamic provider's ``check`` or ``diff`` input is not known yet (a preview).

    The provider process hands such an input over as an object of ``pulumi.UNKNOWN``'s type, not
    as the engine's string: pulumi/dynamic/__main__.py (3.272) reads Check's and Diff's inputs
    with ``rpc.deserialize_properties(..., keep_unknowns=True)``. The string is what a direct
    call with the wire value passes.
    """
    return isinstance(value, type(pulumi.UNKNOWN)) or value == UNKNOWN


__all__ = [
    "CONFIG",
    "ROOT",
    "SECRET_KEY",
    "SECRET_SIG",
    "SNAKE_TO_CAMEL_CASE_TABLE",
    "UNKNOWN",
    "deserialize_in_context",
    "get_config_env",
    "is_unknown",
    "provider_pb2",
    "provider_pb2_grpc",
    "resource_pb2",
    "run_in_stack",
    "serialize_in_context",
    "serialize_provider",
    "sync_await",
]

"""An offline Pulumi engine: runs the real program and records what the engine would receive.

Pulumi's mock engine (``pulumi.runtime.set_mocks``) runs the program in-process. The recording
monitor keeps every registration as the engine gets it (inputs with secrets still marked,
dependencies, provider, options) and applies the two engine behaviours that mocks otherwise
skip: outputs named in ``additionalSecretOutputs``, and outputs whose input was secret, come back
as secrets.

:class:`FirstPreviewCloud` answers like the clouds do on a stack's first ``pulumi preview``: it
returns a resource's inputs and nothing it would compute, so every computed value is unknown.
"""

from __future__ import annotations

import pickle
import runpy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import mocks

from pulumi_internals import (
    ROOT,
    SECRET_KEY,
    SECRET_SIG,
    UNKNOWN,
    resource_pb2,
    run_in_stack,
    sync_await,
)

SECRET_MARKER = "[secret]"


def is_secret(value: object) -> bool:
    return isinstance(value, dict) and value.get(SECRET_KEY) == SECRET_SIG


def secret(value: object) -> dict[str, object]:
    return {SECRET_KEY: SECRET_SIG, "value": value}


def reveal(value: Any) -> Any:
    """The value with every secret wrapper removed (what the cloud would receive)."""
    if is_secret(value):
        return reveal(value["value"])
    if isinstance(value, dict):
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def redact(value: Any, hidden: bool = False, marker: str = SECRET_MARKER) -> Any:
    """The value with every secret replaced by ``marker`` (what a person or a log may see).

    A secret map or list keeps its shape; each value inside it becomes the marker.
    """
    if is_secret(value):
        return redact(value["value"], True, marker)
    if isinstance(value, dict):
        return {k: redact(v, hidden, marker) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, hidden, marker) for v in value]
    return marker if hidden else value


def _struct_to_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    return _whole_numbers(json_format.MessageToDict(struct))


def _whole_numbers(value: Any) -> Any:
    """protobuf Structs carry every number as a float; give whole numbers back as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


class FirstPreviewCloud(mocks.Mocks):
    """Every value a cloud computes is unknown, as on a stack's first ``pulumi preview``.

    Invokes are answered as wholly unknown too, as the engine answers one whose inputs are still
    being created: even account facts (tenant, subscription) are shown as unknown, never made up.
    """

    answers_invokes = False

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        raise NotImplementedError("the recording monitor answers invokes as unknown")

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ.startswith("kubernetes:") and isinstance(outputs.get("metadata"), dict):
            # An object without a name is auto-named by the provider: not known in advance.
            outputs["metadata"] = {"name": UNKNOWN, **outputs["metadata"]}
        return None, outputs


@dataclass(frozen=True)
class Registration:
    """One resource as the engine received it."""

    urn: str
    id: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    dependencies: tuple[str, ...]
    property_dependencies: dict[str, tuple[str, ...]]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    custom_timeouts: dict[str, str]
    ignore_changes: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    # The replacementTrigger option: a change of its value replaces the resource.
    replacement_trigger: Any = None

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0]

    def all_dependencies(self) -> set[str]:
        """Explicit, property and provider dependencies: everything this resource waits for."""
        deps = set(self.dependencies)
        if self.provider:
            deps.add(self.provider_urn)
        for urns in self.property_dependencies.values():
            deps.update(urns)
        return deps


class RecordingMonitor(mocks.MockMonitor):
    def __init__(self, cloud: mocks.Mocks) -> None:
        super().__init__(cloud)
        self.registrations: dict[str, Registration] = {}
        self.stack_outputs: dict[str, Any] = {}

    def Invoke(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if not getattr(self.mocks, "answers_invokes", True):
            return resource_pb2.ResourceInvokeResponse(unknown=True)
        return super().Invoke(request)

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs = _struct_to_dict(request.object)
        outputs = _struct_to_dict(response.object)
        secret_names = set(request.additionalSecretOutputs) | {
            key for key, value in inputs.items() if is_secret(value)
        }
        for key in secret_names:
            if key in outputs and not is_secret(outputs[key]):
                outputs[key] = secret(outputs[key])
        response.object.CopyFrom(json_format.ParseDict(outputs, struct_pb2.Struct()))
        timeouts = request.customTimeouts
        self.registrations[response.urn] = Registration(
            urn=response.urn,
            id=response.id,
            type=request.type,
            name=request.name,
            custom=request.custom,
            parent=request.parent,
            provider=request.provider,
            dependencies=tuple(request.dependencies),
            property_dependencies={
                key: tuple(deps.urns) for key, deps in request.propertyDependencies.items()
            },
            protect=request.protect,
            retain_on_delete=request.retainOnDelete,
            delete_before_replace=request.deleteBeforeReplace,
            custom_timeouts={
                name: value
                for name in ("create", "update", "delete")
                if (value := getattr(timeouts, name))
            },
            ignore_changes=tuple(request.ignoreChanges),
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
            inputs=inputs,
            outputs=outputs,
            replacement_trigger=json_format.MessageToDict(request.replacement_trigger)
            if request.HasField("replacement_trigger")
            else None,
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 (gRPC method name)
        if "::pulumi:pulumi:Stack::" in request.urn:
            self.stack_outputs = _struct_to_dict(request.outputs)
        return super().RegisterResourceOutputs(request)


@dataclass
class Deployment:
    """What one run of the program registered."""

    registrations: list[Registration]
    stack_outputs: dict[str, Any]
    error: BaseException | None = None
    by_urn: dict[str, Registration] = field(init=False)

    def __post_init__(self) -> None:
        self.by_urn = {r.urn: r for r in self.registrations}

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == typ]

    def one(self, typ: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(typ) if name is None or r.name == name]
        if len(found) != 1:
            raise LookupError(f"expected one {typ} {name or ''}, found {[r.name for r in found]}")
        return found[0]

    def custom_resources(self) -> Iterator[Registration]:
        return (r for r in self.registrations if r.custom)

    def transitive_dependencies(self, registration: Registration) -> set[str]:
        seen: set[str] = set()
        pending = list(registration.all_dependencies())
        while pending:
            urn = pending.pop()
            if urn in seen:
                continue
            seen.add(urn)
            if urn in self.by_urn:
                pending.extend(self.by_urn[urn].all_dependencies())
        return seen


def run_program(
    program: Path,
    *,
    project: str,
    stack: str,
    config: Mapping[str, str],
    cloud: mocks.Mocks,
    preview: bool,
) -> Deployment:
    """Runs ``program`` as the Pulumi language host would, against ``cloud``.

    A program error is kept in ``Deployment.error`` with whatever was registered before it.
    """
    monitor = RecordingMonitor(cloud)
    pulumi.runtime.set_mocks(cloud, project=project, stack=stack, preview=preview, monitor=monitor)
    pulumi.runtime.set_all_config(dict(config))
    # set_mocks finished a root stack already; the program gets a fresh one, as in a real run.
    ROOT.set(None)
    error: BaseException | None = None
    pickler = _pickler_methods()
    try:
        sync_await(run_in_stack(lambda: _run_path(program)))
    except Exception as exc:
        error = exc
    finally:
        ROOT.set(None)
        _restore_pickler_methods(pickler)
    return Deployment(list(monitor.registrations.values()), monitor.stack_outputs, error)


# pulumi's serialize_provider (pulumi 3.272 pulumi/dynamic/dynamic.py) replaces
# pickle._Pickler._batch_setitems and save_dict with sorting wrappers of the current ones for every
# dynamic resource, and never puts them back. A `pulumi up` is one run; a test session runs the
# program hundreds of times in one process, where the wrappers would nest until Python's recursion
# limit. Each run here starts and ends with the methods it found.
_PICKLER_METHODS = ("_batch_setitems", "save_dict")


def _pickler_methods() -> dict[str, Any]:
    return {name: pickle._Pickler.__dict__[name] for name in _PICKLER_METHODS}  # pyright: ignore[reportPrivateUsage]


def _restore_pickler_methods(methods: Mapping[str, Any]) -> None:
    for name, method in methods.items():
        setattr(pickle._Pickler, name, method)  # pyright: ignore[reportPrivateUsage]


def _run_path(program: Path) -> None:
    runpy.run_path(str(program), run_name="__main__")

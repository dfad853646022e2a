"""What the tests of the project's dynamic providers share: a fake clock and the pickling path.

A dynamic provider is pickled into the state and loaded by a separate process; these helpers
reproduce both steps with the SDK's own functions, and run that process itself.

The process (pulumi v3.259.0 sdk/python/dist/pulumi-resource-pulumi-python) is
``<project>/.venv/bin/python -u -m pulumi.dynamic``, started in the project's folder
(pkg/resource/plugin/provider_plugin.go NewProvider, with pkg/engine/project.go getPwdMain's
folder); ``-m`` puts that folder first on ``sys.path``.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill
import grpc
import pulumi
from fake_cloud import FakeCloud
from google.protobuf import json_format, struct_pb2

from pulumi_internals import (
    deserialize_in_context,
    provider_pb2,
    provider_pb2_grpc,
    serialize_in_context,
    serialize_provider,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The folder of Pulumi.yaml: where Pulumi starts the dynamic provider process."""

PROVIDER_KEY = "__provider"
"""The property that carries the pickled provider (pulumi/dynamic/dynamic.py)."""

HOST_START_SECONDS = 60
"""How long the provider process may take to print its port (it imports pulumi and grpc)."""

CALL_SECONDS = 60
"""How long one gRPC call to it may take."""


@dataclass
class FakeTime:
    """A clock and a sleep that only moves that clock."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def serialize(provider: object) -> str:
    """What pulumi.dynamic.Resource.__init__ stores as `__provider`."""
    serialized, _contains_secrets = serialize_in_context(True, serialize_provider, provider)
    return serialized


def deserialize(serialized: str) -> Any:
    """What pulumi/dynamic/__main__.py get_provider does."""
    return deserialize_in_context(lambda: dill.loads(base64.b64decode(serialized)))


def host_environment(**extra: str) -> dict[str, str]:
    """This environment without PYTHONPATH: only the working folder puts the project in reach."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return {**environment, **extra}


def run_as_provider_process(
    script: str, stdin: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs ``script`` with the provider process's ``sys.path``: the project's folder first
    (``-c`` puts the working folder there as ``-m`` does), no PYTHONPATH."""
    return subprocess.run(
        [sys.executable, "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=dict(env) if env is not None else host_environment(),
        timeout=120,
        check=False,
    )


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(dict(values))
    return message


def plain(message: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(message)


@dataclass
class ProviderHost:
    """The SDK's dynamic provider process, spoken to over gRPC as the engine does."""

    stub: Any  # provider_pb2_grpc.ResourceProviderStub
    urn: str = "urn:pulumi:test::gke-aci::pulumi-python:dynamic:Resource::test"

    def check(self, news: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The (property, reason) of each failure ``check`` reports."""
        request = provider_pb2.CheckRequest(urn=self.urn, olds=struct({}), news=struct(news))
        response = self.stub.Check(request, timeout=CALL_SECONDS)
        return [(failure.property, failure.reason) for failure in response.failures]

    def diff(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> Any:
        request = provider_pb2.DiffRequest(
            id="id", urn=self.urn, olds=struct(olds), news=struct(news)
        )
        return self.stub.Diff(request, timeout=CALL_SECONDS)

    def create(self, properties: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        request = provider_pb2.CreateRequest(urn=self.urn, properties=struct(properties))
        response = self.stub.Create(request, timeout=CALL_SECONDS)
        return response.id, plain(response.properties)


@contextmanager
def provider_host(cwd: Path = PROJECT_ROOT, **env: str) -> Iterator[ProviderHost]:
    """Starts ``python -u -m pulumi.dynamic`` in ``cwd`` as Pulumi would; stops it after."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic"],
        cwd=cwd,
        env=host_environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = read_port(process)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=HOST_START_SECONDS)
            yield ProviderHost(provider_pb2_grpc.ResourceProviderStub(channel))
    finally:
        process.kill()
        process.wait(timeout=HOST_START_SECONDS)


def read_port(process: subprocess.Popen[str]) -> int:
    """The port the process prints first, within HOST_START_SECONDS."""
    stdout = process.stdout
    assert stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(HOST_START_SECONDS)
    if not lines or not lines[0].strip().isdigit():
        raise RuntimeError(f"the provider process printed no port: {lines!r}")
    return int(lines[0])


class RecordingCloud(FakeCloud):
    """The project's fake cloud, keeping what each resource was registered with."""

    def __init__(self) -> None:
        super().__init__(preview=False)
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.resources.append(args)
        return super().new_resource(args)

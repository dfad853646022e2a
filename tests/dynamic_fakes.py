"""What the tests of the project's dynamic providers share: a fake clock and the pickling path.

A dynamic provider is pickled into the state and loaded by a separate process; these helpers
reproduce both steps with the SDK's own functions.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill
import pulumi
from fake_cloud import FakeCloud

from pulumi_internals import deserialize_in_context, serialize_in_context, serialize_provider


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


def run_isolated(script: str, stdin: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Runs ``script`` as the provider process would, but where the project cannot be imported.

    ``-I``: isolated mode, neither the current directory nor PYTHONPATH is on sys.path.
    """
    return subprocess.run(
        [sys.executable, "-I", "-c", script],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


class RecordingCloud(FakeCloud):
    """The project's fake cloud, keeping what each resource was registered with."""

    def __init__(self) -> None:
        super().__init__(preview=False)
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.resources.append(args)
        return super().new_resource(args)

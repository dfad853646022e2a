"""Makes the project's modules (settings, components, the program) importable from tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


import pulumi
import pytest
from fake_cloud import FakeCloud


class RecordingCloud(FakeCloud):
    """The project's fake cloud, keeping what each resource was registered with."""

    def __init__(self) -> None:
        super().__init__(preview=False)
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        self.resources.append(args)
        return super().new_resource(args)


@pytest.fixture
def mocks() -> RecordingCloud:
    """The fake cloud as Pulumi's mock engine, for tests that build single resources."""
    recording = RecordingCloud()
    pulumi.runtime.set_mocks(recording, preview=False)
    return recording

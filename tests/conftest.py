"""Makes the project's modules (settings, components, the program) importable from tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi
import pytest
from dynamic_fakes import RecordingCloud


@pytest.fixture
def mocks() -> RecordingCloud:
    """The fake cloud as Pulumi's mock engine, for tests that build single resources."""
    recording = RecordingCloud()
    pulumi.runtime.set_mocks(recording, preview=False)
    return recording

"""Makes the project's modules (settings, components, the program) importable from tests."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collections.abc import Iterator

import pulumi
import pytest
from dynamic_fakes import RecordingCloud

from specs.gke_identity import ACCESS_TOKEN, CREDENTIALS, IMPERSONATE


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (make test): a worker per core and one more. About a fifth of the tests wait
    on real processes' timers (Envoy's health checks, the node guard's backoff, verify's
    budgets); the extra worker runs other files meanwhile. On two cores: 2m40s instead of 3m50s."""
    return (os.cpu_count() or 1) + 1


@pytest.fixture(autouse=True, scope="session")
def _no_google_credentials_from_the_environment() -> Iterator[None]:
    """The program follows pulumi-gcp's credential variables (specs/gke_identity.py); the
    ones of whoever runs the tests must not change what the tests see."""
    with pytest.MonkeyPatch.context() as patch:
        for _key, variables in (ACCESS_TOKEN, CREDENTIALS, IMPERSONATE):
            for variable in variables:
                patch.delenv(variable, raising=False)
        yield


@pytest.fixture
def mocks() -> RecordingCloud:
    """The fake cloud as Pulumi's mock engine, for tests that build single resources."""
    recording = RecordingCloud()
    pulumi.runtime.set_mocks(recording, preview=False)
    return recording

"""The SDK internals the project reads are pinned to the minor version they were read from."""

from __future__ import annotations

from importlib.metadata import version

from fake_cloud import PROJECT_DIR
from packaging.requirements import Requirement
from packaging.version import Version


def _pulumi_requirement(path: str) -> Requirement:
    lines = (PROJECT_DIR / path).read_text().splitlines()
    [pulumi] = [Requirement(line) for line in lines if line.startswith("pulumi>")]
    return pulumi


def test_the_program_and_the_policy_pack_pin_one_minor_version_of_pulumi() -> None:
    program, pack = (
        _pulumi_requirement(p) for p in ("requirements.txt", "policy/requirements.txt")
    )
    assert program.specifier == pack.specifier
    [low] = [Version(s.version) for s in program.specifier if s.operator == ">="]
    [high] = [Version(s.version) for s in program.specifier if s.operator == "<"]
    assert (high.major, high.minor) == (low.major, low.minor + 1)


def test_the_installed_pulumi_is_the_pinned_one() -> None:
    assert Version(version("pulumi")) in _pulumi_requirement("requirements.txt").specifier

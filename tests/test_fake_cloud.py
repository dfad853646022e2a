"""The test runner of the program: each distinct run is made once, and callers never share one."""

from __future__ import annotations

import pytest
from fake_cloud import attempt_program, run_program

from core import resource_types as types
from settings import ConfigError


def test_a_run_asked_again_is_a_copy_of_its_own() -> None:
    first = run_program()
    first.one(types.POD).inputs["metadata"]["name"] = "changed by a test"
    first.registrations.clear()
    again = run_program()
    assert again.registrations, "a caller's change reached the next caller"
    assert again.one(types.POD).inputs["metadata"]["name"] != "changed by a test"


def test_a_run_follows_the_environment_it_is_made_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """The program reads some of pulumi-gcp's credential variables: a run made before one is
    set is not the run after."""
    assert attempt_program().error is None
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "a-token")
    assert isinstance(attempt_program().error, ConfigError)

"""The test runner of the program: each distinct run is made once, and callers never share one."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest
from fake_cloud import MUTMUT, MUTMUT_LEARNING, _attempt_once, attempt_program, run_program

from core import resource_types as types
from settings import ConfigError

TESTS = Path(__file__).resolve().parent
PYPROJECT = TESTS.parent / "pyproject.toml"


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


def test_runs_are_not_shared_while_mutmut_learns_which_tests_reach_a_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mutmut credits a function to the tests that ran it; a shared run would credit one."""
    monkeypatch.setenv(MUTMUT, MUTMUT_LEARNING)
    before = _attempt_once.cache_info()
    run_program()
    run_program()
    assert _attempt_once.cache_info() == before


def test_runs_are_shared_while_a_mutant_is_tested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MUTMUT, "tests.not_a_mutant")
    run_program()
    hits = _attempt_once.cache_info().hits
    run_program()
    assert _attempt_once.cache_info().hits == hits + 1


def mutmut_leaves_out() -> set[str]:
    mutmut = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["mutmut"]
    args: list[str] = mutmut["pytest_add_cli_args"]
    return {arg.removeprefix("--ignore=") for arg in args if arg.startswith("--ignore=")}


def fixture_scope(decorator: ast.expr) -> str:
    if isinstance(decorator, ast.Call):
        for keyword in decorator.keywords:
            if keyword.arg == "scope":
                return ast.literal_eval(keyword.value)
    return "function"


def test_no_fixture_outlives_its_test_where_mutmut_runs_the_tests() -> None:
    """A fixture set up once for many tests is charged by mutmut to the first of them only, so a
    mutant of what it runs would skip the others. The program's runs are shared by fake_cloud
    instead; Checkov's scans, the renders and the workflows are left out of mutmut's runs."""
    left_out = mutmut_leaves_out()
    assert left_out, "pyproject.toml's [tool.mutmut] leaves no test file out"
    outliving = [
        f"{path.name}::{node.name} ({fixture_scope(decorator)})"
        for path in sorted(TESTS.glob("test_*.py"))
        if f"tests/{path.name}" not in left_out
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if fixture_scope(decorator) != "function"
    ]
    assert outliving == []

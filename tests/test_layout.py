"""The layout answers "where does this go": each folder holds one kind of module."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from pathlib import Path

import pulumi
import pulumi.dynamic
import pytest
from fake_cloud import PROJECT_DIR


def modules(folder: str) -> list[str]:
    return sorted(
        f"{folder}.{path.stem}"
        for path in (PROJECT_DIR / folder).glob("*.py")
        if path.name != "__init__.py"
    )


def classes(module_name: str) -> list[type]:
    module = importlib.import_module(module_name)
    return [
        c for _, c in inspect.getmembers(module, inspect.isclass) if c.__module__ == module_name
    ]


@pytest.mark.parametrize("module_name", modules("components"))
def test_each_module_in_components_is_a_component_resource(module_name: str) -> None:
    assert any(issubclass(c, pulumi.ComponentResource) for c in classes(module_name))


@pytest.mark.parametrize("module_name", modules("dynamic"))
def test_each_module_in_dynamic_is_a_dynamic_resource_or_serves_them(module_name: str) -> None:
    """A dynamic resource, or what they share (the wait loop), imported by those that are."""
    if any(issubclass(c, pulumi.dynamic.Resource) for c in classes(module_name)):
        return
    users = [
        other
        for other in modules("dynamic")
        if any(issubclass(c, pulumi.dynamic.Resource) for c in classes(other))
        and f"from {module_name} import"
        in (PROJECT_DIR / f"{other.replace('.', '/')}.py").read_text()
    ]
    assert users, f"{module_name} has no dynamic resource and no dynamic resource imports it"


@pytest.mark.parametrize("module_name", modules("specs"))
def test_specs_create_no_resource_and_each_has_tests(module_name: str) -> None:
    assert not any(issubclass(c, pulumi.Resource) for c in classes(module_name))
    tests = "\n".join(p.read_text() for p in (PROJECT_DIR / "tests").glob("test_*.py"))
    assert f"from {module_name} import" in tests or f"import {module_name}" in tests


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_core_needs_nothing_beyond_the_standard_library() -> None:
    """The policy pack and verify import core/ without the program's SDKs."""
    for path in (PROJECT_DIR / "core").rglob("*.py"):
        outside = _imports(path) - set(sys.stdlib_module_names) - {"core", "__future__"}
        assert outside == set(), f"{path.relative_to(PROJECT_DIR)} imports {outside}"

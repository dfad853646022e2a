"""The configuration the Pulumi CLI would hand the program, read from the project's own files.

Stack values (``Pulumi.<stack>.yaml``) over the defaults ``Pulumi.yaml`` declares, without the
Pulumi CLI, a backend or a passphrase: what synth renders with and what the preflight checks
(``preflight/``). It needs nothing but PyYAML, so it can run before the program's dependencies.

A file that is not valid YAML, or that sets a key twice (YAML keeps the last one silently), is a
:class:`StackFileError` whose message is one line per problem with the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SECRET = "[secret]"


@dataclass(frozen=True)
class StackConfig:
    project: str
    # Full keys (gke-aci:nodeCount, gcp:zone) to their text as the program receives it;
    # encrypted stack values are shown as [secret].
    values: dict[str, str]
    notes: list[str]


class StackFileMissingError(Exception):
    """The stack has no ``Pulumi.<stack>.yaml``; the message says how to make one."""


class StackFileError(Exception):
    """A project or stack file is not what Pulumi reads: one line per problem, file and line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _DuplicateKeyLoader(yaml.SafeLoader):
    """A safe loader that records each mapping key given twice instead of keeping the last."""

    duplicates: list[str]


def _mapping(loader: _DuplicateKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            loader.duplicates.append(
                f"{line}: {key} is set twice (first on line {seen[key]}); YAML would keep "
                "only the last value: delete one"
            )
        else:
            seen[key] = line
    return loader.construct_mapping(node, deep=True)


_DuplicateKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def load_yaml_file(path: Path) -> Any:
    """The file's content, or :class:`StackFileError` naming the file and line of each problem."""
    loader = _DuplicateKeyLoader(path.read_text())
    loader.duplicates = []
    try:
        content = loader.get_single_data()
    except yaml.MarkedYAMLError as error:
        raise StackFileError([_syntax_problem(path, error)]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise StackFileError([f"{path.name}:{duplicate}" for duplicate in loader.duplicates])
    return content


def _syntax_problem(path: Path, error: yaml.MarkedYAMLError) -> str:
    """One line naming the line to fix: where the parser stopped, or, when it stopped only at
    the end of the file (an unclosed bracket or quote), where the unclosed part starts."""
    problem, found, start = error.problem or "", error.problem_mark, error.context_mark
    at_end = "end of stream" in problem or "<stream end>" in problem
    mark = start if (at_end and start) or not found else found
    where = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
    context = f" ({error.context} from line {start.line + 1})" if error.context and start else ""
    return f"{where}: not valid YAML: {problem}{context}"


def _config_of(content: Any, path: Path) -> dict[str, Any]:
    config = content.get("config") if isinstance(content, dict) else None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise StackFileError([f"{path.name}: config: must be a mapping of keys to values"])
    return {str(key): value for key, value in config.items()}


def read_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """Stack values over ``Pulumi.yaml``'s defaults; notes name the encrypted values."""
    project_path = project_dir / "Pulumi.yaml"
    project_file = load_yaml_file(project_path)
    project = str(project_file["name"])
    values: dict[str, str] = {}
    for key, declaration in _config_of(project_file, project_path).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(declaration, dict) and "default" in declaration:
            values[full_key] = config_text(declaration["default"])
        elif isinstance(declaration, dict) and "value" in declaration:
            values[full_key] = config_text(declaration["value"])
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise StackFileMissingError(
            f"no stack file {stack_file.name}: `pulumi stack init {stack}` makes one"
        )
    notes: list[str] = []
    for key, value in _config_of(load_yaml_file(stack_file), stack_file).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and "secure" in value:
            values[full_key] = SECRET
            notes.append(f"{full_key} is encrypted; rendered as {SECRET}")
        else:
            values[full_key] = config_text(value)
    return StackConfig(project, values, notes)


def config_text(value: Any) -> str:
    """A YAML value as the text the program reads (``pulumi.Config.get``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)

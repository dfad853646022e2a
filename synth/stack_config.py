"""The configuration the Pulumi CLI would hand the program, read from the project's own files.

Stack values (``Pulumi.<stack>.yaml``) over the defaults ``Pulumi.yaml`` declares, without the
Pulumi CLI, a backend or a passphrase: what synth renders with and what the preflight checks
(``preflight/``). It needs nothing but PyYAML, so it can run before the program's dependencies.
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


def read_stack_config(project_dir: Path, stack: str) -> StackConfig:
    """Stack values over ``Pulumi.yaml``'s defaults; notes name the encrypted values."""
    project_file = yaml.safe_load((project_dir / "Pulumi.yaml").read_text())
    project = str(project_file["name"])
    values: dict[str, str] = {}
    for key, declaration in (project_file.get("config") or {}).items():
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
    for key, value in ((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}).items():
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

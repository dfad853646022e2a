"""Reading .github/ as GitHub does, for the tests of the workflows and the Dependabot config.

Two things are not in the parsed YAML and are read from the text: the `# vX.Y.Z` comment that
names the release behind each pinned commit, and YAML 1.2's booleans (see `load_workflow_text`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parent.parent
GITHUB_DIR = ROOT / ".github"
WORKFLOWS_DIR = GITHUB_DIR / "workflows"

Workflow = dict[str, Any]


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader whose booleans are YAML 1.2's (true/false only), as GitHub reads workflows.

    PyYAML follows YAML 1.1, where the workflow's `on:` key would load as the boolean True.
    """


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def load_workflow_text(text: str) -> Workflow:
    data = yaml.load(text, Loader=_Yaml12Loader)  # a SafeLoader: builds no Python objects
    assert isinstance(data, dict), "a workflow file is a YAML mapping"
    return data


def workflow_paths() -> list[Path]:
    return sorted([*WORKFLOWS_DIR.glob("*.yml"), *WORKFLOWS_DIR.glob("*.yaml")])


# `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`, the form Dependabot keeps up to date (it moves the
# SHA and the comment together).
_USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<value>\S+)(?:\s+#\s*(?P<comment>.*\S))?\s*$")
_PINNED = re.compile(r"(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})")
_RELEASE = re.compile(r"v(?P<major>\d+)\.\d+\.\d+")


@dataclass(frozen=True)
class UsesLine:
    """One `uses:` line of a workflow, as written."""

    line: int
    value: str
    comment: str | None

    @property
    def pinned(self) -> re.Match[str] | None:
        return _PINNED.fullmatch(self.value)

    @property
    def release(self) -> re.Match[str] | None:
        return _RELEASE.fullmatch(self.comment or "")

    @property
    def action(self) -> str:
        return self.value.split("@", 1)[0]


def uses_lines(text: str) -> list[UsesLine]:
    found: list[UsesLine] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _USES_LINE.match(line)
        if match:
            found.append(UsesLine(number, match["value"], match["comment"]))
    return found


def release_of(text: str, action: str) -> str:
    """The `# vX.Y.Z` comment of the only `uses:` line of `action` (owner/name) in `text`."""
    lines = [u for u in uses_lines(text) if u.action == action]
    assert len(lines) == 1, f"expected one `uses: {action}@...` line, found {len(lines)}"
    release = lines[0].release
    assert release, f"{action}: no `# vX.Y.Z` comment beside its pin"
    return release[0]

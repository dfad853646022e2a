"""The README's settings table, generated from Pulumi.yaml, where each setting is declared once.

``make readme`` rewrites the table between its two markers; a test fails while the committed
table differs from what Pulumi.yaml says. The three provider keys come first: Pulumi.yaml
declares only the project's own settings, so their defaults are settings.py's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import yaml

from settings import DEFAULT_AZURE_LOCATION, DEFAULT_GCP_ZONE, PROJECT_FILE

README: Final = PROJECT_FILE.parent / "README.md"
BEGIN: Final = "<!-- settings table: generated from Pulumi.yaml by `make readme` -->"
END: Final = "<!-- end of settings table -->"

PROVIDER_ROWS: Final = (
    ("gcp:project", "(none: required)", "Google Cloud project id."),
    ("gcp:zone", f"`{DEFAULT_GCP_ZONE}`", "Zone of the zonal GKE cluster."),
    (
        "azure-native:location",
        f"`{DEFAULT_AZURE_LOCATION}`",
        "Azure location of the resource group and Cosmos DB.",
    ),
)


class MissingMarkersError(Exception):
    """The README has no pair of markers to put the table between."""


def settings_table(project_file: Path = PROJECT_FILE) -> str:
    """The table in Markdown: key, default and meaning, in Pulumi.yaml's order."""
    declared = yaml.safe_load(project_file.read_text())["config"]
    rows = [*PROVIDER_ROWS]
    for name, declaration in declared.items():
        rows.append((name, _default_text(declaration["default"]), declaration["description"]))
    lines = ["| Key | Default | Meaning |", "| --- | --- | --- |"]
    lines += [f"| `{key}` | {default} | {meaning} |" for key, default, meaning in rows]
    return "\n".join(lines) + "\n"


def _default_text(value: object) -> str:
    if value == "":
        return "(none)"
    return f"`{str(value).lower() if isinstance(value, bool) else value}`"


def with_table(readme: str, table: str) -> str:
    """``readme`` with the text between the markers replaced by ``table``."""
    head, begin, rest = readme.partition(BEGIN + "\n")
    _, end, tail = rest.partition(END)
    if not begin or not end:
        raise MissingMarkersError(f"README.md needs the lines {BEGIN} and {END} around the table")
    return head + begin + table + end + tail


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m synth.settings_table",
        description="Write the README's settings table from Pulumi.yaml.",
    )
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--check", action="store_true", help="only report a stale table")
    args = parser.parse_args(argv)
    current = args.readme.read_text()
    try:
        updated = with_table(current, settings_table())
    except MissingMarkersError as error:
        print(f"settings table: {error}", file=sys.stderr)
        return 2
    if args.check:
        if updated != current:
            print("settings table: README.md differs from Pulumi.yaml; run `make readme`")
            return 1
        return 0
    args.readme.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())

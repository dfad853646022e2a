"""Runs Checkov, installed in its own virtualenv (.venv-checkov), and returns its JSON reports.

Checkov takes seconds to start, so a test file puts everything it scans side by side in one
folder, one subfolder each, and runs it once; ``scan_each`` splits the report again.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fake_cloud import PROJECT_DIR

CHECKOV = Path(os.environ.get("CHECKOV", PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"))
RESULTS = ("passed_checks", "failed_checks", "skipped_checks")


def scan_each(
    targets: Mapping[str, Mapping[str, str]], framework: str, root: Path
) -> dict[str, Any]:
    """Checkov's report for each target, a set of files (name -> text), from one run.

    Each target is written to ``root/<target>/``; its report holds the checks on its files and
    a summary of them.
    """
    for target, files in targets.items():
        folder = root / target
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text)
    report = _run(root, framework)
    return {target: _part(report, target) for target in targets}


def _run(folder: Path, framework: str) -> dict[str, Any]:
    assert CHECKOV.exists(), f"{CHECKOV} is missing: `make scan-venv` installs Checkov"
    result = subprocess.run(
        [str(CHECKOV), "-d", str(folder), "--framework", framework, "--skip-download",
         "--compact", "-o", "json"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def _part(report: dict[str, Any], target: str) -> dict[str, Any]:
    """The checks on the files under ``/<target>/``: Checkov's paths start at the folder scanned."""

    def ours(path: str) -> bool:
        return path.startswith(f"/{target}/")

    results = {
        kind: [c for c in report["results"][kind] if ours(c["file_path"])] for kind in RESULTS
    }
    summary = {kind.removesuffix("_checks"): len(checks) for kind, checks in results.items()}
    # A file Checkov cannot parse counts against every target of the run.
    summary["parsing_errors"] = report["summary"]["parsing_errors"]
    return {"results": results, "summary": summary}


def failed_checks(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(check id, resource) of every failed check."""
    return {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}


def passed_checks(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(check id, resource) of every passed check."""
    return {(c["check_id"], c["resource"]) for c in report["results"]["passed_checks"]}

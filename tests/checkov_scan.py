"""Runs Checkov, installed in its own virtualenv (.venv-checkov), and returns its JSON reports.

Each target is scanned alone: Checkov's graph checks connect the objects of one scan (a Pod and
the NetworkPolicy that selects it), so a target scanned beside another could pass on the other's
objects. Checkov takes seconds to start, so ``scan_each`` runs the scans side by side.
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
TIMEOUT_SECONDS = 300


def scan_each(
    targets: Mapping[str, Mapping[str, str]], framework: str, root: Path
) -> dict[str, Any]:
    """Checkov's report for each target, a set of files (name -> text) written to
    ``root/<target>/``, each scanned alone and all at once."""
    assert CHECKOV.exists(), f"{CHECKOV} is missing: `make scan-venv` installs Checkov"
    scans = {}
    for target, files in targets.items():
        folder = root / target
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text)
        scans[target] = subprocess.Popen(
            [str(CHECKOV), "-d", str(folder), "--framework", framework, "--skip-download",
             "--compact", "-o", "json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
    return {target: _report(scan) for target, scan in scans.items()}


def _report(scan: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = scan.communicate(timeout=TIMEOUT_SECONDS)
    assert stdout.strip(), f"Checkov wrote no report: {stderr[-2000:]}"
    report = json.loads(stdout)
    return report[0] if isinstance(report, list) else report


def failed_checks(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(check id, resource) of every failed check."""
    return {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}


def passed_checks(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(check id, resource) of every passed check."""
    return {(c["check_id"], c["resource"]) for c in report["results"]["passed_checks"]}

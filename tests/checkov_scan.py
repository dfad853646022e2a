"""Runs Checkov, installed in its own virtualenv (.venv-checkov), and returns its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from fake_cloud import PROJECT_DIR

CHECKOV = Path(os.environ.get("CHECKOV", PROJECT_DIR / ".venv-checkov" / "bin" / "checkov"))


def checkov(target: Path, framework: str) -> dict[str, Any]:
    """Checkov's report for a folder (``-d``) or one file (``-f``) under one framework."""
    assert CHECKOV.exists(), f"{CHECKOV} is missing: `make scan-venv` installs Checkov"
    where = "-d" if target.is_dir() else "-f"
    result = subprocess.run(
        [str(CHECKOV), where, str(target), "--framework", framework, "--skip-download",
         "--compact", "-o", "json"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    report = json.loads(result.stdout)
    return report[0] if isinstance(report, list) else report


def failed_checks(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(check id, resource) of every failed check."""
    return {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}


def passed_checks(report: dict[str, Any]) -> set[tuple[str, str]]:
    """(check id, resource) of every passed check."""
    return {(c["check_id"], c["resource"]) for c in report["results"]["passed_checks"]}

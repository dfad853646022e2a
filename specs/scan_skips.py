"""Checkov skips, written on the object they concern with the reason next to them.

Checkov (the security scan of the rendered manifests in ``make test``) reads annotations
``checkov.io/skip<N>: <CHECK_ID>=<reason>``. A check is skipped only where it cannot apply, and
the reason says why; ``tests/test_security_scan.py`` fails on a skip without one.
"""

from __future__ import annotations

from collections.abc import Mapping

ANNOTATION_PREFIX = "checkov.io/skip"


def checkov_skips(reasons: Mapping[str, str]) -> dict[str, str]:
    """Annotations that skip each check id in ``reasons`` with its reason."""
    annotations: dict[str, str] = {}
    for number, (check_id, reason) in enumerate(sorted(reasons.items()), start=1):
        # Checkov splits the value at "=": the reason itself must not contain one.
        if not reason.strip() or "=" in reason:
            raise ValueError(f"skip of {check_id} needs a reason without '=': {reason!r}")
        annotations[f"{ANNOTATION_PREFIX}{number}"] = f"{check_id}={reason}"
    return annotations

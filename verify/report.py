"""One line per check: a mark, what was expected and what was seen; or the same as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum


class Status(StrEnum):
    PASS = "pass"
    # Not as expected, but nothing the user can change and nothing it costs: reported, and the
    # run still passes (GKE's own DaemonSet pods on the virtual node; see docs/verify.md).
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


MARKS = {Status.PASS: "✓", Status.WARN: "!", Status.FAIL: "✗", Status.SKIP: "-"}
# For a terminal that cannot print the marks above.
ASCII_MARKS = {Status.PASS: "ok", Status.WARN: "!", Status.FAIL: "FAIL", Status.SKIP: "-"}
HINTS = {Status.FAIL: "Fix", Status.WARN: "Note"}


@dataclass(frozen=True)
class Result:
    """The outcome of one check. ``fix`` says what to do about a failure (or what a warning
    means), when verify knows."""

    id: str
    title: str
    status: Status
    expected: str
    seen: str
    fix: str | None = None


def exit_code(results: list[Result]) -> int:
    """0 when every check that ran passed (warnings included), 1 when any failed."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0


def render_line(result: Result, *, ascii_only: bool = False) -> str:
    marks = ASCII_MARKS if ascii_only else MARKS
    line = f"{marks[result.status]} {result.title}: expected {result.expected}; seen {result.seen}"
    hint = HINTS.get(result.status)
    if result.fix and hint:
        line += f". {hint}: {result.fix}"
    return line


def summary(results: list[Result]) -> str:
    counts = {status: sum(r.status is status for r in results) for status in Status}
    ran = len(results) - counts[Status.SKIP]
    notes = [
        f"{counts[Status.WARN]} with a warning" if counts[Status.WARN] else "",
        f"{counts[Status.SKIP]} not run" if counts[Status.SKIP] else "",
    ]
    tail = ", ".join(n for n in notes if n)
    tail = f" ({tail})" if tail else ""
    if counts[Status.FAIL]:
        return f"verify: {counts[Status.FAIL]} of {ran} checks failed{tail}"
    return f"verify: all {ran} checks passed{tail}"


def render_json(results: list[Result], *, stack: str | None) -> str:
    document = {
        "stack": stack,
        "ok": exit_code(results) == 0,
        "checks": [{**asdict(r), "status": r.status.value} for r in results],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)

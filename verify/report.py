"""One line per check: a mark, what was expected and what was seen; or the same as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import StrEnum


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


MARKS = {Status.PASS: "✓", Status.FAIL: "✗", Status.SKIP: "-"}
# For a terminal that cannot print the marks above.
ASCII_MARKS = {Status.PASS: "ok", Status.FAIL: "FAIL", Status.SKIP: "-"}


@dataclass(frozen=True)
class Result:
    """The outcome of one check. ``fix`` says what to do about a failure, when verify knows."""

    id: str
    title: str
    status: Status
    expected: str
    seen: str
    fix: str | None = None


def exit_code(results: list[Result]) -> int:
    """0 when every check that ran passed, 1 when any failed."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0


def render_line(result: Result, *, ascii_only: bool = False) -> str:
    marks = ASCII_MARKS if ascii_only else MARKS
    line = f"{marks[result.status]} {result.title}: expected {result.expected}; seen {result.seen}"
    if result.fix and result.status is Status.FAIL:
        line += f". Fix: {result.fix}"
    return line


def summary(results: list[Result]) -> str:
    failed = sum(r.status is Status.FAIL for r in results)
    skipped = sum(r.status is Status.SKIP for r in results)
    ran = len(results) - skipped
    if failed:
        return f"verify: {failed} of {ran} checks failed" + _skipped(skipped)
    return f"verify: all {ran} checks passed" + _skipped(skipped)


def _skipped(count: int) -> str:
    return f" ({count} not run)" if count else ""


def render_json(results: list[Result], *, stack: str | None) -> str:
    document = {
        "stack": stack,
        "ok": exit_code(results) == 0,
        "checks": [{**asdict(r), "status": r.status.value} for r in results],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)

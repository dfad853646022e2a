"""The checks in the issue's order, each turned into one line, all within the time budget.

The checks run one after another in a worker thread; the main thread waits only until the
deadline. A check still running then is reported as not finished and the rest as not run, so
the command ends on time whatever a library or a credential plugin does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from verify import (
    aci_checks,
    http_checks,
    node_checks,
    replica_checks,
    stray_pods,
    workload_checks,
)
from verify.aci import AzureCheckError
from verify.budget import BudgetSpentError, NoAnswerError
from verify.cluster import ClusterError
from verify.context import Check, Context, Skip
from verify.report import Result, Status

# The order a user would check by hand: the node (with the node guard's marks and deletions), the
# connector, the app, Azure, HTTP, the database, both sides, the replicas' privacy behind the
# entry point, and what else runs on the node.
CHECKS: list[Check] = [
    *node_checks.CHECKS,
    *workload_checks.CHECKS,
    *aci_checks.CHECKS,
    *http_checks.CHECKS,
    *replica_checks.CHECKS,
    *stray_pods.CHECKS,
]

MAX_SEEN_CHARS = 2000


def run_one(ctx: Context, check: Check) -> Result:
    """Run one check and describe its outcome; no exception leaves here."""
    expected = check.expected(ctx.outputs)

    def line(status: Status, seen: str, fix: str | None = None) -> Result:
        return Result(check.id, check.title, status, expected, _short(seen), fix)

    try:
        verdict = check.run(ctx)
    except Skip as skip:
        return line(Status.SKIP, str(skip))
    except NoAnswerError as failure:
        if failure.repeat:
            return line(Status.SKIP, f"not checked: {failure}")
        return line(Status.FAIL, str(failure))
    except (BudgetSpentError, ClusterError, AzureCheckError) as failure:
        return line(Status.FAIL, str(failure))
    except Exception as error:  # a surprise from a library: one line, not a traceback
        return line(
            Status.FAIL,
            f"verify could not complete this check ({type(error).__name__}: {error})",
        )
    if not verdict.ok:
        return line(Status.FAIL, verdict.seen, verdict.fix)
    if verdict.warning:
        return line(Status.WARN, verdict.seen, verdict.fix)
    return line(Status.PASS, verdict.seen)


def run_checks(
    ctx: Context,
    checks: list[Check] = CHECKS,
    on_result: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Every check's Result, in order, by the budget's deadline; each also to ``on_result``
    as soon as it is known (so that a person sees the lines come)."""
    lock = threading.Lock()
    results: list[Result] = []
    closed = False

    def report(outcome: Result) -> None:
        results.append(outcome)
        if on_result is not None:
            on_result(outcome)

    def work() -> None:
        for check in checks:
            outcome = run_one(ctx, check)
            with lock:
                if closed:
                    return
                report(outcome)

    worker = threading.Thread(target=work, name="verify: checks", daemon=True)
    worker.start()
    worker.join(max(ctx.budget.remaining(), 0.0))
    with lock:
        closed = True
        if len(results) == len(checks):
            return list(results)
        seconds = ctx.budget.seconds
        hung, rest = checks[len(results)], checks[len(results) + 1 :]
        report(
            Result(
                hung.id,
                hung.title,
                Status.FAIL,
                hung.expected(ctx.outputs),
                f"did not finish within the time budget of {seconds:g} s",
            )
        )
        for check in rest:
            report(
                Result(
                    check.id,
                    check.title,
                    Status.SKIP,
                    check.expected(ctx.outputs),
                    f"not run: the time budget of {seconds:g} s was spent",
                )
            )
        return list(results)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_SEEN_CHARS else text[: MAX_SEEN_CHARS - 3] + "..."

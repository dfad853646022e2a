"""The one bounded wait loop of the dynamic providers: try, and try again until done or too late.

Every provider here waits for something Azure or the app does in its own time (a registration, a
role assignment reaching a service, a health check). Each supplies what one attempt is and what
to say when time runs out; the timing lives here once, with its clock and sleep injectable so
that tests run it in no time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Pending", "poll_until"]

T = TypeVar("T")


@dataclass(frozen=True)
class Pending:
    """An attempt that is not done yet, and what it saw (for the message on timeout)."""

    last: str


def poll_until(
    attempt: Callable[[], T | Pending],
    *,
    timeout_seconds: float,
    interval_seconds: float,
    on_timeout: Callable[[str, int], Exception],
    first: Callable[[], T | Pending] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``first`` (or ``attempt``), then ``attempt`` every ``interval_seconds``, until one
    returns something other than :class:`Pending`; return that.

    The bound is the time ``clock`` measures from this call, slow attempts included, not a
    number of attempts; the last sleep is cut to the time left. Once it is spent, raises
    ``on_timeout(last, attempts)``: what the last attempt saw, and how many ran.
    """
    deadline = clock() + timeout_seconds
    attempts = 1
    outcome = (first or attempt)()
    while isinstance(outcome, Pending):
        remaining = deadline - clock()
        if remaining <= 0:
            raise on_timeout(outcome.last, attempts)
        sleep(min(interval_seconds, remaining))
        attempts += 1
        outcome = attempt()
    return outcome

"""The run's time budget: no call waits long, and the whole run ends by a deadline.

Every network call gets a timeout: at most ``CONNECT_SECONDS`` to connect and ``READ_SECONDS``
to answer, never past what is left of the budget (less a reserve for cleaning up). A service that
gives no answer once is not asked again (``Latch``), so even when the cluster, Azure and the app
all accept connections and never answer, the run costs about three timeouts. Credential plugins
(``gke-gcloud-auth-plugin``, ``az``) run under ``bounded``. Above all that, ``verify.run`` stops
waiting at the deadline, whatever a library does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

DEFAULT_SECONDS = 180.0
"""The whole run, from start to the last line: ``--timeout`` changes it."""

CONNECT_SECONDS = 5.0
READ_SECONDS = 15.0
"""Longer than our app's slowest answer: a 503 after its 5 s database server selection."""

CLEANUP_SHARE = 0.1
"""The part of the budget kept back for deleting the todo the round trip created."""

T = TypeVar("T")


class BudgetSpentError(Exception):
    """The time budget is spent: the call was not made."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"not run: the time budget of {seconds:g} s was spent")


class NoAnswerError(Exception):
    """A service gave no answer (refused, timed out, TLS or DNS failure, credentials refused).

    ``repeat`` is true when the same service had already failed: the check is then reported as
    not run, since the first failure already names the problem.
    """

    def __init__(self, message: str, *, repeat: bool = False) -> None:
        super().__init__(message)
        self.repeat = repeat


class Budget:
    """A deadline for the run, and the per-call timeouts that respect it."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds
        self._reserve = seconds * CLEANUP_SHARE
        # An eighth of a short budget per call, so that a short --timeout still reaches every
        # service once.
        self._per_call = min(READ_SECONDS, seconds / 8)

    def remaining(self) -> float:
        """Seconds until the deadline."""
        return self._end - self._clock()

    def within(self, seconds: float, *, cleanup: bool = False) -> float:
        """``seconds``, or less when the budget ends sooner; BudgetSpentError when none is left.

        Checks stop short of the deadline by the reserve; cleanup may use the reserve.
        """
        left = self.remaining() - (0.0 if cleanup else self._reserve)
        if left <= 0.05:
            raise BudgetSpentError(self.seconds)
        return min(seconds, left)

    def timeouts(self, *, cleanup: bool = False) -> tuple[float, float]:
        """``(connect, read)`` seconds for one network call."""
        read = self.within(self._per_call, cleanup=cleanup)
        return min(CONNECT_SECONDS, read), read


class Latch:
    """Remembers that a service gave no answer, so that later calls fail at once.

    The first NoAnswerError for a failure is reported as a failed check; later ones are repeats.
    """

    def __init__(self, failure: str | None = None) -> None:
        self._failure = failure
        self._reported = False

    def check(self) -> None:
        if self._failure is not None:
            repeat, self._reported = self._reported, True
            raise NoAnswerError(self._failure, repeat=repeat)

    def trip(self, message: str) -> NoAnswerError:
        """Record ``message`` (unless a failure is known already) and return it to raise."""
        if self._failure is None:
            self._failure = message
        repeat, self._reported = self._reported, True
        return NoAnswerError(self._failure, repeat=repeat)


def bounded(work: Callable[[], T], seconds: float, what: str) -> T:
    """``work()``, or TimeoutError naming ``what`` after ``seconds``.

    For calls that take no timeout of their own (a credential plugin the Kubernetes client runs).
    The work goes on in a daemon thread that the process does not wait for.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # handed to the caller's thread
            failure.append(error)

    thread = threading.Thread(target=target, name=f"verify: {what}", daemon=True)
    thread.start()
    thread.join(max(seconds, 0.0))
    if thread.is_alive():
        raise TimeoutError(f"{what} did not finish within {round(seconds, 1):g} s")
    if failure:
        raise failure[0]
    return outcome[0]

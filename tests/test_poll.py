"""Tests of dynamic.poll, the providers' one wait loop: a fake clock, and once the real one."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from dynamic_fakes import FakeTime

from dynamic.poll import Pending, poll_until


class TimedOutError(Exception):
    """What ``on_timeout`` builds here: the last outcome and the number of attempts."""

    def __init__(self, last: str, attempts: int) -> None:
        super().__init__(f"{last} after {attempts}")
        self.last = last
        self.attempts = attempts


def outcomes(*values: str | Pending) -> Callable[[], str | Pending]:
    """An attempt that returns ``values`` in order; the last one repeats."""
    queue = list(values)

    def attempt() -> str | Pending:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return attempt


def poll(attempt: Callable[[], str | Pending], fake: FakeTime, **overrides: float) -> str:
    return poll_until(
        attempt,
        timeout_seconds=overrides.get("timeout_seconds", 60.0),
        interval_seconds=overrides.get("interval_seconds", 10.0),
        on_timeout=TimedOutError,
        sleep=fake.sleep,
        clock=fake.clock,
    )


def test_a_first_answer_that_is_done_returns_at_once() -> None:
    fake = FakeTime()

    assert poll(outcomes("done"), fake) == "done"
    assert fake.sleeps == []


def test_it_waits_one_interval_between_attempts_until_done() -> None:
    fake = FakeTime()

    result = poll(outcomes(Pending("a"), Pending("b"), "done"), fake)

    assert result == "done"
    assert fake.sleeps == [10.0, 10.0]


def test_first_replaces_only_the_first_attempt() -> None:
    fake = FakeTime()
    calls: list[str] = []

    def first() -> str | Pending:
        calls.append("first")
        return Pending("asked")

    def again() -> str | Pending:
        calls.append("again")
        return "done" if len(calls) == 3 else Pending("not yet")

    result = poll_until(
        again,
        first=first,
        timeout_seconds=60,
        interval_seconds=10,
        on_timeout=TimedOutError,
        sleep=fake.sleep,
        clock=fake.clock,
    )

    assert result == "done"
    assert calls == ["first", "again", "again"]


def test_on_timeout_gets_the_last_outcome_and_the_attempts() -> None:
    fake = FakeTime()

    with pytest.raises(TimedOutError) as raised:
        poll(outcomes(Pending("starting"), Pending("HTTP 503")), fake, timeout_seconds=25)

    assert raised.value.last == "HTTP 503"
    # Attempts at 0, 10, 20 and 25 s: the last sleep is cut to the 5 s left.
    assert raised.value.attempts == 4
    assert fake.sleeps == [10.0, 10.0, 5.0]


def test_the_bound_is_clock_time_slow_attempts_included() -> None:
    fake = FakeTime()

    def slow() -> str | Pending:
        fake.now += 45  # each attempt itself takes 45 s
        return Pending("slow")

    with pytest.raises(TimedOutError) as raised:
        poll(slow, fake, timeout_seconds=60)

    # 45 s, a 10 s sleep, 45 s more: past the bound after two attempts, not six.
    assert raised.value.attempts == 2
    assert fake.sleeps == [10.0]


def test_a_zero_timeout_tries_once_and_never_sleeps() -> None:
    fake = FakeTime()

    with pytest.raises(TimedOutError) as raised:
        poll(outcomes(Pending("no")), fake, timeout_seconds=0)

    assert raised.value.attempts == 1
    assert fake.sleeps == []


def test_with_the_real_clock_it_stops_near_the_bound() -> None:
    started = time.monotonic()

    with pytest.raises(TimedOutError) as raised:
        poll_until(
            outcomes(Pending("never")),
            timeout_seconds=0.3,
            interval_seconds=0.05,
            on_timeout=TimedOutError,
        )

    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 5
    assert raised.value.attempts >= 2

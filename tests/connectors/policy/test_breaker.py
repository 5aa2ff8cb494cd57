"""The circuit breaker's resilience4j semantics, on a fake clock."""

from __future__ import annotations

import pytest

from connectors.config import BreakerConfig
from connectors.errors import CircuitOpen
from connectors.policy.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, **config: float) -> CircuitBreaker:
    settings = {"window_size": 10, "minimum_calls": 4, "failure_rate_threshold": 50, "slow_call_rate_threshold": 60,
                "slow_call_ms": 100, "open_wait_ms": 1000, "half_open_calls": 2, **config}
    return CircuitBreaker("tax", BreakerConfig(**settings), timeout_ms=500, clock=clock)


def calls(b: CircuitBreaker, *outcomes: tuple[bool, float]) -> None:
    for failed, duration in outcomes:
        b.acquire()
        b.record(failed=failed, duration_s=duration)


def test_it_stays_closed_below_minimum_calls_and_opens_at_the_failure_rate() -> None:
    b = breaker(Clock())
    calls(b, (True, 0.01), (True, 0.01), (True, 0.01))
    assert b.state is BreakerState.CLOSED  # 3 calls < minimum 4, even if all failed
    calls(b, (False, 0.01))
    assert b.state is BreakerState.OPEN  # 3 of 4 failed: 75% >= 50%
    with pytest.raises(CircuitOpen):
        b.acquire()


def test_slow_calls_open_it_too() -> None:
    b = breaker(Clock())
    calls(b, (False, 0.2), (False, 0.2), (False, 0.01), (False, 0.2))  # 3 of 4 slower than 100 ms
    assert b.state is BreakerState.OPEN


def test_the_window_slides() -> None:
    b = breaker(Clock(), window_size=4)
    calls(b, (True, 0.01), (False, 0.01), (False, 0.01), (False, 0.01))  # 25% failed
    calls(b, (True, 0.01))  # window now F,F,F,T... oldest failure slid out: 1 of 4
    assert b.state is BreakerState.CLOSED
    calls(b, (True, 0.01))
    assert b.state is BreakerState.OPEN  # 2 of the last 4


def test_after_the_wait_probes_decide_closed_or_open_again() -> None:
    clock = Clock()
    b = breaker(clock)
    calls(b, *[(True, 0.01)] * 4)
    clock.now += 0.5
    with pytest.raises(CircuitOpen):
        b.acquire()
    clock.now += 0.6  # past open_wait_ms
    b.acquire()
    assert b.state is BreakerState.HALF_OPEN
    b.acquire()
    with pytest.raises(CircuitOpen):
        b.acquire()  # only half_open_calls probes at a time
    b.record(failed=False, duration_s=0.01)
    b.record(failed=True, duration_s=0.01)
    assert b.state is BreakerState.OPEN  # 1 of 2 probes failed: 50% >= 50%
    clock.now += 1.1
    calls(b, (False, 0.01), (False, 0.01))
    assert b.state is BreakerState.CLOSED
    assert len(b.window) == 0


def test_a_cancelled_probe_gives_its_slot_back() -> None:
    clock = Clock()
    b = breaker(clock, half_open_calls=1)
    calls(b, *[(True, 0.01)] * 4)
    clock.now += 2
    b.acquire()
    b.release()
    b.acquire()  # would raise if the cancelled probe still held the slot
    b.record(failed=False, duration_s=0.01)
    assert b.state is BreakerState.CLOSED

"""A circuit breaker with resilience4j's semantics (count-based sliding window).

    CLOSED     calls flow; the last `window_size` outcomes are kept. Once at least `minimum_calls`
               are in the window, a failure rate or slow-call rate at or above its threshold opens it.
    OPEN       calls fail fast (`CircuitOpen`) and cost the vendor nothing, for `open_wait_ms`.
    HALF_OPEN  `half_open_calls` probe calls are let through; when they have all finished, the same
               thresholds over the probes decide: CLOSED (window cleared) or OPEN again.

No maintained asyncio library offers these semantics (slow-call rate, half-open probe counts);
this one is small, single-process, and logs every state change. Each gateway process keeps its own
breaker per vendor, as resilience4j does per JVM; the `bezel.breaker.state` gauge reports them.
"""

from __future__ import annotations

import collections
import enum
import logging
import time
from collections.abc import Callable, Iterable, Mapping

from opentelemetry.metrics import Observation

from connectors.config import BreakerConfig
from connectors.errors import CircuitOpen
from connectors.telemetry import Gauge

log = logging.getLogger("bezel.breaker")


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, vendor: str, config: BreakerConfig, *, timeout_ms: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.vendor = vendor
        self.config = config
        self.slow_call_s = (config.slow_call_ms or 0.8 * timeout_ms) / 1000
        # As resilience4j does for count-based windows: a window can never hold more calls than its size.
        self.minimum_calls = min(config.minimum_calls, config.window_size)
        self.clock = clock
        self.state = BreakerState.CLOSED
        self.window: collections.deque[tuple[bool, bool]] = collections.deque(maxlen=config.window_size)
        self._opened_at = 0.0
        self._probes_started = 0
        self._probes: list[tuple[bool, bool]] = []

    def allows_calls(self) -> bool:
        """Whether a call now would be let through (closed, half-open, or open with its wait over)."""
        if self.state is BreakerState.OPEN:
            return self.clock() - self._opened_at >= self.config.open_wait_ms / 1000
        return self.state is BreakerState.CLOSED or self._probes_started < self.config.half_open_calls

    def acquire(self) -> None:
        """Permission for one call, or `CircuitOpen` at once."""
        if self.state is BreakerState.OPEN:
            if self.clock() - self._opened_at < self.config.open_wait_ms / 1000:
                raise CircuitOpen(self.vendor, "circuit open: failing fast")
            self._transition(BreakerState.HALF_OPEN)
        if self.state is BreakerState.HALF_OPEN:
            if self._probes_started >= self.config.half_open_calls:
                raise CircuitOpen(self.vendor, "circuit half-open: probes already in flight")
            self._probes_started += 1

    def release(self) -> None:
        """A permitted call ended without an outcome (cancelled): give its probe slot back."""
        if self.state is BreakerState.HALF_OPEN and self._probes_started > len(self._probes):
            self._probes_started -= 1

    def record(self, *, failed: bool, duration_s: float) -> None:
        outcome = (failed, duration_s >= self.slow_call_s)
        if self.state is BreakerState.HALF_OPEN:
            self._probes.append(outcome)
            if len(self._probes) >= self.config.half_open_calls:
                tripped = self._tripped(self._probes)
                self._transition(BreakerState.OPEN if tripped else BreakerState.CLOSED)
            return
        if self.state is BreakerState.OPEN:
            return  # a call that started before the breaker opened
        self.window.append(outcome)
        if len(self.window) >= self.minimum_calls and self._tripped(self.window):
            self._transition(BreakerState.OPEN)

    def _tripped(self, outcomes: collections.deque[tuple[bool, bool]] | list[tuple[bool, bool]]) -> bool:
        n = len(outcomes)
        failure_rate = 100 * sum(f for f, _ in outcomes) / n
        slow_rate = 100 * sum(s for _, s in outcomes) / n
        return failure_rate >= self.config.failure_rate_threshold or slow_rate >= self.config.slow_call_rate_threshold

    def _transition(self, new: BreakerState) -> None:
        old, self.state = self.state, new
        self._probes_started = 0
        self._probes = []
        if new is BreakerState.OPEN:
            self._opened_at = self.clock()
        if new is BreakerState.CLOSED:
            self.window.clear()
        log.warning("circuit breaker %s: %s -> %s", self.vendor, old.value, new.value,
                    extra={"vendor": self.vendor, "from_state": old.value, "to_state": new.value})


_LEVEL = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}
BREAKER_STATE = Gauge("bezel.breaker.state", description="Circuit breaker per vendor: 0 closed, 1 half-open, 2 open.")


def observe(breakers: Mapping[str, CircuitBreaker]) -> Callable[[], Iterable[Observation]]:
    """A source for `BREAKER_STATE`: these breakers' states (whoever owns them attaches and detaches it)."""
    return lambda: [Observation(_LEVEL[b.state], {"vendor": vendor}) for vendor, b in breakers.items()]

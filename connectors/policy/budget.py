"""A retry budget (Finagle's RetryBudget, gRPC's retry throttling): retries and hedges spend
tokens that requests earn, so a failing vendor sees at most `ratio` more calls, never a storm.

No retry library keeps such a budget (stamina and tenacity retry one call at a time); this is a
token bucket: each request deposits `ratio` tokens, `min_per_s` more trickle in every second, the
bucket holds at most `cap`, and a retry or hedge goes ahead only if it can take a whole token.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RetryBudget:
    def __init__(self, *, ratio: float = 0.2, min_per_s: float = 1.0, cap: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ratio = ratio
        self.min_per_s = min_per_s
        self.cap = cap
        self.clock = clock
        self.tokens = 0.0
        self._last = clock()
        self.spent = 0
        self.refused = 0

    def deposit(self) -> None:
        """Called once per original (first) attempt."""
        self._refill()
        self.tokens = min(self.cap, self.tokens + self.ratio)

    def try_spend(self) -> bool:
        """Take a token for one retry or hedge; False if the budget is exhausted."""
        self._refill()
        if self.tokens >= 1:
            self.tokens -= 1
            self.spent += 1
            return True
        self.refused += 1
        return False

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.cap, self.tokens + (now - self._last) * self.min_per_s)
        self._last = now

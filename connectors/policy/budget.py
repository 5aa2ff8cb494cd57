"""A retry budget (Finagle's RetryBudget, gRPC's retry throttling): retries and hedges spend
tokens that requests earn, so a failing vendor sees at most `ratio` more calls, never a storm.

No retry library keeps such a budget (stamina and tenacity retry one call at a time); this is a
token bucket: each request deposits `ratio` tokens, `min_per_s` more trickle in every second, the
bucket holds at most `cap`, and a retry or hedge goes ahead only if it can take a whole token.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# The most retries or hedges a vendor can have saved up: a quiet hour must not buy a burst of 1,000.
MAX_TOKENS = 10.0


class RetryBudget:
    """`ratio` and `min_per_s` come from the vendor's config (`retry_budget_ratio`, `..._min_per_s`)."""

    def __init__(self, *, ratio: float, min_per_s: float, cap: float = MAX_TOKENS,
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

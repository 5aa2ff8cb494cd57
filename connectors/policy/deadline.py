"""A request's time budget, shared by every vendor call the request makes."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Deadline:
    """An instant on the monotonic clock after which nothing more may be waited for."""

    expires_at: float
    budget_ms: float

    @classmethod
    def after_ms(cls, budget_ms: float) -> Deadline:
        return cls(expires_at=time.monotonic() + budget_ms / 1000, budget_ms=budget_ms)

    def remaining_s(self) -> float:
        return max(0.0, self.expires_at - time.monotonic())

    def bound(self, timeout_s: float) -> float:
        """The time a call may take: its own timeout, cut to what is left of the budget."""
        return min(timeout_s, self.remaining_s())

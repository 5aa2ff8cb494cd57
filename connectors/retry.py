"""The one way Bezel tries something again: a backoff schedule, and a loop that follows it.

Every retry goes through here: a vendor read in the call policy (`policy.attempts`), asking the
payment provider again after a lost answer and voiding an authorization (`resolvers.checkout.payment`),
an order confirmation Redis left unclear (`resolvers.checkout.orchestration`), a worker waiting for
Redis, and, the schedule alone, when a worker takes a failed order back from the stream
(`gateway.worker`). Whether a failure is worth another try is the caller's `on`: the decisions that
are each caller's own (the vendor's retry budget, the request's deadline) stay with it.

Our own rather than stamina, which three of these used before: `stamina.retry_context` builds a
tenacity retrying object for every call, 22.6 us against 0.9 us for this loop when the first attempt
succeeds (bench/results/retry_cost.md), and the call policy runs on every live vendor call of a page.
The schedule is stamina's: exponential from `initial_s`, capped at `max_s`, plus up to `jitter_s`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait after each failure."""

    initial_s: float
    max_s: float
    jitter_s: float = 0.0
    exp_base: float = 2.0

    def pause_s(self, failures: int) -> float:
        """The pause after the `failures`-th failure in a row (1 for the first)."""
        jitter = random.uniform(0, self.jitter_s) if self.jitter_s else 0.0
        return min(self.max_s, self.initial_s * self.exp_base ** max(0, failures - 1) + jitter)


async def retry(attempt: Callable[[], Awaitable[T]], *, on: Callable[[Exception], bool], backoff: Backoff,
                attempts: int | None, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> T:
    """What `attempt()` returns, trying again after a failure `on` accepts, at most `attempts` times in
    all (None: no limit). The failure that ends it is raised as it is.

    `on` is asked only when another attempt is allowed, so it may count or spend (a retry budget) as it
    decides. `sleep` is how the pause is waited: a worker's wakes early when it is told to stop.
    """
    failures = 0
    while True:
        try:
            return await attempt()
        except Exception as exc:
            failures += 1
            if (attempts is not None and failures >= attempts) or not on(exc):
                raise
        await sleep(backoff.pause_s(failures))

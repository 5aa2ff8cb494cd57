"""The last links of the chain: breaker -> bulkhead -> timeout, then retries and hedging around them.

One attempt is one HTTP call, let through by the vendor's breaker, its bulkhead and any 429 back-off,
and given `min(vendor timeout, what is left of the deadline it runs under)` (a request's, for a write;
the shared call's own, for a cacheable read: see `policy`). Idempotent reads may be retried
(exponential backoff with jitter) and hedged (a second attempt once the vendor's p95 has passed, first
answer wins), both drawing on the vendor's retry budget and never started past the deadline. No
hedge is sent while this process's event loop runs late (`connectors.loop`): the first attempt's
answer is then most likely in already and waiting for the CPU, and a second call only adds work.
"""

from __future__ import annotations

import asyncio
import time
from typing import TypeVar

from opentelemetry.trace import StatusCode

from connectors.config import VendorConfig
from connectors.errors import (
    NotCalled,
    VendorBadResponse,
    VendorError,
    VendorRateLimited,
    VendorRejectedInput,
    VendorTimeout,
)
from connectors.http import VendorCall, VendorClient
from connectors.loop import LoopLag
from connectors.policy.breaker import CircuitBreaker
from connectors.policy.budget import RetryBudget
from connectors.policy.bulkhead import Bulkhead, RetryAfter
from connectors.policy.deadline import Deadline
from connectors.policy.latency import LatencyWindow
from connectors.policy.record import Trace, event
from connectors.retry import Backoff, retry
from connectors.telemetry import span as telemetry_span

T = TypeVar("T")
# A retry is only worth starting with at least this much of the budget left after its backoff.
MIN_ATTEMPT_S = 0.05
# Not the vendor's transient trouble, or retrying would not help: a vendor that did not answer within
# its timeout would most likely make the page wait that long again (a slow answer is what hedging is for).
_NEVER_RETRIED = (VendorRejectedInput, NotCalled, VendorRateLimited, VendorTimeout)


class Attempts:
    """Sends one vendor's calls: each attempt bounded, the whole retried and hedged within limits."""

    def __init__(self, vendor: str, config: VendorConfig, client: VendorClient, *, lag: LoopLag | None = None
                 ) -> None:
        """`lag`: this process's event-loop monitor (no hedge while it runs late); none: never late."""
        self.vendor = vendor
        self.config = config
        self.client = client
        self.timeout_s = config.timeout_ms / 1000
        self.breaker = CircuitBreaker(vendor, config.breaker, timeout_ms=config.timeout_ms)
        self.bulkhead = Bulkhead(vendor, config.max_concurrency)
        self.retry_after = RetryAfter(vendor)
        self.budget = RetryBudget(ratio=config.retry_budget_ratio, min_per_s=config.retry_budget_min_per_s)
        self.latency = LatencyWindow()
        self.lag = lag or LoopLag()
        self.backoff = Backoff(config.retry_backoff_ms / 1000, config.retry_backoff_max_ms / 1000,
                               config.retry_jitter_ms / 1000)

    async def send(self, call: VendorCall[T], deadline: Deadline, trace: Trace) -> T:
        """The vendor's answer, after as many attempts as the call, the budget and the deadline allow."""
        self.budget.deposit()
        attempts = self.config.retry_attempts if call.idempotent else 1
        if attempts == 1:
            return await self._hedged(call, deadline, trace)
        failures = 0

        def retry_on(exc: Exception) -> bool:
            nonlocal failures
            failures += 1
            if not isinstance(exc, VendorError) or isinstance(exc, _NEVER_RETRIED):
                return False  # not worth repeating
            if deadline.remaining_s() < self.backoff.max_s + MIN_ATTEMPT_S:
                return False
            if not self.budget.try_spend():
                trace.retries.append(f"{exc.outcome}: retry budget exhausted")
                event("retry_refused", {"bezel.failure": exc.outcome, "bezel.reason": "retry budget exhausted"})
                return False
            trace.retries.append(exc.outcome)
            event("retry", {"bezel.failure": exc.outcome, "bezel.attempt": failures})
            return True

        return await retry(lambda: self._hedged(call, deadline, trace), on=retry_on, backoff=self.backoff,
                           attempts=attempts)

    async def _hedged(self, call: VendorCall[T], deadline: Deadline, trace: Trace) -> T:
        if not call.idempotent or not self.config.hedge or len(self.latency) < self.config.hedge_min_samples:
            return await self._attempt(call, deadline, trace)
        delay = max(self.config.hedge_min_ms / 1000, self.latency.percentile(95) or 0.0)
        if delay >= deadline.bound(self.timeout_s) or self.lag.late:
            return await self._attempt(call, deadline, trace)
        first = asyncio.ensure_future(self._attempt(call, deadline, trace))
        tasks = [first]
        try:
            done, _ = await asyncio.wait({first}, timeout=delay)
            if done or self.lag.late or not self.budget.try_spend():  # late: a hedge only adds work
                return await first
            trace.hedged = True
            event("hedge", {"bezel.hedge.after_ms": round(delay * 1000, 1)})
            tasks.append(asyncio.ensure_future(self._attempt(call, deadline, trace, hedge=True)))
            pending: set[asyncio.Task[T]] = set(tasks)
            error: BaseException | None = None
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is None:
                        return task.result()
                    error = error or task.exception()
            assert error is not None
            raise error
        finally:
            for task in tasks:
                task.add_done_callback(lambda t: t.cancelled() or t.exception())  # the loser's outcome, too
                if not task.done():
                    task.cancel()

    async def _attempt(self, call: VendorCall[T], deadline: Deadline, trace: Trace, *, hedge: bool = False) -> T:
        """One HTTP call to the vendor, in its own span (the HTTP client's span sits under it)."""
        with telemetry_span(f"attempt {call.operation}") as span:
            self.retry_after.check(call.operation)
            timeout = deadline.bound(self.timeout_s)
            if timeout <= 0:
                raise VendorTimeout(self.vendor, f"{call.operation}: request budget already spent")
            self.breaker.acquire()
            try:
                self.bulkhead.enter(call.operation)
            except NotCalled:
                self.breaker.release()
                raise
            trace.attempts += 1
            trace.timeout_ms = round(timeout * 1000, 1)
            if span.is_recording():
                span.set_attributes({"bezel.vendor": self.vendor, "bezel.attempt": trace.attempts,
                                     "bezel.hedge": hedge, "bezel.timeout_ms": trace.timeout_ms})
            try:
                return await self._bounded(call, timeout)
            except VendorError as exc:
                span.set_status(StatusCode.ERROR, exc.outcome)
                raise
            finally:
                self.bulkhead.exit()

    async def _bounded(self, call: VendorCall[T], limit_s: float) -> T:
        """The call under its timeout, its outcome told to the breaker (and a 429 to the back-off)."""
        started = time.monotonic()
        cut_short = limit_s < self.timeout_s  # the budget, not the vendor's timeout, limits this attempt
        try:
            try:
                async with asyncio.timeout(limit_s):
                    value = await self.client.execute(call)
            except TimeoutError as exc:
                raise VendorTimeout(self.vendor, f"{call.operation}: no answer within {limit_s * 1000:.0f} ms"
                                    ) from exc
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except VendorRejectedInput:
            self.breaker.record(failed=False, duration_s=time.monotonic() - started)
            raise
        except VendorTimeout:
            if cut_short:  # a request that had little time left says nothing about the vendor's health
                self.breaker.release()
            else:
                self.breaker.record(failed=True, duration_s=time.monotonic() - started)
            raise
        except VendorError as exc:
            self.breaker.record(failed=True, duration_s=time.monotonic() - started)
            if isinstance(exc, VendorRateLimited):
                self.retry_after.note(exc)
            raise
        except Exception as exc:  # a bug or an unmapped library error: count it, and fall back like any failure
            self.breaker.record(failed=True, duration_s=time.monotonic() - started)
            raise VendorBadResponse(self.vendor, f"{call.operation}: {type(exc).__name__}: {exc}") from exc
        duration = time.monotonic() - started
        self.breaker.record(failed=False, duration_s=duration)
        self.latency.observe(duration)
        return value

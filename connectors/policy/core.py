"""The call policy: the one place every vendor call is cached, bounded, retried and recorded.

    deadline -> cache tiers -> single-flight -> breaker -> bulkhead -> timeout / retry / hedge

A resolver hands a `VendorCall` to the vendor's `CallPolicy` with the request's `CallScope`:

- a fresh cached answer is served at once (CACHE, with its age); within `revalidate_s` past its
  TTL it is still served while one background call refreshes it;
- otherwise one call per key is made however many requests want it (in this process; with Redis,
  across processes too), each attempt given `min(vendor timeout, what is left of the budget)`;
- idempotent reads may be retried (backoff with jitter) and hedged (a second attempt after the
  vendor's p95), both drawing on a retry budget and never past the deadline;
- on any failure (timeout, connect error, reset, 5xx, 429, bad body, open breaker, full bulkhead)
  the last good answer within `stale_ttl_s` stands in (STALE, with its age); if there is none,
  `VendorUnavailable`. A vendor refusing the input (`VendorRejected`) is passed through as is.

Vendor modules know nothing of this; this module knows nothing of any one vendor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import stamina
from opentelemetry import trace as trace_api
from opentelemetry.trace import Span, StatusCode

from connectors.config import VendorConfig
from connectors.errors import (
    CallRejected,
    CircuitOpen,
    VendorBadResponse,
    VendorError,
    VendorRateLimited,
    VendorRejected,
    VendorTimeout,
    VendorUnavailable,
)
from connectors.http import VendorCall, VendorClient
from connectors.models import Freshness, Source, Sourced
from connectors.policy.breaker import CircuitBreaker
from connectors.policy.budget import RetryBudget
from connectors.policy.cache import Entry, TieredCache
from connectors.policy.calllog import CallLog, CallRecord
from connectors.policy.deadline import Deadline
from connectors.policy.latency import LatencyWindow
from connectors.policy.singleflight import SharedFlight, SingleFlight
from connectors.telemetry import VENDOR_CALL_DURATION, VENDOR_CALLS, VENDOR_FALLBACKS, VENDOR_UNAVAILABLE, tracer

T = TypeVar("T")
log = logging.getLogger("bezel.vendors")

# After a 429 without Retry-After, leave the vendor alone this long; and never longer than the cap,
# whatever a vendor asks (a day-long Retry-After would silence it with no way back).
DEFAULT_RATE_LIMIT_BACKOFF_S = 1.0
MAX_RATE_LIMIT_BACKOFF_S = 60.0
# A retry is only worth starting with at least this much of the budget left after its backoff.
MIN_ATTEMPT_S = 0.05


@dataclass
class CallScope:
    """What one GraphQL request lends every vendor call it makes: its deadline and its call log."""

    deadline: Deadline
    log: CallLog = field(default_factory=CallLog)


@dataclass
class Trace:
    """What happened inside one policy call, for the call log (and traces)."""

    attempts: int = 0
    hedged: bool = False
    retries: list[str] = field(default_factory=list)
    shared: bool = False  # answered by another request's (or process's) call
    timeout_ms: float = 0.0


@dataclass(frozen=True)
class _Fetched:
    value: Any
    source: Source
    stored_at: float


class CallPolicy:
    """Caching, single-flight, breaker, bulkhead, retries and hedging for one vendor."""

    def __init__(self, vendor: str, config: VendorConfig, client: VendorClient, *,
                 cache: TieredCache | None = None) -> None:
        self.vendor = vendor
        self.config = config
        self.client = client
        self.cache = cache or TieredCache()
        self.timeout_s = config.timeout_ms / 1000
        self.breaker = CircuitBreaker(vendor, config.breaker, timeout_ms=config.timeout_ms)
        self.budget = RetryBudget(ratio=config.retry_budget_ratio, min_per_s=config.retry_budget_min_per_s)
        self.latency = LatencyWindow()
        self.flights = SingleFlight()
        self.shared = SharedFlight(self.cache.redis) if self.cache.redis is not None else None
        self.in_flight = 0
        self.backoff_until = 0.0
        self._refreshing: dict[str, asyncio.Task[Any]] = {}  # background refreshes by cache key
        self._background: set[asyncio.Task[Any]] = set()  # shared-tier writes finishing after the answer
        self.keep_s = config.cache_ttl_s + max(config.stale_ttl_s, config.revalidate_s)

    # ------------------------------------------------------------------ entry points

    async def run(self, call: VendorCall[T], scope: CallScope) -> Sourced[T]:
        """One vendor answer, from cache or live, or a stale stand-in; else `VendorUnavailable`."""
        with tracer.start_as_current_span(f"vendor {call.operation}", attributes={"bezel.vendor": self.vendor}):
            return await self._run(call, scope)

    async def _run(self, call: VendorCall[T], scope: CallScope) -> Sourced[T]:
        started = time.monotonic()
        trace = Trace()
        cached: Entry[Any] | None = None
        if self._cacheable(call):
            cached = await self.cache.get(call.cache_key, call.result_type, fresh_s=self.config.cache_ttl_s)
            if cached is not None:
                age = cached.age_s()
                if age < self.config.cache_ttl_s + self.config.revalidate_s:
                    if age >= self.config.cache_ttl_s:  # slightly old: serve it, refresh behind the scenes
                        self._revalidate(call)
                    self._record(scope, call, "cache", Source.CACHE, started, trace, age, cached.tier)
                    return Sourced(cached.value, Freshness(Source.CACHE, int(age * 1000), self.vendor))
        try:
            fetched = await self._fetch_once(call, call.cache_key, scope.deadline, trace)
        except VendorRejected as exc:
            self._record(scope, call, "bad_input", None, started, trace, detail=str(exc))
            raise
        except VendorError as exc:
            return self._fallback(call, scope, cached, exc, started, trace)
        age = max(0.0, time.time() - fetched.stored_at) if fetched.source is Source.CACHE else 0.0
        outcome = "cache" if fetched.source is Source.CACHE else "live"
        self._record(scope, call, outcome, fetched.source, started, trace, age)
        return Sourced(fetched.value, Freshness(fetched.source, int(age * 1000), self.vendor))

    async def run_batch(
        self,
        operation: str,
        keys: Sequence[str],
        build: Callable[[list[str]], VendorCall[dict[str, T]]],
        item_type: Any,
        scope: CallScope,
        *,
        must_refresh: Callable[[T], bool] | None = None,
    ) -> dict[str, Sourced[T] | VendorError]:
        """Answers for many keys, cached per key; the misses go to the vendor in one call.

        `must_refresh(value)` marks cached answers that may not be served from cache however fresh
        (stock below safety level is checked live on every read).
        """
        with tracer.start_as_current_span(f"vendor {self.vendor}.{operation}",
                                          attributes={"bezel.vendor": self.vendor, "bezel.keys": len(keys)}):
            return await self._run_batch(operation, keys, build, item_type, scope, must_refresh=must_refresh)

    async def _run_batch(
        self,
        operation: str,
        keys: Sequence[str],
        build: Callable[[list[str]], VendorCall[dict[str, T]]],
        item_type: Any,
        scope: CallScope,
        *,
        must_refresh: Callable[[T], bool] | None = None,
    ) -> dict[str, Sourced[T] | VendorError]:
        started = time.monotonic()
        trace = Trace()
        item_keys = {k: f"{self.vendor}:{operation}:{k}" for k in keys}
        entries = (await self.cache.get_many(list(item_keys.values()), item_type, fresh_s=self.config.cache_ttl_s)
                   if self._cacheable_ttl() else {})
        answers: dict[str, Sourced[T] | VendorError] = {}
        missing: list[str] = []
        now = time.time()
        ttl = self.config.cache_ttl_s
        for k, ck in item_keys.items():
            entry = entries.get(ck)
            if entry is not None:
                age = max(0.0, now - entry.stored_at)
                if age < ttl and not (must_refresh and must_refresh(entry.value)):
                    answers[k] = Sourced(entry.value, Freshness(Source.CACHE, int(age * 1000), self.vendor))
                    continue
            missing.append(k)
        if not missing:
            self._record(scope, None, "cache", Source.CACHE, started, trace, operation=operation)
            return answers
        call = build(missing)
        try:
            fetched = await self._fetch_once(call, call.cache_key, scope.deadline, trace, store=False)
        except VendorError as exc:
            served_stale = False
            for k in missing:
                entry = entries.get(item_keys[k])
                if entry is not None and entry.age_s(now) < self.config.cache_ttl_s + self.config.stale_ttl_s:
                    answers[k] = Sourced(entry.value, Freshness(Source.STALE, int(entry.age_s() * 1000), self.vendor))
                    served_stale = True
                else:
                    answers[k] = exc
            outcome = "stale" if served_stale else exc.outcome
            self._record(scope, call, outcome, Source.STALE if served_stale else None, started, trace,
                         detail=str(exc))
            return answers
        values: dict[str, T] = fetched.value
        await self.cache.put_many({item_keys[k]: v for k, v in values.items()}, item_type, keep_s=self.keep_s,
                                  stored_at=fetched.stored_at)
        for k in missing:
            answers[k] = Sourced(values[k], Freshness(Source.LIVE, 0, self.vendor)) if k in values else VendorTimeout(
                self.vendor, f"{operation}: no answer for {k}")
        self._record(scope, call, "live", Source.LIVE, started, trace)
        return answers

    # ------------------------------------------------------------------ fallback and bookkeeping

    def _fallback(self, call: VendorCall[T], scope: CallScope, cached: Entry[Any] | None, exc: VendorError,
                  started: float, trace: Trace) -> Sourced[T]:
        if cached is not None:
            age = cached.age_s()
            if age < self.config.cache_ttl_s + self.config.stale_ttl_s:
                trace_api.get_current_span().add_event("fallback", {"bezel.failure": exc.outcome,
                                                                    "bezel.cache.age_ms": int(age * 1000)})
                self._record(scope, call, "stale", Source.STALE, started, trace, age, cached.tier, detail=str(exc))
                log.info("serving stale %s answer (%.0f ms old): %s", self.vendor, age * 1000, exc)
                return Sourced(cached.value, Freshness(Source.STALE, int(age * 1000), self.vendor))
        self._record(scope, call, exc.outcome, None, started, trace, detail=str(exc))
        log.warning("vendor call failed", extra={"vendor": self.vendor, "operation": call.operation,
                                                  "outcome": exc.outcome, "detail": str(exc)})
        raise VendorUnavailable(self.vendor, exc.outcome) from exc

    def _record(self, scope: CallScope, call: VendorCall[Any] | None, outcome: str, source: Source | None,
                started: float, trace: Trace, age_s: float = 0.0, tier: str | None = None, *, detail: str = "",
                operation: str | None = None) -> None:
        """The one place a call's outcome is written down: the request's log, the span, the metrics."""
        record = CallRecord(
            vendor=self.vendor,
            operation=operation or (call.operation if call else ""),
            outcome=outcome,
            source=source,
            ms=(time.monotonic() - started) * 1000,
            age_ms=int(age_s * 1000),
            tier=tier,
            attempts=trace.attempts,
            hedged=trace.hedged,
            retries=tuple(trace.retries),
            shared=trace.shared,
            timeout_ms=trace.timeout_ms,
            breaker=self.breaker.state.value,
            detail=detail,
        )
        scope.log.add(record)
        observe(record)

    def _cacheable_ttl(self) -> bool:
        return self.keep_s > 0

    def _cacheable(self, call: VendorCall[Any]) -> bool:
        return call.idempotent and call.result_type is not None and self._cacheable_ttl()

    def _revalidate(self, call: VendorCall[Any]) -> None:
        """Refresh a key in the background, once, while its slightly old answer is being served."""
        key = call.cache_key
        if key in self._refreshing:
            return
        deadline = Deadline.after_ms(self.config.timeout_ms)
        task = asyncio.ensure_future(self._fetch_once(call, key, deadline, Trace()))
        self._refreshing[key] = task
        task.add_done_callback(lambda _t: self._refreshing.pop(key, None))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # a failed refresh just waits for the next

    async def aclose(self) -> None:
        tasks = [*self._refreshing.values(), *self._background, *self.flights.tasks()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.client.aclose()

    # ------------------------------------------------------------------ single-flight

    def flight_deadline(self) -> Deadline:
        """How long a shared call may run: every attempt its full timeout. It is not any one request's
        deadline (a request with 20 ms left must not doom the call others are waiting on); each waiter
        stops at its own deadline, and an answer that lands later still fills the cache."""
        attempts = self.config.retry_attempts
        return Deadline.after_ms(self.config.timeout_ms * attempts + self.config.retry_backoff_max_ms * (attempts - 1))

    async def _fetch_once(self, call: VendorCall[T], key: str, deadline: Deadline, trace: Trace, *,
                          store: bool = True) -> _Fetched:
        """The one call for `key` in this process (and, with Redis, across processes)."""
        if deadline.remaining_s() <= 0:
            raise VendorTimeout(self.vendor, f"{call.operation}: request budget already spent")
        if not call.idempotent:  # a write runs once, for this request, under this request's deadline
            return await self._fetch(call, deadline, trace, store=False)

        async def lead() -> _Fetched:
            return await self._fetch(call, self.flight_deadline(), trace, store=store)

        try:
            fetched, leader = await self.flights.do(key, lead, wait_s=deadline.remaining_s())
        except TimeoutError as exc:
            raise VendorTimeout(self.vendor, f"{call.operation}: {exc}") from exc
        trace.shared = trace.shared or not leader
        return fetched

    async def _fetch(self, call: VendorCall[T], deadline: Deadline, trace: Trace, *, store: bool) -> _Fetched:
        """Call the vendor (unless another process is already doing it) and store a cacheable answer."""
        if self.shared is None or not store or not self._cacheable(call):
            fetched = _Fetched(await self._with_retries(call, deadline, trace), Source.LIVE, time.time())
            if store and self._cacheable(call):
                await self.cache.put(call.cache_key, fetched.value, call.result_type, keep_s=self.keep_s,
                                     stored_at=fetched.stored_at)
            return fetched
        lock = await self.shared.acquire(call.cache_key, ttl_s=deadline.remaining_s() + 1.0)
        if lock is None:  # another process is calling: wait for its answer in the shared tier
            peer = await self.shared.wait_for_peer(call.cache_key, lambda: self._fresh_shared(call),
                                                   deadline.remaining_s())
            if peer is not None:
                trace.shared = True
                return _Fetched(peer.value, Source.CACHE, peer.stored_at)
        else:  # it may have finished between our cache read and our lock: look once more
            peer = await self._fresh_shared(call)
            if peer is not None:
                self._in_background(self.shared.release(lock))
                trace.shared = True
                return _Fetched(peer.value, Source.CACHE, peer.stored_at)
        try:
            fetched = _Fetched(await self._with_retries(call, deadline, trace), Source.LIVE, time.time())
        except BaseException:
            if lock is not None:
                self._in_background(self.shared.release(lock))
            raise
        # Answer the waiters now; the shared write, then the lock's release, finish behind them.
        self.cache.put_local(call.cache_key, fetched.value, keep_s=self.keep_s, stored_at=fetched.stored_at)

        async def publish() -> None:
            await self.cache.put(call.cache_key, fetched.value, call.result_type, keep_s=self.keep_s,
                                 stored_at=fetched.stored_at)
            if lock is not None:
                await self.shared.release(lock)

        self._in_background(publish())
        return fetched

    def _in_background(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _fresh_shared(self, call: VendorCall[Any]) -> Entry[Any] | None:
        entry = await self.cache.get_shared(call.cache_key, call.result_type)
        return entry if entry is not None and entry.age_s() < self.config.cache_ttl_s else None

    # ------------------------------------------------------------------ retries and hedging

    async def _with_retries(self, call: VendorCall[T], deadline: Deadline, trace: Trace) -> T:
        self.budget.deposit()
        attempts = self.config.retry_attempts if call.idempotent else 1
        wait_max = self.config.retry_backoff_max_ms / 1000

        failures = 0

        def retry_on(exc: Exception) -> bool:
            nonlocal failures
            failures += 1
            if failures >= attempts:
                return False  # that was the last attempt: no retry to pay for
            if not isinstance(exc, VendorError) or isinstance(
                exc, VendorRejected | CircuitOpen | CallRejected | VendorRateLimited | VendorTimeout
            ):
                # Not the vendor's transient trouble, or retrying would not help: a vendor that did not
                # answer in its timeout would most likely make the page wait that long again (a slow
                # answer is what hedging is for).
                return False
            if deadline.remaining_s() < wait_max + MIN_ATTEMPT_S:
                return False
            if not self.budget.try_spend():
                trace.retries.append(f"{exc.outcome}: retry budget exhausted")
                trace_api.get_current_span().add_event("retry_refused", {"bezel.failure": exc.outcome,
                                                                         "bezel.reason": "retry budget exhausted"})
                return False
            trace.retries.append(exc.outcome)
            trace_api.get_current_span().add_event("retry", {"bezel.failure": exc.outcome, "bezel.attempt": failures})
            return True

        async for attempt in stamina.retry_context(
            on=retry_on,
            attempts=attempts,
            timeout=None,  # the deadline bounds us: see retry_on and each attempt's timeout
            wait_initial=self.config.retry_backoff_ms / 1000,
            wait_max=wait_max,
            wait_jitter=self.config.retry_jitter_ms / 1000,
        ):
            with attempt:
                return await self._hedged(call, deadline, trace)
        raise AssertionError("unreachable: stamina re-raises the last error")  # pragma: no cover

    async def _hedged(self, call: VendorCall[T], deadline: Deadline, trace: Trace) -> T:
        p95 = self.latency.percentile(95)
        delay = max(self.config.hedge_min_ms / 1000, p95 or 0.0)
        if (not call.idempotent or not self.config.hedge or len(self.latency) < self.config.hedge_min_samples
                or delay >= deadline.bound(self.timeout_s)):
            return await self._attempt(call, deadline, trace)
        first = asyncio.ensure_future(self._attempt(call, deadline, trace))
        tasks = [first]
        try:
            done, _ = await asyncio.wait({first}, timeout=delay)
            if done or not self.budget.try_spend():
                return await first
            trace.hedged = True
            trace_api.get_current_span().add_event("hedge", {"bezel.hedge.after_ms": round(delay * 1000, 1)})
            tasks.append(asyncio.ensure_future(self._attempt(call, deadline, trace, hedge=True)))
            pending: set[asyncio.Future[T]] = set(tasks)
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
        with tracer.start_as_current_span(f"attempt {call.operation}") as span:
            try:
                return await self._attempt_unspanned(call, deadline, trace, span, hedge)
            except VendorError as exc:
                span.set_status(StatusCode.ERROR, exc.outcome)
                raise

    async def _attempt_unspanned(self, call: VendorCall[T], deadline: Deadline, trace: Trace, span: Span,
                                 hedge: bool) -> T:
        """Breaker, bulkhead and timeout around the client."""
        if time.monotonic() < self.backoff_until:
            raise CallRejected(self.vendor, f"{call.operation}: backing off after a 429 for "
                                            f"{self.backoff_until - time.monotonic():.1f}s more")
        timeout = deadline.bound(self.timeout_s)
        if timeout <= 0:
            raise VendorTimeout(self.vendor, f"{call.operation}: request budget already spent")
        self.breaker.acquire()
        if self.in_flight >= self.config.max_concurrency:
            self.breaker.release()
            raise CallRejected(self.vendor, f"{call.operation}: bulkhead full ({self.in_flight} in flight)")
        self.in_flight += 1
        trace.attempts += 1
        trace.timeout_ms = round(timeout * 1000, 1)
        span.set_attributes({"bezel.vendor": self.vendor, "bezel.attempt": trace.attempts, "bezel.hedge": hedge,
                             "bezel.timeout_ms": trace.timeout_ms})
        started = time.monotonic()
        cut_short = timeout < self.timeout_s  # the budget, not the vendor's timeout, limits this attempt
        try:
            try:
                async with asyncio.timeout(timeout):
                    value = await self.client.execute(call)
            except TimeoutError as exc:
                raise VendorTimeout(self.vendor, f"{call.operation}: no answer within {timeout * 1000:.0f} ms"
                                    ) from exc
        except asyncio.CancelledError:
            self.breaker.release()
            raise
        except VendorRejected:
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
                wait = min(MAX_RATE_LIMIT_BACKOFF_S, exc.retry_after_s or DEFAULT_RATE_LIMIT_BACKOFF_S)
                self.backoff_until = time.monotonic() + wait
            raise
        except Exception as exc:  # a bug or an unmapped library error: count it, and fall back like any failure
            self.breaker.record(failed=True, duration_s=time.monotonic() - started)
            raise VendorBadResponse(self.vendor, f"{call.operation}: {type(exc).__name__}: {exc}") from exc
        finally:
            self.in_flight -= 1
        duration = time.monotonic() - started
        self.breaker.record(failed=False, duration_s=duration)
        self.latency.observe(duration)
        return value



_FAILED = {"timeout", "error", "circuit_open", "rejected"}


def observe(record: CallRecord) -> None:
    """A finished call on the current span and in the metrics."""
    span = trace_api.get_current_span()
    if span.is_recording():
        span.set_attributes({
            "bezel.vendor": record.vendor,
            "bezel.operation": record.operation,
            "bezel.outcome": record.outcome,
            "bezel.cache.source": record.source.value if record.source else "NONE",
            "bezel.cache.age_ms": record.age_ms,
            "bezel.cache.tier": record.tier or "",
            "bezel.attempts": record.attempts,
            "bezel.hedged": record.hedged,
            "bezel.shared": record.shared,
            "bezel.timeout_ms": record.timeout_ms,
            "bezel.breaker.state": record.breaker,
        })
        if record.outcome in _FAILED:
            span.set_status(StatusCode.ERROR, record.outcome)
    VENDOR_CALLS.add(1, (("outcome", record.outcome), ("vendor", record.vendor)))
    if record.attempts:  # the vendor was asked: its latency is worth a histogram point
        VENDOR_CALL_DURATION.record(record.ms / 1000, {"vendor": record.vendor, "outcome": record.outcome,
                                                        "operation": record.operation})
    if record.outcome == "stale":
        VENDOR_FALLBACKS.add(1, (("vendor", record.vendor),))
    elif record.outcome in _FAILED:
        VENDOR_UNAVAILABLE.add(1, (("vendor", record.vendor),))

"""The call policy: the one place every vendor call is cached, bounded, retried and recorded.

    deadline -> cache tiers -> single-flight -> breaker -> bulkhead -> timeout / retry / hedge
    (deadline)  (cache, freshness) (singleflight) (breaker) (bulkhead)  (attempts)   record: (record)

`Vendors.call` hands a `VendorCall` (or a `BatchCall`) to the vendor's `CallPolicy` with the
request's `CallScope`:

- a fresh cached answer is served at once (CACHE, with its age); within `revalidate_s` past its
  TTL it is still served while one background call refreshes it;
- otherwise one call per key is made however many requests want it (in this process; with Redis,
  across processes too). That shared call gets each attempt's full vendor timeout
  (`flight_deadline`); every request waiting on it stops at its own deadline, and a late answer still
  fills the cache. A write runs under the request's own deadline;
- idempotent reads may be retried and hedged, within a retry budget and never past the deadline;
- on any failure (timeout, connect error, reset, 5xx, 429, bad body, open breaker, full bulkhead)
  the last good answer within `stale_ttl_s` stands in (STALE, with its age); if there is none,
  `VendorUnavailable`. A vendor refusing the input (`VendorRejectedInput`) is passed through as is.

Vendor modules know nothing of this; this module knows nothing of any one vendor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from connectors.config import VendorConfig
from connectors.errors import OverQuota, VendorError, VendorRejectedInput, VendorTimeout, VendorUnavailable
from connectors.http import BatchCall, VendorCall, VendorClient
from connectors.loop import LoopLag
from connectors.models import Freshness, Outcome, Source, Sourced
from connectors.policy.attempts import Attempts
from connectors.policy.breaker import CircuitBreaker
from connectors.policy.cache import Entry, TieredCache, encode
from connectors.policy.deadline import Deadline
from connectors.policy.freshness import Windows
from connectors.policy.record import Trace, declare, event, record
from connectors.policy.scope import CallScope
from connectors.policy.singleflight import Claim, SharedFlight, SingleFlight
from connectors.telemetry import span

T = TypeVar("T")
log = logging.getLogger("bezel.vendors")


@dataclass(frozen=True)
class _Fetched:
    value: Any
    source: Source
    stored_at: float


class CallPolicy:
    """Caching, single-flight, breaker, bulkhead, retries and hedging for one vendor."""

    def __init__(self, vendor: str, config: VendorConfig, client: VendorClient, *, cache: TieredCache,
                 lag: LoopLag | None = None) -> None:
        self.vendor = vendor
        self.config = config
        self.client = client
        self.cache = cache
        self.windows = Windows.of(config)
        self.attempts = Attempts(vendor, config, client, lag=lag or LoopLag())
        self.flights = SingleFlight()
        self.shared = SharedFlight(cache.redis) if cache.redis is not None else None
        self._refreshing: dict[str, asyncio.Task[Any]] = {}  # background refreshes by cache key
        self._background: set[asyncio.Task[Any]] = set()  # shared-tier writes finishing after the answer
        declare(vendor)  # its call counters, at 0 from now on

    @property
    def breaker(self) -> CircuitBreaker:
        return self.attempts.breaker

    # ------------------------------------------------------------------ entry points

    async def run(self, call: VendorCall[T], scope: CallScope) -> Sourced[T]:
        """One vendor answer, from cache or live, or a stale stand-in; else `VendorUnavailable`."""
        with span(f"vendor {call.operation}", attributes={"bezel.vendor": self.vendor}):
            return await self._run(call, scope)

    async def _run(self, call: VendorCall[T], scope: CallScope) -> Sourced[T]:
        trace = Trace()
        cached: Entry[Any] | None = None
        claims: list[Claim] = []  # what the shared-tier read found: its payload, or the key's lease
        if self._cacheable(call):
            cached = await self.cache.get(call.cache_key, call.result_type, fresh_s=self.windows.fresh_s,
                                          read=self._claim(call, claims) if self.shared is not None else None)
            if cached is not None:
                age = cached.age_s()
                if self.windows.servable(age) and age <= scope.max_age_s.get(self.vendor, age):
                    if not self.windows.fresh(age):  # slightly old: serve it, refresh behind the scenes
                        self._revalidate(call, claims[0] if claims else None)
                    else:
                        self._let_go(claims)
                    self._record(scope, trace, call.operation, Outcome.CACHE, Source.CACHE, age, cached.tier)
                    return Sourced(cached.value, Freshness(Source.CACHE, int(age * 1000), self.vendor))
        try:
            self._spend(scope, call.operation, claims)
            fetched = await self._fetch_once(call, scope.deadline, trace, max_age_s=scope.max_age_s.get(self.vendor),
                                             claim=claims[0] if claims else None)
        except VendorError as exc:
            stale = self._settle_failure(scope, trace, call.operation, exc, {call.cache_key: cached})[call.cache_key]
            if stale is not None:
                return stale
            if isinstance(exc, VendorRejectedInput):
                raise
            raise VendorUnavailable(self.vendor, exc.outcome) from exc
        age = max(0.0, time.time() - fetched.stored_at) if fetched.source is Source.CACHE else 0.0
        outcome = Outcome.CACHE if fetched.source is Source.CACHE else Outcome.LIVE
        self._record(scope, trace, call.operation, outcome, fetched.source, age)
        return Sourced(fetched.value, Freshness(fetched.source, int(age * 1000), self.vendor))

    async def run_batch(self, batch: BatchCall[T], scope: CallScope) -> dict[str, Sourced[T] | VendorError]:
        """Answers for many keys, cached per key; the misses go to the vendor in one call."""
        with span(f"vendor {self.vendor}.{batch.operation}",
                  attributes={"bezel.vendor": self.vendor, "bezel.keys": len(batch.keys)}):
            return await self._run_batch(batch, scope)

    async def _run_batch(self, batch: BatchCall[T], scope: CallScope) -> dict[str, Sourced[T] | VendorError]:
        trace = Trace()
        item_keys = {k: self.item_key(batch.operation, k) for k in batch.keys}
        entries = (await self.cache.get_many(list(item_keys.values()), batch.item_type, fresh_s=self.windows.fresh_s)
                   if self.windows.keep_s > 0 else {})
        answers: dict[str, Sourced[T] | VendorError] = {}
        missing: list[str] = []
        now = time.time()
        for k, ck in item_keys.items():
            entry = entries.get(ck)
            if entry is not None:
                age = entry.age_s(now)
                if self.windows.fresh(age) and not (batch.must_refresh and batch.must_refresh(entry.value)):
                    answers[k] = Sourced(entry.value, Freshness(Source.CACHE, int(age * 1000), self.vendor))
                    continue
            missing.append(k)
        if not missing:
            self._record(scope, trace, batch.operation, Outcome.CACHE, Source.CACHE)
            return answers
        call = batch.build(missing)
        started = time.time()
        try:
            self._spend(scope, call.operation)
            fetched = await self._fetch_once(call, scope.deadline, trace, store=False)
        except VendorError as exc:
            stood = self._settle_failure(scope, trace, call.operation, exc,
                                         {k: entries.get(item_keys[k]) for k in missing})
            for k in missing:
                answers[k] = stood[k] or exc
            return answers
        values: dict[str, T] = fetched.value
        await self.cache.put_many({item_keys[k]: v for k, v in values.items()  # not what an event just replaced
                                   if not self.cache.forgotten_since(item_keys[k], (), started)},
                                  batch.item_type, keep_s=self.windows.keep_s, stored_at=fetched.stored_at,
                                  started=started)
        for k in missing:
            answers[k] = Sourced(values[k], Freshness(Source.LIVE, 0, self.vendor)) if k in values else VendorTimeout(
                self.vendor, f"{batch.operation}: no answer for {k}")
        self._record(scope, trace, call.operation, Outcome.LIVE, Source.LIVE)
        return answers

    # ------------------------------------------------------------------ fallback and bookkeeping

    def _settle_failure(self, scope: CallScope, trace: Trace, operation: str, exc: VendorError,
                        held: dict[str, Entry[Any] | None]) -> dict[str, Sourced[Any] | None]:
        """The one place a failed call is settled, for one key or a batch of them: each key's last good
        answer stands in if it is young enough (STALE, with its age), and the call is recorded once, as
        STALE if anything stood in (an event on its span, a log line, `bezel_vendor_fallbacks_total`),
        else as what went wrong. A refused input has no stand-in: the input is wrong, not the vendor."""
        if isinstance(exc, VendorRejectedInput):
            self._record(scope, trace, operation, Outcome.BAD_INPUT, None, detail=str(exc))
            return dict.fromkeys(held)
        now = time.time()
        stood: dict[str, Sourced[Any] | None] = {}
        served: list[Entry[Any]] = []
        for key, entry in held.items():
            stood[key] = None
            if entry is not None and self.windows.may_stand_in(age := entry.age_s(now)):
                stood[key] = Sourced(entry.value, Freshness(Source.STALE, int(age * 1000), self.vendor))
                served.append(entry)
        if not served:
            self._record(scope, trace, operation, exc.outcome, None, detail=str(exc))
            log.warning("vendor call failed", extra={"vendor": self.vendor, "operation": operation,
                                                      "outcome": exc.outcome, "detail": str(exc)})
            return stood
        oldest = max(served, key=lambda e: e.age_s(now))
        age = oldest.age_s(now)
        event("fallback", {"bezel.failure": exc.outcome, "bezel.cache.age_ms": int(age * 1000),
                           "bezel.keys": len(served)})
        log.info("serving %d stale %s answer(s) (the oldest %.0f ms old): %s", len(served), self.vendor,
                 age * 1000, exc)
        self._record(scope, trace, operation, Outcome.STALE, Source.STALE, age, oldest.tier, detail=str(exc))
        return stood

    def _spend(self, scope: CallScope, operation: str, claims: list[Claim] | None = None) -> None:
        if not scope.spend(self.vendor):
            self._let_go(claims)
            raise OverQuota(self.vendor, f"{operation}: this request's {scope.quota} calls to the vendor are spent")

    def _record(self, scope: CallScope, trace: Trace, operation: str, outcome: Outcome, source: Source | None,
                age_s: float = 0.0, tier: str | None = None, *, detail: str = "") -> None:
        record(scope, trace, vendor=self.vendor, operation=operation, outcome=outcome, source=source,
               breaker=self.breaker.state.value, age_s=age_s, tier=tier, detail=detail)

    def _cacheable(self, call: VendorCall[Any]) -> bool:
        return call.idempotent and call.result_type is not None and self.windows.keep_s > 0

    def _claim(self, call: VendorCall[Any], claims: list[Claim]) -> Callable[[], Awaitable[bytes | None]]:
        """The shared-tier read for `call`'s key that also takes the key's lease when there is no entry
        (one round trip), keeping what it found in `claims`: the lease goes to the call that follows."""
        assert self.shared is not None
        shared = self.shared

        async def read() -> bytes | None:
            claim = await shared.read_or_lease(call.cache_key, self.flight_deadline().remaining_s() + 1.0)
            claims.append(claim)
            return claim.payload

        return read

    def _let_go(self, claims: list[Claim] | Claim | None) -> None:
        """Give back a lease that no call will use (in the background: nothing waits for it)."""
        for claim in claims if isinstance(claims, list) else [claims]:
            if claim is not None and claim.permit is not None and self.shared is not None:
                self._in_background(self.shared.let_go(claim.permit))

    def _revalidate(self, call: VendorCall[Any], claim: Claim | None = None) -> None:
        """Refresh a key in the background, once, while its slightly old answer is being served."""
        key = call.cache_key
        if key in self._refreshing:
            self._let_go(claim)
            return
        task = asyncio.ensure_future(self._fetch_once(call, Deadline.after_ms(self.config.timeout_ms), Trace(),
                                                      claim=claim))
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

    async def _fetch_once(self, call: VendorCall[T], deadline: Deadline, trace: Trace, *,
                          store: bool = True, max_age_s: float | None = None, claim: Claim | None = None) -> _Fetched:
        """The one call for the call's key in this process (and, with Redis, across processes). `claim`:
        what this request's shared-tier read found (the lease, if it took it), for the call to use."""
        if deadline.remaining_s() <= 0:
            self._let_go(claim)
            raise VendorTimeout(self.vendor, f"{call.operation}: request budget already spent")
        if not call.idempotent:  # a write runs once, for this request, under this request's deadline
            return _Fetched(await self.attempts.send(call, deadline, trace), Source.LIVE, time.time())

        async def lead() -> _Fetched:
            return await self._fetch(call, self.flight_deadline(), trace, store=store, max_age_s=max_age_s,
                                     claim=claim)

        # A request that takes nothing older than `max_age_s` does not join a flight that may take older.
        key = call.cache_key if max_age_s is None else f"{call.cache_key}|{max_age_s}"
        if self.flights.running(key):  # joining this process's call: it has its own lease
            self._let_go(claim)
        try:
            fetched, leader = await self.flights.do(key, lead, wait_s=deadline.remaining_s())
        except TimeoutError as exc:
            raise VendorTimeout(self.vendor, f"{call.operation}: {exc}") from exc
        trace.shared = trace.shared or not leader
        return fetched

    async def _fetch(self, call: VendorCall[T], deadline: Deadline, trace: Trace, *, store: bool,
                     max_age_s: float | None = None, claim: Claim | None = None) -> _Fetched:
        """Call the vendor (unless another process is already doing it) and store a cacheable answer."""
        cacheable = store and self._cacheable(call)
        started = time.time()
        if self.shared is None or not cacheable:
            self._let_go(claim)
            fetched = _Fetched(await self.attempts.send(call, deadline, trace), Source.LIVE, time.time())
            if cacheable and (tags := self._storable(call, fetched.value, started)) is not None:
                await self.cache.put(call.cache_key, fetched.value, call.result_type, keep_s=self.windows.keep_s,
                                     stored_at=fetched.stored_at, tags=tags, started=started)
            return fetched
        shared = self.shared
        ttl_s = deadline.remaining_s() + 1.0
        # One round trip: the shared entry (another process may have answered since our cache read), or,
        # when there is none, the lease to call the vendor; the request's own cache read did that already.
        claim = claim or await shared.read_or_lease(call.cache_key, ttl_s)
        permit = claim.permit
        if claim.payload is not None:
            peer = self._fresh(self.cache.adopt(call.cache_key, claim.payload, call.result_type), max_age_s)
            if peer is not None:
                trace.shared = True
                return _Fetched(peer.value, Source.CACHE, peer.stored_at)
            permit = await shared.acquire(call.cache_key, ttl_s)  # too old to serve: refresh it
        while permit is None:  # another process is calling: wait for its answer in the shared tier
            peer = await shared.wait_for_peer(call.cache_key, lambda: self._fresh_shared(call, max_age_s),
                                              deadline.remaining_s())
            if peer is not None:
                trace.shared = True
                return _Fetched(peer.value, Source.CACHE, peer.stored_at)
            if deadline.remaining_s() <= 0:
                break
            # It let go with no answer (its call failed, or its lease was handed back): take the lease,
            # so one of the processes that waited calls, not each of them; else wait for whoever took it.
            permit = await shared.acquire(call.cache_key, ttl_s)
        try:
            fetched = _Fetched(await self.attempts.send(call, deadline, trace), Source.LIVE, time.time())
        except BaseException:
            if permit is not None:
                self._in_background(shared.let_go(permit))
            raise
        # Answer the waiters now; the shared write, then the lease's release, follow (with the request's
        # other writes when the page is answered: `connectors.sharedwrites`).
        tags = self._storable(call, fetched.value, started)
        if tags is not None:
            self.cache.put_local(call.cache_key, fetched.value, keep_s=self.windows.keep_s,
                                 stored_at=fetched.stored_at, tags=tags)

        async def publish() -> None:
            keep_s = self.windows.keep_s
            if permit is not None and tags == ():  # untagged: the write goes with the release, one round trip
                payload = encode(fetched.value, call.result_type, fetched.stored_at, fetched.stored_at + keep_s)
                await shared.release(permit, payload, keep_s,
                                     unless=lambda: self.cache.forgotten_since(call.cache_key, (), started))
                return
            if tags is not None:
                await self.cache.put(call.cache_key, fetched.value, call.result_type, keep_s=keep_s,
                                     stored_at=fetched.stored_at, tags=tags, started=started)
            if permit is not None:
                await shared.release(permit)

        self._in_background(publish())
        return fetched

    def item_key(self, operation: str, key: str) -> str:
        """Where one answer of a batch (`BatchCall`) is cached: an event may replace it there."""
        return f"{self.vendor}:{operation}:{key}"

    async def replace_item(self, operation: str, key: str, value: Any, item_type: Any, *, stored_at: float) -> None:
        """An event's value for one batched answer, in both tiers, as if the vendor had just said it (what
        the vendor said before is forgotten first, and an answer in flight from before is not stored)."""
        cache_key = self.item_key(operation, key)
        held = await self.cache.get(cache_key, item_type)
        if held is not None and held.stored_at > stored_at:  # read after the change: it knows as much or more
            return
        await self.cache.forget(keys=[cache_key])
        await self.cache.put(cache_key, value, item_type, keep_s=self.windows.keep_s, stored_at=stored_at)

    def _storable(self, call: VendorCall[Any], value: Any, started: float) -> tuple[str, ...] | None:
        """The answer's tags if it may be stored; None if an event dropped its key or one of its tags
        since the call started (the answer may predate the change it announced)."""
        tags: tuple[str, ...] = ()
        if call.tags is not None:
            try:
                tags = tuple(call.tags(value))
            except Exception:  # a tagging bug must not cost the answer; the TTL still bounds it
                log.exception("could not tag a %s answer", call.operation)
        return None if self.cache.forgotten_since(call.cache_key, tags, started) else tags

    def _in_background(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _fresh_shared(self, call: VendorCall[Any], max_age_s: float | None = None) -> Entry[Any] | None:
        return self._fresh(await self.cache.get_shared(call.cache_key, call.result_type), max_age_s)

    def _fresh(self, entry: Entry[Any] | None, max_age_s: float | None) -> Entry[Any] | None:
        if entry is None:
            return None
        age = entry.age_s()
        return entry if self.windows.fresh(age) and (max_age_s is None or age <= max_age_s) else None

"""`bezel worker`: consumer groups that sync orders downstream, and the stock counters' upkeep.

One consumer group per downstream system (erp, wms, crm, insurance) reads the order stream at its
own pace. An entry is acknowledged when its system has the order; a failure leaves it pending and it
is retried with exponential backoff (the same mechanism reclaims the entries of a crashed consumer,
whose pending entries simply grow idle); after `max_deliveries` it moves to the dead-letter stream
and the order shows that system FAILED. Alongside: expired reservations are swept, and the stock
counters are reconciled with the ERP (mismatches counted and logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from connectors.checkout import CheckoutStore, CheckoutUnavailable, StreamEntry
from connectors.config import WorkerConfig
from connectors.errors import VendorError, VendorHTTPError, VendorRejected, VendorUnavailable
from connectors.models import DownstreamState, SyncStatus
from connectors.policy import CallScope, Deadline
from connectors.telemetry import (
    INVENTORY_MISMATCHES,
    SYNC_DELAY,
    SYNC_OUTCOMES,
    context_from,
    report_queues,
    tracer,
)
from resolvers.context import Services
from resolvers.fulfillment import SYSTEMS, NotSyncable, sync

log = logging.getLogger("bezel.worker")
SKU_BATCH = 200


def consumer_name(group: str) -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{group}"


class GroupWorker:
    """Pulls one consumer group's entries and syncs each order to that group's system."""

    def __init__(self, services: Services, store: CheckoutStore, group: str, config: WorkerConfig, *,
                 consumer: str | None = None) -> None:
        if group not in SYSTEMS:
            raise ValueError(f"unknown consumer group {group!r}; use {', '.join(SYSTEMS)}")
        self.services = services
        self.store = store
        self.group = group
        self.config = config
        self.consumer = consumer or consumer_name(group)
        self.synced = 0
        self.failed = 0
        self.dead = 0

    def backoff_ms(self, deliveries: int) -> float:
        return min(self.config.retry_backoff_max_ms, self.config.retry_backoff_ms * 2 ** max(0, deliveries - 1))

    def _due(self, idle_ms: int, deliveries: int, owner: str) -> bool:
        if owner == self.consumer:  # our own failure: retry after its backoff
            return idle_ms >= self.backoff_ms(deliveries)
        # Someone else's: only once it has been idle longer than any live worker takes over one entry.
        return idle_ms >= max(self.config.claim_idle_ms, self.backoff_ms(deliveries))

    async def run(self, stop: asyncio.Event) -> None:
        await self._retrying(self.store.ensure_group, self.group, stop=stop)
        log.info("consumer %s reading group %s", self.consumer, self.group)
        while not stop.is_set():
            try:
                await self.step()
            except CheckoutUnavailable as exc:
                log.warning("worker %s: redis unavailable (%s); retrying", self.group, exc)
                await _sleep_unless(stop, 1.0)

    @property
    def system_up(self) -> bool:
        return self.services.vendors.policies[self.group].breaker.allows_calls()

    async def step(self) -> int:
        """One round: due retries and crashed consumers' entries first, then new ones. Returns how many."""
        if not self.system_up:
            # The system is down (its breaker is open): leave entries where they are; they wait, and catch
            # up when it returns, without using up their attempts on calls that would fail fast.
            await asyncio.sleep(self.config.block_ms / 1000)
            return 0
        entries = await self.store.claim_due(self.group, self.consumer, min_idle_ms=self.config.retry_backoff_ms,
                                             due=self._due, count=self.config.batch_size)
        block = None if entries else self.config.block_ms  # (BLOCK 0 would mean "forever" to Redis)
        entries += await self.store.read_new(self.group, self.consumer, count=self.config.batch_size, block_ms=block)
        outcomes = await asyncio.gather(*(self.handle(entry) for entry in entries), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome  # Redis trouble: the entries stay pending and are retried
        return len(entries)

    async def handle(self, entry: StreamEntry) -> None:
        """Sync one entry's order, in a span that continues the checkout's trace (its traceparent)."""
        with tracer.start_as_current_span(
            f"sync {self.group}", context=context_from(entry.fields.get("traceparent")), kind=SpanKind.CONSUMER,
            attributes={"bezel.system": self.group, "bezel.order.id": entry.fields.get("order_id", ""),
                        "bezel.stream.entry": entry.id, "bezel.stream.deliveries": entry.deliveries},
        ):
            await self._handle(entry)

    async def _handle(self, entry: StreamEntry) -> None:
        order_id = entry.fields.get("order_id", "")
        try:
            found = await self.store.order(order_id) if order_id else None
        except CheckoutUnavailable:
            raise
        except Exception as exc:  # an unreadable order record: poison, like a missing one
            log.exception("order %s: unreadable record", order_id)
            found, missing = None, f"unreadable order ({type(exc).__name__})"
        else:
            missing = "no such order"
        if found is None:
            await self._failed(entry, order_id, missing, attempts=entry.deliveries, retriable=True, has_order=False)
            return
        order, _ = found
        if self.group not in order.downstream_systems:
            await self.store.ack(self.group, entry.id)  # e.g. an uninsured order and the insurance group
            return
        if not self.system_up:
            return  # left pending: taken up again once the system is back
        states = await self.store.sync_states(order_id)
        attempts = (states[self.group].attempts if self.group in states else 0) + 1
        try:
            await sync(self.services, self.store, self.group, order)
        except VendorUnavailable as exc:
            if exc.outcome in {"circuit_open", "rejected"}:
                return  # not called at all (breaker, bulkhead): no attempt spent, left pending
            await self._failed(entry, order_id, _reason(exc), attempts=attempts, retriable=True)
            return
        except (VendorRejected, NotSyncable) as exc:  # the system refuses this order as it is: retrying won't help
            await self._failed(entry, order_id, _reason(exc), attempts=attempts, retriable=False)
            return
        except CheckoutUnavailable:
            raise
        except Exception as exc:
            log.exception("order %s: %s sync failed unexpectedly", order_id, self.group)
            await self._failed(entry, order_id, type(exc).__name__, attempts=attempts, retriable=True)
            return
        await self.store.set_sync(order_id, DownstreamState(self.group, SyncStatus.SYNCED, attempts, None,
                                                            time.time()))
        await self.store.ack(self.group, entry.id)
        self.synced += 1
        SYNC_OUTCOMES.add(1, {"system": self.group, "result": "synced"})
        SYNC_DELAY.record(max(0.0, time.time() - order.created_at), {"system": self.group})

    async def _failed(self, entry: StreamEntry, order_id: str, reason: str, *, attempts: int, retriable: bool,
                      has_order: bool = True) -> None:
        """Record a failed attempt; dead-letter the entry after `max_deliveries` attempts (or at once if
        retrying cannot help)."""
        self.failed += 1
        span = trace.get_current_span()
        span.set_status(StatusCode.ERROR, reason)
        if not retriable or attempts >= self.config.max_deliveries:
            await self.store.dead_letter(self.group, entry, reason)
            self.dead += 1
            span.add_event("dead_letter", {"bezel.reason": reason, "bezel.attempts": attempts})
            SYNC_OUTCOMES.add(1, {"system": self.group, "result": "dead_lettered"})
            log.error("order %s: %s gave up after %d attempt(s) (%s); entry %s moved to the dead-letter stream",
                      order_id or "?", self.group, attempts, reason, entry.id)
            if has_order:
                await self.store.set_sync(order_id, DownstreamState(self.group, SyncStatus.FAILED, attempts,
                                                                    reason, time.time()))
            return
        SYNC_OUTCOMES.add(1, {"system": self.group, "result": "failed"})
        span.add_event("retry_scheduled", {"bezel.reason": reason, "bezel.attempts": attempts})
        log.warning("order %s: %s attempt %d failed (%s); retrying in %.1fs", order_id or "?", self.group,
                    attempts, reason, self.backoff_ms(entry.deliveries) / 1000)
        if has_order:
            await self.store.set_sync(order_id, DownstreamState(self.group, SyncStatus.PENDING, attempts, reason,
                                                                time.time()))

    async def _retrying(self, fn: Callable[..., Awaitable[object]], *args: object, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await fn(*args)
                return
            except CheckoutUnavailable as exc:
                log.warning("worker %s: waiting for redis (%s)", self.group, exc)
                await _sleep_unless(stop, 1.0)


def _reason(exc: BaseException) -> str:
    """A short reason for the order's sync state: the outcome, never a vendor's body."""
    if isinstance(exc, VendorRejected):
        return f"refused by {exc.vendor}" + (f" ({exc.code})" if exc.code else "")
    if isinstance(exc, VendorUnavailable):
        cause = exc.__cause__
        if isinstance(cause, VendorHTTPError):
            return f"{exc.outcome} (HTTP {cause.status})"
        return exc.outcome
    if isinstance(exc, VendorHTTPError):
        return f"error (HTTP {exc.status})"
    if isinstance(exc, VendorError):
        return exc.outcome
    return str(exc)


class StockKeeper:
    """Sweeps expired reservations and reconciles counters with the ERP."""

    def __init__(self, services: Services, store: CheckoutStore, config: WorkerConfig) -> None:
        self.services = services
        self.store = store
        self.config = config
        self.mismatches = 0
        self.seeded = 0
        self.skipped = 0

    async def sweep(self) -> int:
        returned = await self.store.reclaim_expired()
        if returned:
            log.info("returned %d expired reservation(s) to stock", returned)
        return returned

    async def all_skus(self) -> list[str]:
        vendors = self.services.vendors
        policy = vendors.policies["catalog"]
        skus: list[str] = []
        after: str | None = None
        while True:
            page = (await policy.run(vendors.catalog.product_page(50, after),
                                     CallScope(Deadline.after_ms(5_000)))).value
            skus += [v.sku for p in page.products for v in p.variants]
            if not page.has_next_page or not page.products:
                return skus
            after = page.products[-1].id

    async def reconcile(self) -> int:
        """Compare every counter with the ERP's available-to-promise; returns the mismatches found."""
        with tracer.start_as_current_span("stock reconcile") as span:
            found = await self._reconcile()
            span.set_attributes({"bezel.mismatches": found, "bezel.seeded": self.seeded})
        return found

    async def _reconcile(self) -> int:
        vendors = self.services.vendors
        policy = vendors.policies["erp"]
        skus = await self.all_skus()
        found = 0
        for start in range(0, len(skus), SKU_BATCH):
            chunk = skus[start:start + SKU_BATCH]
            marks = await self.store.commit_marks(chunk)  # before asking the ERP: see store.reconcile
            records = (await policy.run(vendors.erp.available_to_promise(chunk),
                                        CallScope(Deadline.after_ms(5_000)))).value
            changes = await self.store.reconcile({sku: r.available for sku, r in records.items()}, marks)
            for sku, change in changes.items():
                if change.before is None:
                    self.seeded += 1
                elif change.skipped:
                    self.skipped += 1
                elif change.before != change.after:
                    found += 1
                    INVENTORY_MISMATCHES.add(1)
                    log.warning("stock mismatch for %s: counter %d, ERP says %d available after holds; corrected",
                                sku, change.before, change.after)
        self.mismatches += found
        return found

    async def run(self, stop: asyncio.Event) -> None:
        next_reconcile = 0.0
        while not stop.is_set():
            try:
                await self.sweep()
                if time.monotonic() >= next_reconcile:
                    found = await self.reconcile()
                    log.info("stock reconciled: %d mismatch(es)", found)
                    next_reconcile = time.monotonic() + self.config.reconcile_interval_s
            except (CheckoutUnavailable, VendorError, VendorUnavailable) as exc:
                log.warning("stock upkeep skipped this round: %s", exc)
            await _sleep_unless(stop, self.config.janitor_interval_s)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_workers(services: Services, store: CheckoutStore, config: WorkerConfig, stop: asyncio.Event) -> None:
    """Every configured consumer group, the stock keeper and the queue gauges, until `stop` is set."""
    tasks = [GroupWorker(services, store, group, config).run(stop) for group in config.consumers]
    tasks.append(StockKeeper(services, store, config).run(stop))
    tasks.append(watch_queues(store, config.consumers, stop))
    await asyncio.gather(*tasks)


async def watch_queues(store: CheckoutStore, groups: list[str], stop: asyncio.Event, every_s: float = 5.0) -> None:
    """Keep the queue gauges (pending, lag per group; dead letters) current for /metrics and OTLP."""
    while not stop.is_set():
        try:
            report_queues({group: await store.group_lag(group) for group in groups}, await store.dead_letter_count())
        except CheckoutUnavailable as exc:
            log.debug("queue stats unavailable: %s", exc)
        await _sleep_unless(stop, every_s)

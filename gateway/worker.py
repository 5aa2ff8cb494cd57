"""`bezel worker`: consumer groups that sync orders downstream, and the stock counters' upkeep.

One consumer group per downstream system (erp, wms, crm, insurance) reads the order stream at its
own pace. An entry is acknowledged when its system has the order; a failure leaves it pending and it
is retried with exponential backoff (the same mechanism reclaims the entries of a crashed consumer,
whose pending entries simply grow idle); after `max_deliveries` it moves to the dead-letter stream
and the order shows that system FAILED. An entry put back by `bezel orders redrive` names its one system;
the other groups acknowledge it without calling anything. Alongside run the stock and queue upkeep
(`gateway.upkeep`).

Redis may lose the stream under a running worker (a restart without persistence, a failover to a replica
without it) or a consumer group (XGROUP DESTROY), while the orders stay. Every read then fails with NOGROUP,
and the next checkout recreates the stream but not its groups, so nothing would end it. A worker that
finds its group gone recreates it (from the stream's start) and puts back every order its system is still
owed and has no entry for (`connectors.checkout.requeue`), counted and logged; it does the same once at
start, for a stream lost while no worker ran. An order its system has already (SYNCED) is acknowledged
without calling anything, so a group re-reading a kept stream from its start sends nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from connectors.checkout import CheckoutStore, StreamEntry
from connectors.checkout.requeue import Requeued
from connectors.checkout.stream import GroupMissing
from connectors.config import WorkerConfig
from connectors.errors import (
    CheckoutUnavailable,
    OrderNotSyncable,
    VendorError,
    VendorHTTPError,
    VendorRejectedInput,
    VendorUnavailable,
)
from connectors.events import Invalidation
from connectors.models import DownstreamState, DownstreamSystem, SyncStatus
from connectors.retry import Backoff, retry
from connectors.telemetry import Counter, context_from, current_traceparent, meter, series_of, tracer
from gateway.upkeep import StockKeeper, sleep_unless, watch_queues
from resolvers.context import Services
from resolvers.order_sync import sync

log = logging.getLogger("bezel.worker")
SYNC_DELAY = meter.create_histogram(
    "bezel.order.sync.delay", unit="s", description="From order confirmation to a downstream system having it.",
    explicit_bucket_boundaries_advisory=[0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
)
SYNC_RESULTS = ("synced", "failed", "dead_lettered")
SYNC_OUTCOMES = Counter(
    "bezel.order.sync.attempts", description="Downstream sync attempts by system and result (synced, failed, "
                                             "dead_lettered).")
RECOVERIES = Counter(
    "bezel.order.stream.recoveries", description="Consumer groups found gone (the order stream or the group lost "
                                                 "in Redis) and recreated, by system.")
REQUEUED = Counter(
    "bezel.order.stream.requeued", description="Orders put back on the order stream for a system that was owed "
                                               "them and had no entry left, by system.")


# How often a worker asks again while Redis is down.
REDIS_WAIT = Backoff(initial_s=1.0, max_s=1.0)


def consumer_name(group: str) -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{group}"


class GroupWorker:
    """Pulls one consumer group's entries and syncs each order to that group's system."""

    def __init__(self, services: Services, store: CheckoutStore, group: DownstreamSystem, config: WorkerConfig, *,
                 consumer: str | None = None) -> None:
        self.vendors = services.vendors
        self.bus = services.bus  # live order pages learn each state change (`resolvers.live`)
        self.store = store
        self.group = DownstreamSystem(group)
        self.config = config
        self.consumer = consumer or consumer_name(group)
        # Put back what the system is owed before the next read: at start (the stream may have been lost while
        # no worker ran), and after the group was found gone until that is done (Redis may fail halfway).
        self.requeue_due = True
        # A failed order is taken back from the stream on this schedule: the entry waits in Redis, not here.
        self.backoff = Backoff(config.retry_backoff_ms / 1000, config.retry_backoff_max_ms / 1000)
        # This group's counters, at 0 from now on, on the process that syncs it.
        SYNC_OUTCOMES.declare(series_of(system=[self.group], result=SYNC_RESULTS))
        RECOVERIES.declare(series_of(system=[self.group]))
        REQUEUED.declare(series_of(system=[self.group]))

    def backoff_ms(self, deliveries: int) -> float:
        return self.backoff.pause_s(deliveries) * 1000

    def _due(self, idle_ms: int, deliveries: int, owner: str) -> bool:
        if owner == self.consumer:  # our own failure: retry after its backoff
            return idle_ms >= self.backoff_ms(deliveries)
        # Someone else's: only once it has been idle longer than any live worker takes over one entry.
        return idle_ms >= max(self.config.claim_idle_ms, self.backoff_ms(deliveries))

    async def run(self, stop: asyncio.Event) -> None:
        async def ensure_group() -> None:
            if not stop.is_set():
                await self.store.stream.ensure_group(self.group)

        await retry(ensure_group, on=_waiting_for_redis, backoff=REDIS_WAIT, attempts=None,
                    sleep=lambda s: sleep_unless(stop, s))
        if stop.is_set():
            return
        log.info("consumer %s reading group %s", self.consumer, self.group)
        while not stop.is_set():
            try:
                await self.step()
            except CheckoutUnavailable as exc:
                log.warning("worker %s: redis unavailable (%s); retrying", self.group, exc)
                await sleep_unless(stop, 1.0)

    @property
    def system_up(self) -> bool:
        return self.vendors.available(self.group.vendor)

    async def step(self) -> int:
        """One round: due retries and crashed consumers' entries first, then new ones. Returns how many.
        A group found gone is recreated and what it was owed put back instead (see `recover`)."""
        try:
            if self.requeue_due:
                done = await self.requeue()
                if done.order_ids:  # at start: lost while no worker read the stream (or a recovery cut short)
                    log.warning("order stream: %d order(s) owed to %s had no entry left; put back (first: %s)",
                                len(done.order_ids), self.group, done.order_ids[0])
            return await self._step()
        except GroupMissing as exc:
            await self.recover(exc)
            return 0

    async def recover(self, lost: GroupMissing) -> Requeued:
        """Redis lost the group (the stream deleted, or the group destroyed) and its entries with it: recreate
        the group and put back every order this system is owed that has no entry left."""
        RECOVERIES.add(1, {"system": self.group})
        self.requeue_due = True  # until it is done: a Redis failure halfway leaves it for the next round
        log.warning("%s; recreating it and putting back what %s is owed", lost.detail, self.group)
        done = await self.requeue()
        log.warning("order stream: consumer group %s recreated; %d order(s) it was owed put back on the stream "
                    "(%d owed to any system, %d stream entries read)", self.group, len(done.order_ids), done.owed,
                    done.scanned)
        return done

    async def requeue(self) -> Requeued:
        """Make sure the group exists, then give every order this system is owed and has no entry for a new
        entry naming the system. Safe beside other workers doing the same: each order is queued once."""
        created = await self.store.stream.ensure_group(self.group)
        with tracer.start_as_current_span(f"requeue {self.group}", attributes={"bezel.system": self.group}) as span:
            done = await self.store.orders.owed.requeue(self.group, traceparent=current_traceparent())
            span.set_attributes({"bezel.requeued": len(done.order_ids), "bezel.owed": done.owed,
                                 "bezel.stream.scanned": done.scanned, "bezel.group.created": created})
        self.requeue_due = False
        if done.order_ids:
            REQUEUED.add(len(done.order_ids), {"system": self.group})
        return done

    async def _step(self) -> int:
        if not self.system_up:
            # The system is down (its breaker is open): leave entries where they are; they wait, and catch
            # up when it returns, without using up their attempts on calls that would fail fast.
            await asyncio.sleep(self.config.block_ms / 1000)
            return 0
        stream, count = self.store.stream, self.config.batch_size
        entries = await stream.claim_due(self.group, self.consumer, min_idle_ms=self.config.retry_backoff_ms,
                                         due=self._due, count=count)
        block = None if entries else self.config.block_ms  # (BLOCK 0 would mean "forever" to Redis)
        entries += await stream.read_new(self.group, self.consumer, count=count, block_ms=block)
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
        if not entry.is_for(self.group):  # redriven for another system (`bezel orders redrive`): not ours
            await self.store.stream.ack(self.group, entry.id)
            return
        order_id = entry.fields.get("order_id", "")
        try:
            found = await self.store.orders.get(order_id) if order_id else None
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
            await self.store.stream.ack(self.group, entry.id)  # e.g. an uninsured order and the insurance group
            return
        current = (await self.store.orders.sync_states(order_id)).get(self.group)
        if current is not None and current.status is SyncStatus.SYNCED:
            # The system has it: a second entry for the order (a group recreated over a kept stream, a requeue
            # racing a sync in flight). Calling again would send it twice.
            await self.store.stream.ack(self.group, entry.id)
            return
        if not self.system_up:
            return  # left pending: taken up again once the system is back
        attempts = (current.attempts if current is not None else 0) + 1
        try:
            await sync(self.vendors, self.store, self.group, order)
        except VendorUnavailable as exc:
            if not exc.outcome.sent:
                return  # not called at all (breaker, bulkhead): no attempt spent, left pending
            await self._failed(entry, order_id, _reason(exc), attempts=attempts, retriable=True)
            return
        except (VendorRejectedInput, OrderNotSyncable) as exc:  # refused as it is: retrying won't help
            await self._failed(entry, order_id, _reason(exc), attempts=attempts, retriable=False)
            return
        except CheckoutUnavailable:
            raise
        except Exception as exc:
            log.exception("order %s: %s sync failed unexpectedly", order_id, self.group)
            await self._failed(entry, order_id, type(exc).__name__, attempts=attempts, retriable=True)
            return
        await self._set_sync(order_id, DownstreamState(self.group, SyncStatus.SYNCED, attempts, None,
                                                            time.time()))
        await self.store.stream.ack(self.group, entry.id)
        SYNC_OUTCOMES.add(1, {"system": self.group, "result": "synced"})
        SYNC_DELAY.record(max(0.0, time.time() - order.created_at), {"system": self.group})

    async def _set_sync(self, order_id: str, state: DownstreamState) -> None:
        """Write one system's sync state, then tell every process (its live order pages)."""
        await self.store.orders.set_sync(order_id, state)
        # Redis down: the publish is skipped (`SharedRedis.call`); a page missing one change hears the next.
        await self.bus.publish(Invalidation(source="checkout", origin_at=time.time(), orders=(order_id,)))

    async def _failed(self, entry: StreamEntry, order_id: str, reason: str, *, attempts: int, retriable: bool,
                      has_order: bool = True) -> None:
        """Record a failed attempt; dead-letter the entry after `max_deliveries` attempts (or at once if
        retrying cannot help)."""
        span = trace.get_current_span()
        span.set_status(StatusCode.ERROR, reason)
        if not retriable or attempts >= self.config.max_deliveries:
            # FAILED before the move: once the dead letter exists, `bezel orders redrive` may reset the state,
            # and a FAILED written after it would undo that.
            if has_order:
                await self._set_sync(order_id, DownstreamState(self.group, SyncStatus.FAILED, attempts,
                                                                    reason, time.time()))
            await self.store.stream.dead_letter(self.group, entry, reason)
            span.add_event("dead_letter", {"bezel.reason": reason, "bezel.attempts": attempts})
            SYNC_OUTCOMES.add(1, {"system": self.group, "result": "dead_lettered"})
            log.error("order %s: %s gave up after %d attempt(s) (%s); entry %s moved to the dead-letter stream",
                      order_id or "?", self.group, attempts, reason, entry.id)
            return
        SYNC_OUTCOMES.add(1, {"system": self.group, "result": "failed"})
        span.add_event("retry_scheduled", {"bezel.reason": reason, "bezel.attempts": attempts})
        log.warning("order %s: %s attempt %d failed (%s); retrying in %.1fs", order_id or "?", self.group,
                    attempts, reason, self.backoff_ms(entry.deliveries) / 1000)
        if has_order:
            await self._set_sync(order_id, DownstreamState(self.group, SyncStatus.PENDING, attempts, reason,
                                                                time.time()))


def _waiting_for_redis(exc: Exception) -> bool:
    if isinstance(exc, CheckoutUnavailable):
        log.warning("worker: waiting for redis (%s)", exc)
        return True
    return False


def _reason(exc: BaseException) -> str:
    """A short reason for the order's sync state: the outcome, never a vendor's body."""
    if isinstance(exc, VendorRejectedInput):
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


async def run_workers(services: Services, store: CheckoutStore, config: WorkerConfig, stop: asyncio.Event) -> None:
    """Every configured consumer group, the stock keeper and the queue gauges, until `stop` is set."""
    tasks = [GroupWorker(services, store, group, config).run(stop) for group in config.consumers]
    tasks.append(StockKeeper(services, store, config).run(stop))
    tasks.append(watch_queues(store, config.consumers, stop))
    await asyncio.gather(*tasks)

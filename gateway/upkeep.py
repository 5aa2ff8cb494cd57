"""Stock and queue upkeep beside the order sync: expired holds swept, counters reconciled with the
ERP (mismatches counted and logged), and the order stream's gauges kept current."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from opentelemetry.metrics import Observation

from connectors.checkout import CheckoutStore
from connectors.config import WorkerConfig
from connectors.errors import CheckoutUnavailable, VendorError, VendorUnavailable
from connectors.events.bus import Invalidation
from connectors.models import DownstreamSystem
from connectors.policy import CallScope, Deadline
from connectors.telemetry import Counter, Gauge, series_of, tracer
from resolvers.context import Services
from resolvers.stock_counters import erp_available, reconcile_from

log = logging.getLogger("bezel.worker")
SKU_BATCH = 200
# Asking the ERP or the catalog for a whole round of stock upkeep: generous, nobody is waiting.
UPKEEP_CALL_MS = 5_000
INVENTORY_MISMATCHES = Counter(
    "bezel.inventory.mismatches",
    description="Stock counters found different from the ERP's numbers by reconciliation (and corrected).")


class StockKeeper:
    """Sweeps expired reservations and reconciles counters with the ERP."""

    def __init__(self, services: Services, store: CheckoutStore, config: WorkerConfig) -> None:
        self.vendors = services.vendors
        self.bus = services.bus
        self.store = store
        self.config = config
        self.seeded = 0  # counters this keeper set for the first time
        INVENTORY_MISMATCHES.declare(series_of())  # at 0 from now on, on the process that reconciles

    async def sweep(self) -> int:
        returned = await self.store.stock.reclaim_expired()
        if returned:
            log.info("returned %d expired reservation(s) to stock", returned)
        return returned

    async def all_skus(self) -> list[str]:
        vendors = self.vendors
        skus: list[str] = []
        after: str | None = None
        while True:
            page = (await vendors.call(vendors.catalog.product_page(50, after),
                                       CallScope(Deadline.after_ms(UPKEEP_CALL_MS)))).value
            skus += [v.sku for p in page.products for v in p.variants]
            if not page.has_next_page or not page.products:
                return skus
            after = page.cursors[-1]  # the catalog's own cursor

    async def reconcile(self) -> int:
        """Compare every counter with the ERP's available-to-promise; returns the mismatches found."""
        with tracer.start_as_current_span("stock reconcile") as span:
            found = await self._reconcile()
            span.set_attributes({"bezel.mismatches": found, "bezel.seeded": self.seeded})
        return found

    async def _reconcile(self) -> int:
        skus = await self.all_skus()
        found = 0
        for start in range(0, len(skus), SKU_BATCH):
            erp = erp_available(self.vendors, CallScope(Deadline.after_ms(UPKEEP_CALL_MS)))
            changes = await reconcile_from(self.store, skus[start:start + SKU_BATCH], erp)
            corrected: list[str] = []
            for sku, change in changes.items():
                if change.before is None:
                    self.seeded += 1
                elif not change.skipped and change.before != change.after:
                    found += 1
                    corrected.append(sku)
                    INVENTORY_MISMATCHES.add(1)
                    log.warning("stock mismatch for %s: counter %d, ERP says %d available after holds; corrected",
                                sku, change.before, change.after)
            if corrected:  # pages read the counters first: open ones and the edge learn as from a sale
                await self.bus.publish(Invalidation(source="reconcile", origin_at=time.time(), skus=corrected))
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
            await sleep_unless(stop, self.config.janitor_interval_s)


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


QUEUE_PENDING = Gauge("bezel.queue.pending",
                      description="Order-stream entries delivered to a consumer group, not yet acknowledged.")
QUEUE_LAG = Gauge("bezel.queue.lag", description="Order-stream entries not yet delivered to a consumer group.")
QUEUE_DEAD_LETTERS = Gauge("bezel.queue.dead_letters", description="Entries in the order dead-letter stream.")


async def watch_queues(store: CheckoutStore, groups: list[DownstreamSystem], stop: asyncio.Event,
                       every_s: float = 5.0) -> None:
    """Keep the queue gauges (pending, lag per group; dead letters) current for /metrics and OTLP, with
    the numbers this watcher last read, for as long as it runs."""
    queues: dict[str, tuple[int, int]] = {}  # group -> (pending, lag)
    dead_letters = [0]
    detach = [
        QUEUE_PENDING.attach(lambda: [Observation(p, {"group": g}) for g, (p, _) in queues.items()]),
        QUEUE_LAG.attach(lambda: [Observation(lag, {"group": g}) for g, (_, lag) in queues.items()]),
        QUEUE_DEAD_LETTERS.attach(lambda: [Observation(dead_letters[0])]),
    ]
    try:
        while not stop.is_set():
            try:
                read = {str(group): await store.stream.group_lag(group) for group in groups}
                dead_letters[0] = await store.stream.dead_letter_count()
                queues.clear()
                queues.update(read)
            except CheckoutUnavailable as exc:
                log.debug("queue stats unavailable: %s", exc)
            await sleep_unless(stop, every_s)
    finally:
        for undo in detach:
            undo()

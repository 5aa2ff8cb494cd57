"""Per-request DataLoaders: batch and de-duplicate vendor reads within one GraphQL request.

A 200-variant ring asks `stock_by_sku` for 200 SKUs in one tick and the inventory vendor gets one
call (up to `MAX_BATCH` SKUs per call); the same handle asked twice is one catalog lookup. Loaders
ask through `Vendors.call`/`call_batch` with the request's scope, like every other vendor read.

Stock is also read from checkout's own counters (what checkout would sell now: a sale or hold on any
process shows on the next read, no TTL, no ERP round trip), beside the inventory call, not after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

from connectors.errors import CheckoutUnavailable, VendorError
from connectors.http import VendorCall
from connectors.inventory import MAX_BATCH
from connectors.models import Sourced, StockLevel
from connectors.policy import CallScope
from connectors.vendors import Vendors

# Reads checkout's counters for SKUs: {sku: units, or None if checkout keeps none}; raises
# CheckoutUnavailable if checkout's Redis does not answer in time.
Counters = Callable[[list[str]], Awaitable[dict[str, int | None]]]
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class StockAnswer:
    """What a request knows of a SKU's stock: the inventory vendor's level (or why not), and checkout's."""

    level: Sourced[StockLevel] | VendorError
    held: int | None = None  # checkout's counter; None: checkout keeps none for this SKU (or none is configured)
    held_unread: bool = False  # checkout's Redis did not answer: the vendor's word alone is not confirmed


class _OneCallPerBatch(DataLoader[str, Sourced[V] | None], Generic[V]):
    """Answers a whole batch of keys with one vendor call that returns a dict by key (None: not there)."""

    def __init__(self, vendors: Vendors, scope: CallScope, build: Callable[[list[str]], VendorCall[dict[str, V]]],
                 max_batch_size: int) -> None:
        super().__init__(max_batch_size=max_batch_size)
        self.vendors = vendors
        self.scope = scope
        self.build = build

    async def batch_load_fn(self, keys: list[str]) -> list[Any]:  # an answer, None or the exception, per key
        try:
            result = await self.vendors.call(self.build(keys), self.scope)
        except Exception as exc:  # every key fails the same way; the loader rejects each future
            return [exc] * len(keys)
        return [Sourced(result.value[k], result.freshness) if k in result.value else None for k in keys]


class StockBySkuLoader(DataLoader[str | tuple[str, ...], Any]):
    """Stock per SKU: cached per SKU, misses and low-stock SKUs asked in one inventory call.

    A key is one SKU, answered `Sourced[StockLevel]` or the `VendorError` that left it without one;
    or a tuple of SKUs (a product's variants), answered with a dict of those by SKU: one future for
    a whole product instead of one per variant (7% of a cached 30-variant page). Keys of one tick
    share calls, at most `MAX_BATCH` SKUs each; a SKU is asked at most once per request, whichever
    way and whenever it was asked (`answered`, and the batches asking right now).
    """

    def __init__(self, vendors: Vendors, scope: CallScope, safety_stock: int, counters: Counters | None = None
                 ) -> None:
        super().__init__()
        self.vendors = vendors
        self.scope = scope
        self.safety_stock = safety_stock
        self.counters = counters
        self.answered: dict[str, Any] = {}  # SKU -> answer, for every SKU this request has had answered
        self._asking: dict[str, asyncio.Future[None]] = {}  # SKU -> the batch asking for it now

    async def batch_load_fn(self, keys: list[str | tuple[str, ...]]) -> list[Any]:
        answered, asking = self.answered, self._asking
        wanted = dict.fromkeys(sku for key in keys for sku in ((key,) if isinstance(key, str) else key))
        waits = {asking[sku] for sku in wanted if sku in asking}
        skus = [sku for sku in wanted if sku not in answered and sku not in asking]
        if skus:
            done = asyncio.get_running_loop().create_future()
            asking.update(dict.fromkeys(skus, done))
            try:
                answered.update(await self._levels(skus))
            except Exception as exc:  # every SKU of the batch fails the same way
                answered.update(dict.fromkeys(skus, exc))
            finally:
                for sku in skus:
                    del asking[sku]
                done.set_result(None)
        if waits:
            await asyncio.gather(*waits)
        return [answered[key] if isinstance(key, str) else {sku: answered[sku] for sku in key} for key in keys]

    async def _levels(self, skus: list[str]) -> dict[str, Any]:
        def below_safety(level: StockLevel) -> bool:  # checked live on every read, however fresh
            return level.available < self.safety_stock

        chunks = [skus[i:i + MAX_BATCH] for i in range(0, len(skus), MAX_BATCH)]
        asked = asyncio.gather(*(
            self.vendors.call_batch(self.vendors.inventory.levels_by_sku(chunk, must_refresh=below_safety),
                                    self.scope)
            for chunk in chunks))
        held: dict[str, int | None] | None = {}
        if self.counters is None:
            parts, unread = await asked, False
        else:
            parts, held = await asyncio.gather(asked, self._held(skus))
            unread = held is None
        levels = {sku: answer for part in parts for sku, answer in part.items()}
        return {sku: StockAnswer(levels[sku], (held or {}).get(sku), unread) for sku in skus}

    async def _held(self, skus: list[str]) -> dict[str, int | None] | None:
        """Checkout's counters, or None if its Redis did not answer in time."""
        assert self.counters is not None
        try:
            return await self.counters(skus)
        except CheckoutUnavailable:
            return None


class ProductIdByVariantLoader(DataLoader[str, str | None]):
    """Which product each variant belongs to: every variant of a tick in one catalog call (`nodes(ids:)`)."""

    def __init__(self, vendors: Vendors, scope: CallScope, client: str = "") -> None:
        super().__init__(max_batch_size=50)
        self.vendors = vendors
        self.scope = scope
        self.client = client

    async def batch_load_fn(self, variant_ids: list[str]) -> list[Any]:
        try:
            found = await self.vendors.call(self.vendors.catalog.products_of_variants(variant_ids, client=self.client),
                                            self.scope)
        except Exception as exc:  # every key fails the same way; the loader rejects each future
            return [exc] * len(variant_ids)
        return [found.value.get(v) for v in variant_ids]


class Loaders:
    """The loaders of one request, created inside the running event loop (aiodataloader needs it)."""

    def __init__(self, vendors: Vendors, scope: CallScope, *, safety_stock: int, counters: Counters | None = None,
                 client: str = "") -> None:
        """`client`: the shopper's address, which the catalog is told (Shopify's buyer IP)."""
        catalog = vendors.catalog
        # Sourced[Product] | None per handle / id.
        self.product_by_handle = _OneCallPerBatch(
            vendors, scope, lambda handles: catalog.products_by_handle(handles, client=client), max_batch_size=50)
        self.product_by_id = _OneCallPerBatch(vendors, scope, lambda ids: catalog.products_by_id(ids, client=client),
                                              max_batch_size=50)
        self.stock_by_sku = StockBySkuLoader(vendors, scope, safety_stock, counters)
        self.product_id_by_variant = ProductIdByVariantLoader(vendors, scope, client)

"""Per-request DataLoaders: batch and de-duplicate vendor reads within one GraphQL request.

A 200-variant ring asks `stock_by_sku` for 200 SKUs in one tick and the inventory vendor gets one
call (up to `MAX_BATCH` SKUs per call); the same handle asked twice is one catalog lookup. Loaders
ask through `Vendors.call`/`call_batch` with the request's scope, like every other vendor read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiodataloader import DataLoader

from connectors.http import VendorCall
from connectors.inventory import MAX_BATCH
from connectors.models import Sourced, StockLevel
from connectors.policy import CallScope
from connectors.vendors import Vendors


class _OneCallPerBatch(DataLoader[str, Any]):
    """Answers a whole batch of keys with one vendor call that returns a dict by key."""

    def __init__(self, vendors: Vendors, scope: CallScope, build: Callable[[list[str]], VendorCall[dict[str, Any]]],
                 max_batch_size: int) -> None:
        super().__init__(max_batch_size=max_batch_size)
        self.vendors = vendors
        self.scope = scope
        self.build = build

    async def batch_load_fn(self, keys: list[str]) -> list[Any]:
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

    def __init__(self, vendors: Vendors, scope: CallScope, safety_stock: int) -> None:
        super().__init__()
        self.vendors = vendors
        self.scope = scope
        self.safety_stock = safety_stock
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
        parts = await asyncio.gather(*(
            self.vendors.call_batch(self.vendors.inventory.levels_by_sku(chunk, must_refresh=below_safety),
                                    self.scope)
            for chunk in chunks))
        return {sku: answer for part in parts for sku, answer in part.items()}


class ProductIdByVariantLoader(DataLoader[str, str | None]):
    """Shopify looks variants up one at a time; the loader still de-duplicates and runs them together."""

    def __init__(self, vendors: Vendors, scope: CallScope) -> None:
        super().__init__(max_batch_size=50)
        self.vendors = vendors
        self.scope = scope

    async def batch_load_fn(self, variant_ids: list[str]) -> list[Any]:
        api = self.vendors.catalog
        results = await asyncio.gather(
            *(self.vendors.call(api.product_id_of_variant(v), self.scope) for v in variant_ids),
            return_exceptions=True,
        )
        return [r if isinstance(r, BaseException) else r.value for r in results]


class Loaders:
    """The loaders of one request, created inside the running event loop (aiodataloader needs it)."""

    def __init__(self, vendors: Vendors, scope: CallScope, *, safety_stock: int) -> None:
        # Sourced[Product] | None per handle / id.
        self.product_by_handle = _OneCallPerBatch(vendors, scope, vendors.catalog.products_by_handle,
                                                  max_batch_size=50)
        self.product_by_id = _OneCallPerBatch(vendors, scope, vendors.catalog.products_by_id, max_batch_size=50)
        self.stock_by_sku = StockBySkuLoader(vendors, scope, safety_stock)
        self.product_id_by_variant = ProductIdByVariantLoader(vendors, scope)

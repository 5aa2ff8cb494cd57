"""Per-request DataLoaders: batch and de-duplicate vendor reads within one GraphQL request.

A 200-variant ring asks `stock_by_sku` for 200 SKUs in one tick and the inventory vendor gets one
call (up to `MAX_BATCH` SKUs per call); the same handle asked twice is one catalog lookup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiodataloader import DataLoader

from connectors.http import VendorCall
from connectors.inventory import MAX_BATCH
from connectors.models import Sourced, StockLevel

if TYPE_CHECKING:
    from resolvers.context import RequestContext


class _OneCallPerBatch(DataLoader[str, Any]):
    """Answers a whole batch of keys with one vendor call that returns a dict by key."""

    def __init__(self, context: RequestContext, build: Callable[[list[str]], VendorCall[dict[str, Any]]],
                 max_batch_size: int) -> None:
        super().__init__(max_batch_size=max_batch_size)
        self.context = context
        self.build = build

    async def batch_load_fn(self, keys: list[str]) -> list[Any]:
        try:
            result = await self.context.call(self.build(keys))
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

    def __init__(self, context: RequestContext) -> None:
        super().__init__()
        self.context = context
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
        services = self.context.services
        policy = services.vendors.policies["inventory"]

        def levels(chunk: list[str]) -> Awaitable[dict[str, Any]]:
            return policy.run_batch(
                "levels", chunk, services.vendors.inventory.levels, StockLevel, self.context.scope,
                must_refresh=lambda level: level.available < services.safety_stock,
            )

        if len(skus) <= MAX_BATCH:
            return await levels(skus)
        answers: dict[str, Any] = {}
        for part in await asyncio.gather(*(levels(skus[i:i + MAX_BATCH]) for i in range(0, len(skus), MAX_BATCH))):
            answers.update(part)
        return answers


class ProductIdByVariantLoader(DataLoader[str, str | None]):
    """Shopify looks variants up one at a time; the loader still de-duplicates and runs them together."""

    def __init__(self, context: RequestContext) -> None:
        super().__init__(max_batch_size=50)
        self.context = context

    async def batch_load_fn(self, variant_ids: list[str]) -> list[Any]:
        api = self.context.services.vendors.catalog
        results = await asyncio.gather(
            *(self.context.call(api.product_id_of_variant(v)) for v in variant_ids), return_exceptions=True
        )
        return [r if isinstance(r, BaseException) else r.value for r in results]


class Loaders:
    """The loaders of one request, created inside the running event loop (aiodataloader needs it)."""

    def __init__(self, context: RequestContext) -> None:
        vendors = context.services.vendors
        # Sourced[Product] | None per handle / id.
        self.product_by_handle = _OneCallPerBatch(context, vendors.catalog.products_by_handle, max_batch_size=50)
        self.product_by_id = _OneCallPerBatch(context, vendors.catalog.products_by_id, max_batch_size=50)
        self.stock_by_sku = StockBySkuLoader(context)
        self.product_id_by_variant = ProductIdByVariantLoader(context)

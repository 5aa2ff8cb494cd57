"""Per-request DataLoaders: batch and de-duplicate vendor reads within one GraphQL request.

Named `<Entity>By<Key>Loader` as in Saleor. A 200-variant ring asks `StockBySkuLoader` for 200
SKUs in one tick and the inventory vendor gets one call (up to `MAX_BATCH` SKUs per call).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiodataloader import DataLoader

from connectors.inventory import MAX_BATCH
from connectors.models import Product, Sourced, StockLevel

if TYPE_CHECKING:
    from resolvers.context import RequestContext


def _each(result: Sourced[dict[str, Any]], keys: Sequence[str]) -> list[Sourced[Any] | None]:
    """Split one batch answer into one `Sourced` per key, sharing the batch's freshness."""
    return [Sourced(result.value[k], result.freshness) if k in result.value else None for k in keys]


class ProductByHandleLoader(DataLoader[str, Sourced[Product] | None]):
    def __init__(self, context: RequestContext) -> None:
        super().__init__(max_batch_size=50)
        self.context = context

    async def batch_load_fn(self, handles: list[str]) -> list[Any]:
        api = self.context.services.vendors.catalog
        try:
            result = await self.context.call(api.products_by_handle(handles))
        except Exception as exc:  # every key fails the same way; the loader rejects each future
            return [exc] * len(handles)
        return _each(result, handles)


class ProductByIdLoader(DataLoader[str, Sourced[Product] | None]):
    def __init__(self, context: RequestContext) -> None:
        super().__init__(max_batch_size=50)
        self.context = context

    async def batch_load_fn(self, ids: list[str]) -> list[Any]:
        api = self.context.services.vendors.catalog
        try:
            result = await self.context.call(api.products_by_id(ids))
        except Exception as exc:
            return [exc] * len(ids)
        return _each(result, ids)


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


class StockBySkuLoader(DataLoader[str, Sourced[StockLevel]]):
    def __init__(self, context: RequestContext) -> None:
        super().__init__(max_batch_size=MAX_BATCH)
        self.context = context

    async def batch_load_fn(self, skus: list[str]) -> list[Any]:
        api = self.context.services.vendors.inventory
        try:
            result = await self.context.call(api.levels(skus))
        except Exception as exc:
            return [exc] * len(skus)
        return _each(result, skus)


class Loaders:
    """The loaders of one request, created inside the running event loop (aiodataloader needs it)."""

    def __init__(self, context: RequestContext) -> None:
        self.product_by_handle = ProductByHandleLoader(context)
        self.product_by_id = ProductByIdLoader(context)
        self.product_id_by_variant = ProductIdByVariantLoader(context)
        self.stock_by_sku = StockBySkuLoader(context)

"""The request context over real services: its deadline and per-vendor quota, calls through the vendors'
policies, the first partial failure per key, and loaders reading checkout's counters only where there is a store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.errors import OverQuota, VendorUnavailable
from connectors.models import Outcome, Source
from resolvers.context import RequestContext
from tests.support import Shop, shop_in_process

HANDLE = "gold-huggie-hoops"


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        yield shop


def test_a_request_starts_with_its_budget_and_the_services_quota(shop: Shop) -> None:
    ctx = RequestContext.start(shop.services, budget_ms=1500, client="1.2.3.4")
    assert ctx.client == "1.2.3.4"
    assert ctx.scope.quota == shop.services.calls_per_vendor
    assert ctx.scope.deadline.budget_ms == 1500
    assert shop.services.currency == "USD"


async def test_calls_go_through_the_vendors_policies_and_are_logged(shop: Shop) -> None:
    ctx = RequestContext.start(shop.services, budget_ms=5000)
    answer = await ctx.call(shop.services.vendors.catalog.products_by_handle([HANDLE]))
    assert answer.value[HANDLE].handle == HANDLE
    assert answer.freshness.source is Source.LIVE
    assert "catalog" in ctx.scope.log.summary()
    assert shop.calls("catalog") == 1


async def test_a_request_past_its_quota_is_refused_that_vendor(shop: Shop) -> None:
    shop.services.calls_per_vendor = 1
    ctx = RequestContext.start(shop.services, budget_ms=5000)
    await ctx.call(shop.services.vendors.catalog.products_by_handle(["a"]))
    with pytest.raises(VendorUnavailable) as caught:
        await ctx.call(shop.services.vendors.catalog.products_by_handle(["b"]))
    assert caught.value.outcome is OverQuota.outcome
    assert shop.calls("catalog") == 1


def test_the_first_partial_failure_per_key_is_kept(shop: Shop) -> None:
    ctx = RequestContext.start(shop.services, budget_ms=1000)
    first = VendorUnavailable("inventory", Outcome.TIMEOUT)
    ctx.note_partial("inventory", first)
    ctx.note_partial("inventory", VendorUnavailable("inventory", Outcome.ERROR))
    ctx.note_partial("tax", VendorUnavailable("tax", Outcome.ERROR))
    assert list(ctx.partial_errors) == ["inventory", "tax"]
    assert ctx.partial_errors["inventory"] is first


async def test_loaders_read_checkouts_counters_only_when_there_is_a_store(shop: Shop) -> None:
    await shop.store.stock.reconcile({"SKU-A": 4}, {})
    ctx = RequestContext.start(shop.services, budget_ms=1000)
    counters = ctx.loaders.stock_by_sku.counters
    assert counters is not None
    assert await counters(["SKU-A", "SKU-B"]) == {"SKU-A": 4, "SKU-B": None}
    shop.services.store = None
    assert RequestContext.start(shop.services, budget_ms=1000).loaders.stock_by_sku.counters is None

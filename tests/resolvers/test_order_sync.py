"""Syncing a placed order to each downstream system of the sandbox: one document per order however often it is
sent, the ERP's acknowledgement committing the hold, and an uninsured order refused by the insurer's sync."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.errors import OrderNotSyncable, VendorUnavailable
from connectors.models import DownstreamSystem
from resolvers.order_sync import sync
from tests.connectors.checkout.conftest import order
from tests.support import Shop, shop_in_process


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        yield shop


def received(shop: Shop, vendor: str) -> list[str]:
    return sorted(shop.sandbox.sandbox.received.get(vendor, {}))


async def test_the_erp_gets_one_sales_order_and_the_hold_is_committed(shop: Shop) -> None:
    await shop.store.stock.reconcile({"ADE-S0650": 1}, {})
    await shop.store.stock.reserve("r1", [("ADE-S0650", 1)], ttl_s=60)
    placed = order("ord_1", "r1")
    await sync(shop.services.vendors, shop.store, DownstreamSystem.ERP, placed)
    await sync(shop.services.vendors, shop.store, DownstreamSystem.ERP, placed)  # a redelivered entry
    assert len(received(shop, "erp")) == 1
    assert await shop.store.stock.commit("r1") is False  # already committed by the sync
    assert await shop.store.stock.release("r1") is False


@pytest.mark.parametrize("system", [DownstreamSystem.WMS, DownstreamSystem.CRM])
async def test_wms_and_crm_each_get_the_order_once(shop: Shop, system: DownstreamSystem) -> None:
    placed = order("ord_1", "r1")
    for _ in range(2):
        await sync(shop.services.vendors, shop.store, system, placed)
    assert len(received(shop, system.value)) == 1


async def test_an_order_without_an_insurance_quote_cannot_be_bound(shop: Shop) -> None:
    with pytest.raises(OrderNotSyncable, match="no insurance quote"):
        await sync(shop.services.vendors, shop.store, DownstreamSystem.INSURANCE, order("ord_1", "r1"))
    assert shop.calls("insurance") == 0


async def test_a_failing_system_raises_for_a_retry_and_keeps_the_hold(shop: Shop) -> None:
    await shop.store.stock.reconcile({"ADE-S0650": 1}, {})
    await shop.store.stock.reserve("r1", [("ADE-S0650", 1)], ttl_s=60)
    shop.fault("erp", status=503)
    with pytest.raises(VendorUnavailable):
        await sync(shop.services.vendors, shop.store, DownstreamSystem.ERP, order("ord_1", "r1"))
    assert await shop.store.stock.commit("r1") is True  # not committed before the ERP acknowledged


"""Looking an order up by its token on a real Redis: a wrong token and an unknown order look the same, and each
downstream system's sync state is shown (PENDING until it says otherwise)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import pytest

from connectors.checkout import done_record
from connectors.errors import CheckoutUnavailable
from connectors.models import DownstreamState, DownstreamSystem, SyncStatus
from resolvers.context import RequestContext
from resolvers.order_lookup import order_for_token
from tests.connectors.checkout.conftest import order
from tests.support import Shop, shop_in_process

ORDER_ID = "ord_0123456789abcdef0123"
TOKEN = "the-buyers-token"


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        placed = order(ORDER_ID, "r1")
        await shop.store.stock.reconcile({"ADE-S0650": 1}, {})
        await shop.store.stock.reserve("r1", [("ADE-S0650", 1)], ttl_s=60)
        assert await shop.store.orders.confirm(placed, token_hash=hashlib.sha256(TOKEN.encode()).hexdigest(),
                                               key_digest="d", idempotency_record=done_record("fp", {}),
                                               idempotency_ttl_s=60, retention_s=60, traceparent="")
        yield shop


def ctx(shop: Shop) -> RequestContext:
    return RequestContext.start(shop.services, budget_ms=2000)


async def test_the_right_token_shows_the_order_and_its_sync_states(shop: Shop) -> None:
    await shop.store.orders.set_sync(ORDER_ID, DownstreamState(DownstreamSystem.WMS, SyncStatus.SYNCED, 1))
    view = await order_for_token(ctx(shop), ORDER_ID, TOKEN)
    assert view is not None
    assert view.order.id == ORDER_ID
    assert [(s.system, s.status) for s in view.downstream] == [
        (DownstreamSystem.ERP, SyncStatus.PENDING), (DownstreamSystem.WMS, SyncStatus.SYNCED),
        (DownstreamSystem.CRM, SyncStatus.PENDING)]


@pytest.mark.parametrize(("order_id", "token"), [
    (ORDER_ID, "wrong"), (ORDER_ID, ""), (ORDER_ID, TOKEN + "x" * 200), ("ord_ffffffffffffffffffff", TOKEN),
    ("ord_0123", TOKEN), ("ORD_0123456789ABCDEF0123", TOKEN), (f"{ORDER_ID}\n", TOKEN),
])
async def test_a_wrong_token_or_id_finds_nothing(shop: Shop, order_id: str, token: str) -> None:
    assert await order_for_token(ctx(shop), order_id, token) is None


async def test_without_an_order_store_lookups_are_unavailable(shop: Shop) -> None:
    shop.services.store = None
    with pytest.raises(CheckoutUnavailable, match="no order store"):
        await order_for_token(ctx(shop), ORDER_ID, TOKEN)

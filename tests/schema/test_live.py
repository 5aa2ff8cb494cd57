"""The Subscription root: `productChanged` answers a page's selection from the state the hub read once
(no stock read per subscriber), the same with the fast path on and off; `orderUpdated` answers as
`order(id, token)` does; the hub's refusals reach the client as coded errors."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.events import Invalidation
from resolvers.context import RequestContext
from schema import build_schema
from tests.resolvers.test_live import BROOCH, BROOCH_SKU, placed_order
from tests.support import Shop, shop_in_process

PRODUCT = """subscription($h: String!) { productChanged(handle: $h) { handle priceRange { minVariantPrice { amount } }
  variants { sku price { amount } availability { status quantityAvailable confirmed path } } } }"""
ORDER = """subscription($id: ID!, $t: String!) {
  orderUpdated(id: $id, token: $t) { id downstream { system status } } }"""


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url, live={"max_per_client": 1}) as shop:
        yield shop


async def messages(shop: Shop, query: str, variables: dict[str, Any], *, fast_path: bool = True,
                   client: str = "203.0.113.1") -> AsyncIterator[Any]:
    schema = build_schema(fast_path=fast_path)
    stream = await schema.subscribe(query, variable_values=variables,
                                    context_value=RequestContext.start(shop.services, budget_ms=2000, client=client))
    async with contextlib.aclosing(stream):  # type: ignore[type-var]
        async for result in stream:  # type: ignore[union-attr]
            yield result


@pytest.mark.parametrize("fast_path", [True, False])
async def test_a_product_message_is_the_page_and_reads_no_stock_of_its_own(shop: Shop, fast_path: bool) -> None:
    stream = messages(shop, PRODUCT, {"h": BROOCH}, fast_path=fast_path)
    first = await asyncio.wait_for(anext(stream), 2)
    assert first.errors is None
    assert first.data["productChanged"]["variants"][0]["availability"]["status"] == "LOW_STOCK"
    calls = shop.calls("inventory")
    shop.sandbox.sandbox.stock[BROOCH_SKU] = 0
    await shop.services.bus.publish(Invalidation(source="test", origin_at=time.time(), skus=(BROOCH_SKU,)))
    second = await asyncio.wait_for(anext(stream), 2)
    assert second.errors is None
    assert second.data["productChanged"]["variants"][0]["availability"] == {
        "status": "OUT_OF_STOCK", "quantityAvailable": 0, "confirmed": True, "path": "LIVE_CHECK"}
    assert shop.calls("inventory") == calls + 1  # the hub's one read; the message itself asked nothing
    await stream.aclose()


async def test_fast_path_on_and_off_send_the_same_messages(shop: Shop) -> None:
    answers = []
    for fast_path in (True, False):
        stream = messages(shop, PRODUCT, {"h": BROOCH}, fast_path=fast_path)
        answers.append((await asyncio.wait_for(anext(stream), 2)).data)
        await stream.aclose()
    assert answers[0] == answers[1]


async def test_over_a_cap_the_client_gets_a_coded_error(shop: Shop) -> None:
    first = messages(shop, PRODUCT, {"h": BROOCH})
    await anext(first)
    refused = await anext(messages(shop, PRODUCT, {"h": BROOCH}))
    assert refused.errors is not None
    assert refused.errors[0].extensions["code"] == "TOO_MANY_SUBSCRIPTIONS"
    await first.aclose()


async def test_an_order_message_is_what_a_lookup_answers_and_a_wrong_token_is_null(shop: Shop) -> None:
    order_id, token = await placed_order(shop)
    stream = messages(shop, ORDER, {"id": order_id, "t": token})
    first = await asyncio.wait_for(anext(stream), 2)
    assert first.data["orderUpdated"]["id"] == order_id
    assert {d["status"] for d in first.data["orderUpdated"]["downstream"]} == {"PENDING"}
    await stream.aclose()
    wrong = [r.data async for r in messages(shop, ORDER, {"id": order_id, "t": "wrong"})]
    assert wrong == [{"orderUpdated": None}]


async def test_without_a_hub_a_subscription_is_unavailable(shop: Shop) -> None:
    shop.services.live, hub = None, shop.services.live
    try:
        result = await anext(messages(shop, PRODUCT, {"h": BROOCH}))
        assert result.errors is not None
        assert result.errors[0].extensions["code"] == "CHECKOUT_UNAVAILABLE"
    finally:
        shop.services.live = hub

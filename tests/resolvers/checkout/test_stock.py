"""Holding stock for a checkout on a real Redis, counters seeded from the sandbox's ERP (or its inventory vendor
while the ERP is down): OUT_OF_STOCK per short line, scarce stock told apart, holds given back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.checkout import CheckoutStore
from connectors.config import CheckoutConfig, RedisConfig
from connectors.models import Money, OrderLine
from connectors.policy import CallScope, Deadline
from resolvers.checkout.outcome import Stop
from resolvers.checkout.stock import precheck, release, reserve
from tests.support import Shop, shop_in_process


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        yield shop


def line(shop: Shop, handle: str, on_hand: int, quantity: int = 1) -> OrderLine:
    variant = shop.sandbox.sandbox.by_handle[handle].variants[0]
    shop.sandbox.sandbox.stock[variant.sku] = on_hand
    return OrderLine(str(variant.id), "p", variant.sku, handle, quantity, Money.of("100", "USD"))


def scope() -> CallScope:
    return CallScope(Deadline.after_ms(5000))


async def check(shop: Shop, lines: list[OrderLine], safety_stock: int = 3) -> bool:
    return await precheck(shop.services.vendors, scope(), shop.store, lines, safety_stock=safety_stock,
                          offers=shop.services.offers)


async def hold(shop: Shop, reservation: str, lines: list[OrderLine]) -> None:
    await reserve(shop.services.vendors, scope(), shop.store, reservation, lines, ttl_s=60,
                  offers=shop.services.offers)


async def test_precheck_seeds_counters_from_the_erp_and_tells_scarce_stock(shop: Shop) -> None:
    ring, hoops = line(shop, "art-deco-emerald-ring", 1), line(shop, "gold-huggie-hoops", 10)
    assert await check(shop, [hoops]) is False
    assert await check(shop, [hoops, ring]) is True  # one unit, below safety stock: scarce
    assert await shop.store.stock.available([ring.sku, hoops.sku]) == {ring.sku: 1, hoops.sku: 10}
    assert shop.calls("payments") == 0


async def test_short_lines_are_out_of_stock_each_on_its_own_line(shop: Shop) -> None:
    ok, few, gone = (line(shop, "gold-huggie-hoops", 10), line(shop, "art-deco-emerald-ring", 2, quantity=3),
                     line(shop, "aurelia-solitaire-ring", 0))
    with pytest.raises(Stop) as caught:
        await check(shop, [ok, few, gone])
    assert caught.value.keep is True
    assert [(e.code, e.field, e.message) for e in caught.value.result.user_errors] == [
        ("OUT_OF_STOCK", ("lines", "1", "quantity"), "Only 2 of art-deco-emerald-ring left; 3 requested."),
        ("OUT_OF_STOCK", ("lines", "2", "quantity"), "aurelia-solitaire-ring is sold out.")]


async def test_a_hold_takes_the_stock_and_release_gives_it_back(shop: Shop) -> None:
    ring = line(shop, "art-deco-emerald-ring", 1)
    await hold(shop, "r1", [ring])  # never seeded: seeded, then held
    assert await shop.store.stock.available([ring.sku]) == {ring.sku: 0}
    with pytest.raises(Stop) as caught:
        await hold(shop, "r2", [ring])
    assert [e.code for e in caught.value.result.user_errors] == ["OUT_OF_STOCK"]
    await release(shop.store, "r1", unpaid=True)
    assert await shop.store.stock.available([ring.sku]) == {ring.sku: 1}
    await hold(shop, "r2", [ring])


async def test_with_the_erp_down_the_inventory_vendor_seeds_the_counter(shop: Shop) -> None:
    ring = line(shop, "art-deco-emerald-ring", 1)
    shop.fault("erp", status=503)
    await hold(shop, "r1", [ring])
    assert await shop.store.stock.available([ring.sku]) == {ring.sku: 0}
    assert shop.calls("inventory") >= 1


async def test_with_no_source_of_stock_nothing_is_held(shop: Shop) -> None:
    ring = line(shop, "art-deco-emerald-ring", 1)
    shop.fault("erp", status=503)
    shop.fault("inventory", status=503)
    with pytest.raises(Stop) as caught:
        await hold(shop, "r1", [ring])
    assert (caught.value.keep, [e.code for e in caught.value.result.user_errors]) == (False, ["CHECKOUT_UNAVAILABLE"])
    assert await shop.store.stock.available([ring.sku]) == {ring.sku: None}


async def test_a_store_that_does_not_answer_stops_the_checkout_but_release_does_not_raise(shop: Shop) -> None:
    down = CheckoutStore("redis://127.0.0.1:1/0", CheckoutConfig(redis_timeout_ms=500), RedisConfig())
    ring = line(shop, "art-deco-emerald-ring", 1)
    try:
        with pytest.raises(Stop) as caught:
            await precheck(shop.services.vendors, scope(), down, [ring], safety_stock=3, offers=shop.services.offers)
        assert [e.code for e in caught.value.result.user_errors] == ["CHECKOUT_UNAVAILABLE"]
        await release(down, "r1")  # it returns by itself when it expires
    finally:
        await down.aclose()

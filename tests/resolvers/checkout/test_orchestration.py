"""placeOrder step by step against a real Redis and the in-process sandbox, failing each step in turn:
whatever fails, nothing is charged that is not voided, no hold outlives its checkout, and a key is
only ever freed when a fresh attempt cannot duplicate anything."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from connectors.errors import CheckoutUnavailable
from resolvers.checkout import PlaceOrderResult, place_order
from resolvers.checkout.orchestration import CHECKOUT_REQUESTS, OUTCOMES
from resolvers.context import RequestContext
from schema.checkout import CheckoutErrorCode
from tests.resolvers.checkout.order_input import Address, Line
from tests.support import Shop, shop_in_process

RING_SKU_INDEX = 0  # the art-deco ring: one of a kind


@dataclass
class Request:
    lines: list[Line]
    idempotency_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    ship_to: Address = field(default_factory=Address)
    email: str = "ada@example.com"
    payment_token: str = "tok_visa"
    insure: bool | None = True
    financing_provider: str | None = None


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        yield shop


def ring(shop: Shop) -> tuple[str, str]:
    """The one-of-a-kind art-deco ring: (variant id, sku), with one unit on hand."""
    product = shop.sandbox.sandbox.by_handle["art-deco-emerald-ring"]
    variant = product.variants[RING_SKU_INDEX]
    shop.sandbox.sandbox.stock[variant.sku] = 1
    return str(variant.id), variant.sku


def hoops(shop: Shop) -> tuple[str, str]:
    """Gold huggie hoops, ten on hand: plentiful stock."""
    variant = shop.sandbox.sandbox.by_handle["gold-huggie-hoops"].variants[0]
    shop.sandbox.sandbox.stock[variant.sku] = 10
    return str(variant.id), variant.sku


async def place(shop: Shop, request: Request) -> PlaceOrderResult:
    return await place_order(RequestContext.start(shop.services, budget_ms=5000), request)


async def counter(shop: Shop, sku: str) -> int | None:
    value = await shop.store.redis.client.hget(shop.store.redis.keys.atp, sku)
    return None if value is None else int(value)


def codes(result: PlaceOrderResult) -> list[str]:
    return [e.code for e in result.user_errors]


def intents(shop: Shop) -> list[dict[str, Any]]:
    return list(shop.sandbox.sandbox.payment_intents.values())


def fail(monkeypatch: pytest.MonkeyPatch, target: Any, name: str, *, times: int | None = None) -> list[int]:
    """Make `target.name` raise CheckoutUnavailable (every time, or the first `times` calls)."""
    calls = [0]
    real = getattr(target, name)

    async def failing(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if times is None or calls[0] <= times:
            raise CheckoutUnavailable(detail="injected")
        return await real(*args, **kwargs)

    monkeypatch.setattr(target, name, failing)
    return calls


async def test_a_healthy_checkout_holds_authorizes_and_confirms_once(shop: Shop) -> None:
    variant_id, sku = ring(shop)
    result = await place(shop, Request([Line(variant_id)]))
    assert result.order is not None
    assert codes(result) == []
    assert await counter(shop, sku) == 0
    assert [i["status"] for i in intents(shop)] == ["requires_capture"]
    assert await shop.store.redis.client.xlen(shop.store.stream.name) == 1
    again = await place(shop, Request([Line(variant_id)]))
    assert codes(again) == ["OUT_OF_STOCK"]
    assert shop.calls("payments") == 1  # the second shopper's card was never asked


async def test_redis_down_at_the_claim_charges_nothing_and_holds_nothing(shop: Shop,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    variant_id, sku = ring(shop)
    fail(monkeypatch, shop.store.idempotency, "begin")
    result = await place(shop, Request([Line(variant_id)]))
    assert codes(result) == ["CHECKOUT_UNAVAILABLE"]
    assert shop.calls("payments") == 0
    assert await counter(shop, sku) is None  # not even seeded


async def test_redis_down_at_the_reservation_frees_the_key_for_a_retry(shop: Shop,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The last unit is paid for first: the authorization made before the failed hold is voided."""
    variant_id, sku = ring(shop)
    request = Request([Line(variant_id)])
    fail(monkeypatch, shop.store.stock, "reserve", times=1)
    assert codes(await place(shop, request)) == ["CHECKOUT_UNAVAILABLE"]
    assert [i["status"] for i in intents(shop)] == ["canceled"]
    retried = await place(shop, request)  # the same key: nothing lasting happened, so it may run again
    assert retried.order is not None
    assert not retried.replayed
    assert await counter(shop, sku) == 0


async def test_redis_down_at_the_hold_of_plentiful_stock_asks_no_payment(shop: Shop,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Plentiful stock is held first, then paid for: a failed hold asks the payment provider nothing."""
    variant_id, sku = hoops(shop)
    fail(monkeypatch, shop.store.stock, "reserve", times=1)
    assert codes(await place(shop, Request([Line(variant_id)]))) == ["CHECKOUT_UNAVAILABLE"]
    assert shop.calls("payments") == 0
    assert await counter(shop, sku) == 10


async def test_an_unclear_confirmation_is_asked_again_and_confirms_once(shop: Shop,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    variant_id, _ = ring(shop)
    calls = fail(monkeypatch, shop.store.orders, "confirm", times=2)
    result = await place(shop, Request([Line(variant_id)]))
    assert result.order is not None
    assert calls[0] == 3
    assert await shop.store.redis.client.xlen(shop.store.stream.name) == 1
    assert [i["status"] for i in intents(shop)] == ["requires_capture"]


async def test_redis_silent_at_confirmation_holds_the_key_and_touches_nothing(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order may or may not have been written: neither release nor void, and no fresh attempt."""
    variant_id, sku = ring(shop)
    request = Request([Line(variant_id)])
    calls = fail(monkeypatch, shop.store.orders, "confirm")
    result = await place(shop, request)
    assert codes(result) == ["CHECKOUT_UNAVAILABLE"]
    assert calls[0] == 4  # asked, then again after 0.1, 0.3 and 0.9 s
    assert [i["status"] for i in intents(shop)] == ["requires_capture"]  # left to lapse, not voided blindly
    assert await counter(shop, sku) == 0  # still held until it expires
    assert codes(await place(shop, request)) == ["IDEMPOTENCY_KEY_IN_USE"]


async def test_a_declined_card_releases_the_hold_and_replays_the_decline(shop: Shop) -> None:
    variant_id, sku = ring(shop)
    request = Request([Line(variant_id)], payment_token="tok_chargeDeclinedInsufficientFunds")
    result = await place(shop, request)
    assert codes(result) == ["PAYMENT_DECLINED"]
    assert await counter(shop, sku) == 1
    replay = await place(shop, request)
    assert replay.replayed
    assert codes(replay) == ["PAYMENT_DECLINED"]
    assert shop.calls("payments") == 1


async def test_a_lost_payment_answer_is_asked_again_with_the_same_key_and_voided(shop: Shop) -> None:
    variant_id, sku = ring(shop)
    shop.fault("payments", status=503, times=1)  # the first authorization's answer is lost
    request = Request([Line(variant_id)])
    result = await place(shop, request)
    assert codes(result) == ["CHECKOUT_UNAVAILABLE"]
    assert [i["status"] for i in intents(shop)] == ["canceled"]  # authorized on the second ask, then voided
    assert len({r.idempotency_key for r in shop.sandbox.board.requests
                if r.vendor == "payments" and r.path.endswith("payment_intents")}) == 1
    assert await counter(shop, sku) == 1  # the hold went back
    retried = await place(shop, request)  # the key was freed: a fresh attempt, a new payment key
    assert retried.order is not None


async def test_a_payment_provider_that_never_answers_holds_the_key(shop: Shop) -> None:
    variant_id, _ = ring(shop)
    shop.fault("payments", status=503)
    request = Request([Line(variant_id)])
    assert codes(await place(shop, request)) == ["CHECKOUT_UNAVAILABLE"]
    assert intents(shop) == []
    assert codes(await place(shop, request)) == ["IDEMPOTENCY_KEY_IN_USE"]


async def test_an_erp_down_at_the_first_sale_seeds_from_the_inventory_vendor(shop: Shop) -> None:
    variant_id, sku = ring(shop)
    shop.fault("erp", status=503)
    result = await place(shop, Request([Line(variant_id)]))
    assert result.order is not None
    assert await counter(shop, sku) == 0
    assert shop.calls("erp") >= 1
    assert shop.calls("inventory") >= 1


async def test_erp_and_inventory_both_down_at_the_first_sale_sell_nothing(shop: Shop) -> None:
    variant_id, sku = ring(shop)
    shop.fault("erp", status=503)
    shop.fault("inventory", status=503)
    assert codes(await place(shop, Request([Line(variant_id)]))) == ["CHECKOUT_UNAVAILABLE"]
    assert shop.calls("payments") == 0
    assert await counter(shop, sku) is None


def test_every_outcome_a_checkout_can_end_as_is_a_series_from_start_up() -> None:
    """confirmed, replayed, and each code the GraphQL schema has for a checkout's user error."""
    assert set(OUTCOMES) == {"confirmed", "replayed"} | {code.value for code in CheckoutErrorCode}
    assert set(CHECKOUT_REQUESTS.counts) >= {(("outcome", outcome),) for outcome in OUTCOMES}

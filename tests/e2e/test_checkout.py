"""Checkout over the real sandbox and a real Redis: one ring is never sold twice, one click never charges twice."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
import redis

from sandbox.handle import Sandbox, free_port
from tests.support import US_ADDRESS, Gateway, run_gateway, settings_for

PLACE = """mutation($i: PlaceOrderInput!) { placeOrder(input: $i) {
    order { id status total { amount } subtotal { amount } tax { amount } insurance { amount }
            lines { sku quantity unitPrice { amount } engravingText } payment { status amount { amount } } }
    orderToken userErrors { field message code } replayed } }"""
ORDER = """query($id: ID!, $t: String!) { order(id: $id, token: $t) { id status total { amount }
    downstream { system status attempts lastError } } }"""


@pytest.fixture
async def shop(sandbox: Sandbox, redis_url: str) -> AsyncIterator[Gateway]:
    async with run_gateway(settings_for(sandbox, REDIS_URL=redis_url)) as gateway:
        yield gateway


async def variant(gateway: Gateway, handle: str, index: int = 0) -> dict[str, Any]:
    result = await gateway.gql("query($h: String!) { product(handle: $h) { variants { id sku price { amount } } } }",
                               {"h": handle})
    return result["data"]["product"]["variants"][index]


def order_input(lines: list[dict[str, Any]], *, key: str | None = None, token: str = "tok_visa",
                **extra: Any) -> dict[str, Any]:
    return {"idempotencyKey": key or str(uuid.uuid4()), "lines": lines, "shipTo": US_ADDRESS,
            "email": "ada@example.com", "paymentToken": token, **extra}


async def place(gateway: Gateway, **kwargs: Any) -> dict[str, Any]:
    result = await gateway.gql(PLACE, {"i": order_input(**kwargs)})
    assert "errors" not in result, result["errors"]
    return result["data"]["placeOrder"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


async def test_an_order_is_priced_server_side_and_confirmed_at_once(shop: Gateway, sandbox: Sandbox) -> None:
    ring = await variant(shop, "trinity-three-stone-ring", 5)
    hoops = await variant(shop, "gold-huggie-hoops")
    sandbox.reset()
    sandbox.set_stock(ring["sku"], 5)
    sandbox.set_stock(hoops["sku"], 5)
    placed = await place(shop, lines=[{"variantId": ring["id"], "engravingText": "Always"},
                                      {"variantId": hoops["id"], "quantity": 2}])
    assert placed["userErrors"] == []
    order = placed["order"]
    assert order["status"] == "CONFIRMED"
    subtotal = Decimal(ring["price"]["amount"]) + 2 * Decimal(hoops["price"]["amount"])
    assert Decimal(order["subtotal"]["amount"]) == subtotal
    assert Decimal(order["tax"]["amount"]) == (subtotal * Decimal("0.08875")).quantize(Decimal("0.01"))
    assert Decimal(order["total"]["amount"]) == subtotal + Decimal(order["tax"]["amount"]) + Decimal(
        order["insurance"]["amount"])
    assert order["payment"] == {"status": "requires_capture", "amount": order["total"]}
    assert order["lines"][0]["engravingText"] == "Always"
    assert sandbox.calls()["payments"] == 1

    found = (await shop.gql(ORDER, {"id": order["id"], "t": placed["orderToken"]}))["data"]["order"]
    assert found["total"] == order["total"]
    assert {(d["system"], d["status"]) for d in found["downstream"]} == {
        ("ERP", "PENDING"), ("WMS", "PENDING"), ("CRM", "PENDING"), ("INSURANCE", "PENDING")}


async def test_an_order_is_shown_only_to_the_holder_of_its_token(shop: Gateway, sandbox: Sandbox) -> None:
    hoops = await variant(shop, "gold-huggie-hoops")
    sandbox.set_stock(hoops["sku"], 5)
    placed = await place(shop, lines=[{"variantId": hoops["id"]}])
    order_id = placed["order"]["id"]
    real = placed["orderToken"]
    tampered = real[:-1] + ("y" if real.endswith("x") else "x")  # (with "x" always, 1 run in 64 sent the real one)
    for token in ("", "guess", tampered):
        assert (await shop.gql(ORDER, {"id": order_id, "t": token}))["data"]["order"] is None
    result = await shop.gql("query($id: ID!) { order(id: $id) { id } }", {"id": order_id})
    assert result["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"  # a token is required
    assert (await shop.gql(ORDER, {"id": order_id, "t": placed["orderToken"]}))["data"]["order"]["id"] == order_id


async def test_two_hundred_buyers_for_a_one_of_a_kind_ring(shop: Gateway, sandbox: Sandbox, redis_url: str) -> None:
    """The last unit is paid for before it is held (a declined card must never hold it): everyone who
    arrives together may be authorized, one gets the ring, and every other authorization is voided at once.
    Past the payment vendor's bulkhead a buyer is told to retry, with nothing asked of the provider."""
    ring = await variant(shop, "padparadscha-cocktail-ring")
    sandbox.reset()
    results = await asyncio.gather(*(place(shop, lines=[{"variantId": ring["id"]}]) for _ in range(200)))
    orders = [r for r in results if r["order"]]
    assert len(orders) == 1
    assert {codes(r)[0] for r in results if not r["order"]} <= {"OUT_OF_STOCK", "CHECKOUT_UNAVAILABLE"}
    atp = redis.Redis.from_url(redis_url).hget("bezel:{checkout}:atp", "PAD-S0600")
    assert int(atp) == 0  # never negative
    intents = sandbox.admin().get("/requests", params={"vendor": "payments", "limit": "2000"}).json()
    kinds = [r["path"].rsplit("/", 1)[-1] for r in intents]
    assert kinds.count("cancel") == kinds.count("payment_intents") - 1  # every loser's authorization voided


async def test_k_units_and_more_buyers_sell_exactly_k(shop: Gateway, sandbox: Sandbox) -> None:
    strand = await variant(shop, "akoya-pearl-strand")
    sandbox.set_stock("AKO-L16", 3)
    results = await asyncio.gather(*(place(shop, lines=[{"variantId": strand["id"]}]) for _ in range(25)))
    assert sum(1 for r in results if r["order"]) == 3
    assert sum(1 for r in results if codes(r) == ["OUT_OF_STOCK"]) == 22
    assert sandbox.calls()["payments"] == 3


async def test_a_multi_line_order_is_all_or_nothing(shop: Gateway, sandbox: Sandbox, redis_url: str) -> None:
    hoops = await variant(shop, "gold-huggie-hoops")
    sandbox.set_stock(hoops["sku"], 5)
    brooch = await variant(shop, "victorian-diamond-brooch")
    first = await place(shop, lines=[{"variantId": brooch["id"]}])
    assert first["order"]
    counters = redis.Redis.from_url(redis_url)
    second = await place(shop, lines=[{"variantId": hoops["id"]}, {"variantId": brooch["id"]}])
    assert second["order"] is None
    assert second["userErrors"] == [{"field": ["lines", "1", "quantity"], "code": "OUT_OF_STOCK",
                                     "message": "Victorian Old-Mine Diamond Brooch (Original) is sold out."}]
    assert int(counters.hget("bezel:{checkout}:atp", "HUG-Y14")) == 5  # the hoops were not held either


async def test_the_same_key_replays_the_first_result(shop: Gateway, sandbox: Sandbox) -> None:
    hoops = await variant(shop, "gold-huggie-hoops")
    sandbox.reset()
    sandbox.set_stock(hoops["sku"], 5)
    payload = order_input([{"variantId": hoops["id"]}], key="checkout-42")
    first = (await shop.gql(PLACE, {"i": payload}))["data"]["placeOrder"]
    again = (await shop.gql(PLACE, {"i": payload}))["data"]["placeOrder"]
    assert again["replayed"] is True
    assert again["order"]["id"] == first["order"]["id"]
    assert again["orderToken"] == first["orderToken"]
    assert sandbox.calls()["payments"] == 1
    other = (await shop.gql(PLACE, {"i": {**payload, "insure": False}}))["data"]["placeOrder"]
    assert other["order"] is None
    assert codes(other) == ["IDEMPOTENCY_KEY_REUSED"]


async def test_a_double_click_makes_one_order_and_one_authorization(shop: Gateway, sandbox: Sandbox) -> None:
    ring = await variant(shop, "seraphina-halo-ring", 3)
    sandbox.reset()
    sandbox.set_stock(ring["sku"], 5)
    payload = order_input([{"variantId": ring["id"]}])
    results = [(await r)["data"]["placeOrder"] for r in
               asyncio.as_completed([shop.gql(PLACE, {"i": payload}) for _ in range(5)])]
    order_ids = {r["order"]["id"] for r in results if r["order"]}
    assert len(order_ids) == 1
    assert {c for r in results for c in codes(r)} <= {"IDEMPOTENCY_KEY_IN_USE"}
    assert sandbox.calls()["payments"] == 1
    settled = (await shop.gql(PLACE, {"i": payload}))["data"]["placeOrder"]
    assert settled["replayed"] is True
    assert settled["order"]["id"] in order_ids


async def test_a_declined_card_releases_the_stock(shop: Gateway, sandbox: Sandbox, redis_url: str) -> None:
    ring = await variant(shop, "art-deco-emerald-ring")
    payload = order_input([{"variantId": ring["id"]}], token="tok_chargeDeclinedInsufficientFunds")
    declined = (await shop.gql(PLACE, {"i": payload}))["data"]["placeOrder"]
    assert declined["userErrors"] == [{"field": ["paymentToken"], "code": "PAYMENT_DECLINED",  # the reason: logs only
                                       "message": "Your card was declined. Please use another card or contact your "
                                                  "card issuer."}]
    assert int(redis.Redis.from_url(redis_url).hget("bezel:{checkout}:atp", "ADE-S0650")) == 1
    replay = (await shop.gql(PLACE, {"i": payload}))["data"]["placeOrder"]
    assert replay["replayed"]
    assert codes(replay) == ["PAYMENT_DECLINED"]
    paid = await place(shop, lines=[{"variantId": ring["id"]}])
    assert paid["order"]  # the ring was not lost to the declined attempt


async def test_a_payment_timeout_releases_the_stock_and_charges_nothing(sandbox: Sandbox, redis_url: str) -> None:
    """The provider never answers, not even to the follow-up that would tell whether it authorized: the ring
    goes back on sale, and the key stays claimed for a while, so a quick retry cannot authorize twice."""
    env = {"REDIS_URL": redis_url, "BEZEL_VENDORS__PAYMENTS__TIMEOUT_MS": "400",
           "BEZEL_CHECKOUT__IN_FLIGHT_TTL_S": "2"}
    async with run_gateway(settings_for(sandbox, **env)) as shop:
        ring = await variant(shop, "art-deco-emerald-ring")
        sandbox.fault("payments", hang=True)
        payload = order_input([{"variantId": ring["id"]}])
        failed = (await shop.gql(PLACE, {"i": payload}))["data"]["placeOrder"]
        assert failed["order"] is None
        assert codes(failed) == ["CHECKOUT_UNAVAILABLE"]
        assert "no payment is taken unless the order is confirmed" in failed["userErrors"][0]["message"]
        assert int(redis.Redis.from_url(redis_url).hget("bezel:{checkout}:atp", "ADE-S0650")) == 1
        sandbox.reset()
        soon = (await shop.gql(PLACE, {"i": payload}))["data"]["placeOrder"]
        assert codes(soon) == ["IDEMPOTENCY_KEY_IN_USE"]
        await asyncio.sleep(2.1)
        retried = (await shop.gql(PLACE, {"i": payload}))["data"]["placeOrder"]  # same key: allowed again
    assert retried["order"]["status"] == "CONFIRMED"
    assert retried["replayed"] is False


async def test_a_lost_payment_answer_is_recovered_and_voided(sandbox: Sandbox, redis_url: str) -> None:
    """The first answer is lost (slower than our timeout) but the provider did authorize: asking again with
    the same key learns that, and the authorization is voided, not left hanging."""
    env = {"REDIS_URL": redis_url, "BEZEL_VENDORS__PAYMENTS__TIMEOUT_MS": "300"}
    async with run_gateway(settings_for(sandbox, **env)) as shop:
        ring = await variant(shop, "art-deco-emerald-ring")
        sandbox.fault("payments", delay_ms=500, times=1)
        failed = await place(shop, lines=[{"variantId": ring["id"]}])
    assert codes(failed) == ["CHECKOUT_UNAVAILABLE"]
    assert "No payment has been taken" in failed["userErrors"][0]["message"]
    paths = [r["path"].rsplit("/", 1)[-1] for r in sandbox.admin().get("/requests", params={"vendor": "payments"}
                                                                     ).json()]
    assert paths.count("payment_intents") == 2  # the lost one, then the same key again
    assert paths.count("cancel") == 1


async def test_an_expired_reservation_returns_stock_exactly_once(sandbox: Sandbox, redis_url: str) -> None:
    """The reservation outlives its TTL while the payment is slow: it goes back once, the order is refused,
    the authorization is voided, and no unit is counted twice. (Plentiful stock: held, then paid for.)"""
    env = {"REDIS_URL": redis_url, "BEZEL_CHECKOUT__RESERVATION_TTL_S": "0.3"}
    async with run_gateway(settings_for(sandbox, **env)) as shop:
        hoops = await variant(shop, "gold-huggie-hoops")
        sandbox.set_stock(hoops["sku"], 3)
        sandbox.fault("payments", delay_ms=800, times=1)
        slow, competitor = await asyncio.gather(
            place(shop, lines=[{"variantId": hoops["id"]}]),
            # wants all three: only the slow order's expired hold, swept first, makes that possible
            _after(0.5, place(shop, lines=[{"variantId": hoops["id"], "quantity": 3}])),
        )
    assert codes(slow) == ["CHECKOUT_UNAVAILABLE"]
    assert competitor["order"]["status"] == "CONFIRMED"
    assert int(redis.Redis.from_url(redis_url).hget("bezel:{checkout}:atp", hoops["sku"])) == 0
    intents = sandbox.admin().get("/requests", params={"vendor": "payments"}).json()
    assert [r["path"].rsplit("/", 1)[-1] for r in intents].count("cancel") == 1  # the slow one was voided


async def _after(seconds: float, work: Any) -> Any:
    await asyncio.sleep(seconds)
    return await work


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"email": "not-an-email"}, ["email"]),
        ({"paymentToken": " "}, ["paymentToken"]),
        ({"paymentToken": "tok_unknown"}, ["paymentToken"]),
        ({"idempotencyKey": ""}, ["idempotencyKey"]),
        ({"lines": [{"variantId": "gid://bezel/ProductVariant/1", "quantity": 1}]}, ["lines", "0", "variantId"]),
        ({"lines": [{"variantId": "HOOPS", "quantity": 0}]}, ["lines", "0", "quantity"]),
        ({"shipTo": {"countryCode": "US", "provinceCode": "NY", "zip": "90210"}}, ["shipTo", "zip"]),
        ({"shipTo": {"countryCode": "US", "zip": "10001"}}, ["shipTo", "provinceCode"]),
        ({"lines": [{"variantId": "HOOPS", "engravingText": "J"}]}, ["lines", "0", "engravingText"]),
        ({"lines": [{"variantId": "BAND", "engravingText": "x" * 30}]}, ["lines", "0", "engravingText"]),
        ({"financingProvider": "klarna"}, ["financingProvider"]),
        ({"lines": [{"variantId": "HOOPS"}, {"variantId": "HOOPS", "engravingText": "J"}]},
         ["lines", "1", "variantId"]),
        ({"financingProvider": "afterpay", "lines": [{"variantId": "BAND", "quantity": 9}]}, ["financingProvider"]),
    ],
)
async def test_invalid_input_is_a_typed_user_error_and_charges_nothing(
    shop: Gateway, sandbox: Sandbox, change: dict[str, Any], field: list[str]
) -> None:
    hoops, band = await variant(shop, "gold-huggie-hoops"), await variant(shop, "classic-comfort-band")
    sandbox.set_stock(hoops["sku"], 9)
    sandbox.set_stock(band["sku"], 9)
    aliases = {"HOOPS": hoops["id"], "BAND": band["id"]}
    payload = order_input([{"variantId": aliases["HOOPS"]}])
    payload.update(change)
    for line in payload["lines"]:
        line["variantId"] = aliases.get(line["variantId"], line["variantId"])
    sandbox.admin().delete("/calls")
    result = (await shop.gql(PLACE, {"i": payload}))["data"]["placeOrder"]
    assert result["order"] is None
    assert [(e["code"], e["field"]) for e in result["userErrors"]][:1] == [("INVALID_INPUT", field)]
    if field != ["paymentToken"]:
        assert sandbox.calls()["payments"] == 0


async def test_redis_down_at_checkout_attempts_no_payment(sandbox: Sandbox) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    async with run_gateway(settings_for(sandbox, REDIS_URL=dead, BEZEL_CHECKOUT__REDIS_TIMEOUT_MS="200")) as shop:
        hoops = await variant(shop, "gold-huggie-hoops")
        result = await place(shop, lines=[{"variantId": hoops["id"]}])
        lookup = await shop.gql(ORDER, {"id": "ord_00000000000000000000", "t": "x"})
    assert codes(result) == ["CHECKOUT_UNAVAILABLE"]
    assert result["order"] is None
    assert sandbox.calls()["payments"] == 0
    assert lookup["errors"][0]["extensions"]["code"] == "CHECKOUT_UNAVAILABLE"


async def test_without_redis_checkout_says_why(gateway: Gateway, sandbox: Sandbox) -> None:
    hoops = await variant(gateway, "gold-huggie-hoops")
    result = await place(gateway, lines=[{"variantId": hoops["id"]}])
    assert codes(result) == ["CHECKOUT_UNAVAILABLE"]
    assert "REDIS_URL" in result["userErrors"][0]["message"]
    assert sandbox.calls()["payments"] == 0


async def test_a_shopper_who_leaves_mid_payment_still_gets_one_order(shop: Gateway, sandbox: Sandbox) -> None:
    """The request is cancelled while the card is being authorized; the checkout finishes anyway, and the
    same key then replays its order instead of leaving an authorization without one."""
    ring = await variant(shop, "seraphina-halo-ring", 7)
    sandbox.set_stock(ring["sku"], 3)
    sandbox.fault("payments", delay_ms=600, times=1)
    payload = order_input([{"variantId": ring["id"]}])
    request = asyncio.ensure_future(shop.gql(PLACE, {"i": payload}))
    await asyncio.sleep(0.3)
    request.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await request
    for _ in range(50):
        result = (await shop.gql(PLACE, {"i": payload}))["data"]["placeOrder"]
        if codes(result) != ["IDEMPOTENCY_KEY_IN_USE"]:
            break
        await asyncio.sleep(0.1)
    assert result["replayed"] is True
    assert result["order"]["status"] == "CONFIRMED"
    assert sandbox.calls()["payments"] == 1

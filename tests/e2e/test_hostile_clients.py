"""Every attack of the "safe on the open internet" issue, reproduced and answered: a client may be
hostile, and shoppers notice nothing. (Slow connections, which need real sockets: test_slow_clients.py.)"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis

from gateway.admin import admin_app
from gateway.errors import ConfigError
from gateway.settings import load_settings
from sandbox.handle import Sandbox
from tests.e2e.test_checkout import ORDER, PLACE, order_input, variant
from tests.support import PRODUCT_PAGE_QUERY, STAGING, Gateway, run_gateway, scrape, settings_for, value

BEHIND_PROXY = {"BEZEL_GATEWAY__TRUSTED_PROXIES": '["127.0.0.1/32"]'}  # the test client plays the load balancer


def client(address: str) -> dict[str, str]:
    return {"x-forwarded-for": address}


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["userErrors"]]


@pytest.fixture
async def shop(sandbox: Sandbox, redis_url: str) -> AsyncIterator[Gateway]:
    async with run_gateway(settings_for(sandbox, REDIS_URL=redis_url, **BEHIND_PROXY)) as gateway:
        yield gateway


async def place(gateway: Gateway, address: str, **kwargs: Any) -> dict[str, Any]:
    response = await gateway.post(PLACE, {"i": order_input(**kwargs)}, headers=client(address))
    assert response.status_code == 200, response.text
    return response.json()["data"]["placeOrder"]


async def test_declining_card_loops_cannot_keep_a_one_of_a_kind_ring_from_a_buyer(
    shop: Gateway, sandbox: Sandbox, redis_url: str
) -> None:
    """Eight loops place orders with declining cards on the $42,000 ring, each from ever new addresses and
    emails (decline budgets set out of reach here: the checkout's own order of steps must be what saves it).
    A real shopper, arriving while they run, gets the ring on the first try; nothing is oversold."""
    ring = await variant(shop, "padparadscha-cocktail-ring")
    stop = asyncio.Event()
    attempts = [0]

    async def attacker(n: int) -> None:
        while not stop.is_set():
            attempts[0] += 1
            i = attempts[0]
            await place(shop, f"203.0.113.{i % 250}", lines=[{"variantId": ring["id"]}],
                        token="tok_chargeDeclined", email=f"mule{i}@example.net")

    loops = [asyncio.ensure_future(attacker(n)) for n in range(8)]
    await asyncio.sleep(0.3)  # the loops are at it
    bought = await place(shop, "198.51.100.7", lines=[{"variantId": ring["id"]}])
    stop.set()
    await asyncio.gather(*loops)
    assert attempts[0] > 16
    assert bought["userErrors"] == []
    assert bought["order"]["status"] == "CONFIRMED"
    assert int(redis.Redis.from_url(redis_url).hget("bezel:{checkout}:atp", "PAD-S0600")) == 0
    intents = sandbox.admin().get("/requests", params={"vendor": "payments", "limit": "2000"}).json()
    assert [r["path"].rsplit("/", 1)[-1] for r in intents].count("cancel") == 0  # no attacker was ever authorized


async def test_six_aliased_place_orders_are_refused_before_any_authorization(shop: Gateway, sandbox: Sandbox) -> None:
    ring = await variant(shop, "art-deco-emerald-ring")
    aliases = " ".join(f'o{i}: placeOrder(input: $i{i}) {{ userErrors {{ code message }} }}' for i in range(6))
    variables = {f"i{i}": order_input([{"variantId": ring["id"]}], token="tok_chargeDeclinedFraudulent")
                 for i in range(6)}
    signature = ", ".join(f"$i{i}: PlaceOrderInput!" for i in range(6))
    result = await shop.gql(f"mutation({signature}) {{ {aliases} }}", variables)
    assert result["data"] is None
    assert [e["extensions"]["code"] for e in result["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert sandbox.calls()["payments"] == 0


async def test_a_decline_tells_the_shopper_nothing_a_card_tester_could_use(shop: Gateway) -> None:
    ring = await variant(shop, "art-deco-emerald-ring")
    messages = set()
    for n, token in enumerate(("tok_chargeDeclinedInsufficientFunds", "tok_chargeDeclinedFraudulent",
                               "tok_chargeDeclinedExpiredCard")):
        declined = await place(shop, f"192.0.2.{n}", lines=[{"variantId": ring["id"]}], token=token)
        assert codes(declined) == ["PAYMENT_DECLINED"]
        messages.add(declined["userErrors"][0]["message"])
    assert len(messages) == 1


async def test_repeated_declines_answer_rate_limited_without_asking_the_provider(
    sandbox: Sandbox, redis_url: str
) -> None:
    env = {"REDIS_URL": redis_url, **BEHIND_PROXY, "BEZEL_LIMITS__DECLINES": "2/10minutes"}
    async with run_gateway(settings_for(sandbox, **env)) as shop:
        ring = await variant(shop, "art-deco-emerald-ring")
        for n in range(2):  # the same card from two addresses
            assert codes(await place(shop, f"192.0.2.{n}", lines=[{"variantId": ring["id"]}],
                                     token="tok_chargeDeclined", email=f"a{n}@example.com")) == ["PAYMENT_DECLINED"]
        calls = sandbox.calls()["payments"]
        again = await place(shop, "192.0.2.9", lines=[{"variantId": ring["id"]}], token="tok_chargeDeclined",
                            email="fresh@example.com")
        assert codes(again) == ["RATE_LIMITED"]
        assert sandbox.calls()["payments"] == calls
        other_card = await place(shop, "192.0.2.10", lines=[{"variantId": ring["id"]}], email="fresh@example.com")
        assert other_card["order"]  # a good card from a new address and email is not punished
        samples = await scrape(shop)
        assert value(samples, "bezel_checkout_refused_total", reason="declines_card") >= 1


async def test_one_checkout_at_a_time_per_client(sandbox: Sandbox, redis_url: str) -> None:
    env = {"REDIS_URL": redis_url, **BEHIND_PROXY, "BEZEL_CHECKOUT__MAX_IN_FLIGHT_PER_CLIENT": "1"}
    async with run_gateway(settings_for(sandbox, **env)) as shop:
        hoops = await variant(shop, "gold-huggie-hoops")
        sandbox.set_stock(hoops["sku"], 10)
        sandbox.fault("payments", delay_ms=400, times=1)
        first, second, elsewhere = await asyncio.gather(
            place(shop, "198.51.100.20", lines=[{"variantId": hoops["id"]}]),
            _later(0.15, place(shop, "198.51.100.20", lines=[{"variantId": hoops["id"]}])),
            _later(0.15, place(shop, "198.51.100.21", lines=[{"variantId": hoops["id"]}])),
        )
        assert first["order"]
        assert codes(second) == ["RATE_LIMITED"]
        assert elsewhere["order"]  # another client is not held up
        again = await place(shop, "198.51.100.20", lines=[{"variantId": hoops["id"]}])  # the first has finished
        assert again["order"]


async def _later(seconds: float, work: Any) -> Any:
    await asyncio.sleep(seconds)
    return await work


async def test_a_flood_gets_429_with_retry_after_and_other_clients_are_served(sandbox: Sandbox, redis_url: str) -> None:
    env = {"REDIS_URL": redis_url, **BEHIND_PROXY, "BEZEL_LIMITS__PAGES": "5/second;100/minute"}
    query = '{ product(handle: "gold-huggie-hoops") { title } }'
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        before = await scrape(gateway)
        answers = [await gateway.post(query, headers=client("203.0.113.66")) for _ in range(8)]
        assert [a.status_code for a in answers[:5]] == [200] * 5
        refused = answers[-1]
        assert refused.status_code == 429
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1
        shopper = await gateway.post(query, headers=client("198.51.100.8"))
        assert shopper.status_code == 200
        after = await scrape(gateway)
    assert value(after, "bezel_requests_refused_total", reason="rate_limit_pages") - \
        value(before, "bezel_requests_refused_total", reason="rate_limit_pages") == 3


async def test_addresses_of_one_ipv6_64_share_one_budget(sandbox: Sandbox, redis_url: str) -> None:
    """Given an attacker rotating through the 2^64 addresses of their one /64, when they pass the page
    budget, then every one of their addresses is refused, and a shopper in the next /64 is served."""
    env = {"REDIS_URL": redis_url, **BEHIND_PROXY, "BEZEL_LIMITS__PAGES": "3/minute"}
    query = '{ product(handle: "gold-huggie-hoops") { title } }'
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        rotating = [await gateway.post(query, headers=client(f"2001:db8:bad:1::{n:x}")) for n in range(1, 6)]
        assert [a.status_code for a in rotating] == [200, 200, 200, 429, 429]
        assert (await gateway.post(query, headers=client("[2001:db8:bad:1:ffff::1]:443"))).status_code == 429
        assert (await gateway.post(query, headers=client("2001:db8:bad:2::1"))).status_code == 200


async def test_checkout_and_order_lookups_have_budgets_of_their_own(sandbox: Sandbox, redis_url: str) -> None:
    env = {"REDIS_URL": redis_url, **BEHIND_PROXY, "BEZEL_LIMITS__CHECKOUT": "2/minute",
           "BEZEL_LIMITS__ORDER_LOOKUPS": "1/minute"}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        hoops = await variant(gateway, "gold-huggie-hoops")
        sandbox.set_stock(hoops["sku"], 10)
        placed = [await gateway.post(PLACE, {"i": order_input([{"variantId": hoops["id"]}])},
                                     headers=client("198.51.100.30")) for _ in range(3)]
        assert [p.status_code for p in placed] == [200, 200, 429]
        order = placed[0].json()["data"]["placeOrder"]
        lookup = {"id": order["order"]["id"], "t": order["orderToken"]}
        first = await gateway.post(ORDER, lookup, headers=client("198.51.100.30"))
        second = await gateway.post(ORDER, lookup, headers=client("198.51.100.30"))
        assert (first.status_code, second.status_code) == (200, 429)


async def test_results_that_say_nothing_lasting_are_kept_minutes_not_days(
    shop: Gateway, sandbox: Sandbox, redis_url: str
) -> None:
    brooch = await variant(shop, "victorian-diamond-brooch")
    sandbox.set_stock(brooch["sku"], 0)
    key = str(uuid.uuid4())
    assert codes(await place(shop, "198.51.100.40", lines=[{"variantId": brooch["id"]}], key=key)) == ["OUT_OF_STOCK"]
    store = redis.Redis.from_url(redis_url)
    ttls = [store.pttl(k) for k in store.scan_iter("bezel:{checkout}:idem:*")]
    assert ttls
    assert all(0 < ttl <= 900_000 for ttl in ttls)


async def test_no_order_token_sits_in_redis_in_plaintext(shop: Gateway, sandbox: Sandbox, redis_url: str) -> None:
    hoops = await variant(shop, "gold-huggie-hoops")
    sandbox.set_stock(hoops["sku"], 3)
    key = str(uuid.uuid4())
    placed = await place(shop, "198.51.100.41", lines=[{"variantId": hoops["id"]}], key=key)
    token = placed["orderToken"].encode()
    assert _holding(redis.Redis.from_url(redis_url), token) == []
    replayed = await place(shop, "198.51.100.41", lines=[{"variantId": hoops["id"]}], key=key)
    assert replayed["replayed"]
    assert replayed["orderToken"] == placed["orderToken"]  # the idempotency key unseals it


def _values(store: redis.Redis, name: bytes) -> list[bytes]:
    """Every value a key holds, whatever its type."""
    kind = store.type(name)
    if kind == b"string":
        return [store.get(name) or b""]
    if kind == b"hash":
        return list(store.hgetall(name).values())
    if kind == b"stream":
        return [v for _, fields in store.xrange(name) for v in fields.values()]
    if kind == b"zset":
        return list(store.zrange(name, 0, -1))
    if kind == b"list":
        return list(store.lrange(name, 0, -1))
    return list(store.smembers(name))


def _holding(store: redis.Redis, needle: bytes) -> list[bytes]:
    """Every key with a value that holds `needle`."""
    return [name for name in store.scan_iter("*") if any(needle in value for value in _values(store, name))]


async def test_checkout_keeps_its_data_on_its_own_redis(
    sandbox: Sandbox, redis_url: str, checkout_redis_url: str
) -> None:
    """`[checkout] redis_url`: orders, holds and idempotency on a noeviction Redis; the page cache and
    the rate limits on the shared one (where an LRU may evict them at no loss)."""
    env = {"REDIS_URL": redis_url, "BEZEL_CHECKOUT__REDIS_URL": checkout_redis_url, **BEHIND_PROXY}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        hoops = await variant(gateway, "gold-huggie-hoops")
        sandbox.set_stock(hoops["sku"], 3)
        placed = await place(gateway, "198.51.100.60", lines=[{"variantId": hoops["id"]}])
        assert placed["order"]
        assert (await gateway.post(ORDER, {"id": placed["order"]["id"], "t": placed["orderToken"]})).json()[
            "data"]["order"]["id"] == placed["order"]["id"]
    shared, own = redis.Redis.from_url(redis_url), redis.Redis.from_url(checkout_redis_url)
    assert [k for k in shared.scan_iter("*") if b"{checkout}" in k] == []
    assert _holding(own, placed["order"]["id"].encode())
    assert list(shared.scan_iter("*"))  # the cache is there


async def test_personal_data_is_dropped_from_redis_after_the_retention_period(
    sandbox: Sandbox, redis_url: str
) -> None:
    retention_days = 1.5 / 86_400  # a second and a half
    env = {"REDIS_URL": redis_url, "BEZEL_CHECKOUT__RETENTION_DAYS": str(retention_days), **BEHIND_PROXY}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        hoops = await variant(gateway, "gold-huggie-hoops")
        sandbox.set_stock(hoops["sku"], 3)
        email = f"retained-{uuid.uuid4().hex[:8]}@example.com"
        placed = await place(gateway, "198.51.100.61", lines=[{"variantId": hoops["id"]}], email=email)
        assert placed["order"]
        store = redis.Redis.from_url(redis_url)
        holding = _holding(store, email.encode())
        assert holding  # the order, and the idempotency result that can replay it
        assert all(0 < store.pttl(name) <= 1500 for name in holding)
        await asyncio.sleep(1.6)
        assert _holding(store, email.encode()) == []
        lookup = await gateway.post(ORDER, {"id": placed["order"]["id"], "t": placed["orderToken"]})
        assert lookup.json()["data"]["order"] is None


@pytest.mark.parametrize("email", [
    "ada\x00@example.com", "ada@exam\x1b[31mple.com", "ada\u202e@example.com", "<script>@example.com",
    "ada@example.com<script>alert(1)</script>", "a\u200bda@example.com", 'ada"@example.com',
])
async def test_emails_with_control_invisible_or_markup_characters_are_refused(
    shop: Gateway, sandbox: Sandbox, email: str
) -> None:
    hoops = await variant(shop, "gold-huggie-hoops")
    refused = await place(shop, "198.51.100.50", lines=[{"variantId": hoops["id"]}], email=email)
    assert refused["userErrors"][0]["field"] == ["email"]
    assert sandbox.calls()["payments"] == 0


async def test_emails_and_address_lines_are_normalized_and_checked(shop: Gateway, sandbox: Sandbox) -> None:
    hoops = await variant(shop, "gold-huggie-hoops")
    sandbox.set_stock(hoops["sku"], 3)
    decomposed = "zoe\u0301@example.com"  # "zoé" with a combining accent
    placed = await place(shop, "198.51.100.51", lines=[{"variantId": hoops["id"]}], email=decomposed)
    received = sandbox.admin().get("/requests", params={"vendor": "payments"}).json()
    assert placed["order"]
    assert received  # and what reached the provider is the composed form:
    sent = json.dumps(sandbox.admin().get("/received/crm").json())
    assert "zo\\u0301" not in sent
    line = await place(shop, "198.51.100.52", lines=[{"variantId": hoops["id"]}],
                       shipTo={"countryCode": "US", "provinceCode": "NY", "zip": "10001", "line1": "1 Main\u202eSt"})
    assert line["userErrors"][0]["field"] == ["shipTo", "line1"]


async def test_production_refuses_order_lookups_by_get(sandbox: Sandbox, redis_url: str) -> None:
    async with run_gateway(settings_for(sandbox, REDIS_URL=redis_url, **STAGING)) as gateway:
        response = await gateway.http.get("/graphql", params={
            "query": ORDER, "variables": json.dumps({"id": "ord_00000000000000000000", "t": "secret"})})
        assert response.status_code == 405
        assert response.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
        assert (await gateway.post(ORDER, {"id": "ord_00000000000000000000", "t": "x"})).status_code == 200


async def test_production_serves_metrics_and_readiness_on_the_admin_port_only(sandbox: Sandbox) -> None:
    import httpx

    async with run_gateway(settings_for(sandbox, **STAGING)) as gateway:
        for path in ("/metrics", "/readyz"):
            assert (await gateway.http.get(path)).status_code == 404
        assert (await gateway.http.get("/healthz")).status_code == 200
        admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=admin_app(gateway.app)), base_url="http://a")
        async with admin:
            assert (await admin.get("/metrics")).status_code == 200
            assert (await admin.get("/readyz")).json()["status"] in {"ok", "degraded"}


def test_a_wildcard_cors_origin_is_refused_by_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEZEL_GATEWAY__CORS_ORIGINS", '["*"]')
    with pytest.raises(ConfigError, match="cors_origins"):
        load_settings()


async def test_junk_operation_names_cannot_push_a_real_page_out_of_the_metric_labels(gateway: Gateway) -> None:
    for i in range(220):
        await gateway.gql(f"query Junk{i} {{ __typename }}")
    before = await scrape(gateway)
    await gateway.gql(PRODUCT_PAGE_QUERY)
    after = await scrape(gateway)
    name = "bezel_graphql_request_duration_seconds_count"
    assert value(after, name, operation="ProductPage") - value(before, name, operation="ProductPage") == 1
    assert not [labels for (n, labels) in after if n == name and ("operation", "Junk219") in labels]


async def test_the_rate_limits_hold_while_redis_is_down(sandbox: Sandbox) -> None:
    """Degraded, not off: each process counts on its own."""
    from sandbox.handle import free_port

    env = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "BEZEL_LIMITS__PAGES": "3/second"}
    async with run_gateway(settings_for(sandbox, **env)) as gateway:
        started = time.monotonic()
        statuses = [(await gateway.post("{ __typename }")).status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        assert time.monotonic() - started < 2

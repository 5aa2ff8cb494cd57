"""No ghost stock, told as a shopper lives it: two `bezel serve` processes on one Redis, the sandbox's systems
separate and sending their signed webhooks to one of them.

A piece sells on one process while the ERP is down: the other process's next page shows it sold. A shop
sells stock in the inventory system and Shopify edits a price: every process's page shows it within a second,
not when a TTL runs out. And an event lost on the way: the TTL still brings the truth."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from sandbox.handle import Sandbox
from tests.e2e.test_checkout import PLACE, order_input
from tests.e2e.test_slow_clients import serve
from tests.support import run_gateway, scrape, settings_for, value

SECRETS = {"SHOPIFY_WEBHOOK_SECRET": "ghost-shopify", "COMMERCETOOLS_WEBHOOK_TOKEN": "ghost-ct",
           "ERP_WEBHOOK_SECRET": "ghost-erp"}
PAGE = """query($h: String!) { product(handle: $h) { variants { id sku price { amount } availability {
  status quantityAvailable confirmed path freshness { source vendor } } } } }"""
# The catalog's answers kept 3 s here (60 s as shipped), so the lost event's backstop shows within a test.
CATALOG_TTL_S = 3


@pytest.fixture
def two(sandbox: Sandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    env = {"REDIS_URL": redis_url, "BEZEL_VENDORS__CATALOG__CACHE_TTL_S": str(CATALOG_TTL_S),
           "BEZEL_VENDORS__CATALOG__REVALIDATE_S": "0", "BEZEL_GATEWAY__TRUSTED_PROXIES": '["127.0.0.1/32"]',
           **SECRETS}
    sandbox.webhooks(secrets={"shopify": SECRETS["SHOPIFY_WEBHOOK_SECRET"],
                              "commercetools": SECRETS["COMMERCETOOLS_WEBHOOK_TOKEN"],
                              "erp": SECRETS["ERP_WEBHOOK_SECRET"]})
    with serve(sandbox, **env) as a, serve(sandbox, **env) as b:
        sandbox.webhooks(to=a, delay_ms=20, jitter_ms=10)  # the systems deliver to A (through the load balancer)
        yield a, b


def variant(url: str, handle: str, sku: str | None = None) -> dict[str, Any]:
    answer = httpx.post(f"{url}/graphql", json={"query": PAGE, "variables": {"h": handle}}, timeout=10).json()
    variants = answer["data"]["product"]["variants"]
    return next(v for v in variants if v["sku"] == sku) if sku else variants[0]


def within(seconds: float, check: Callable[[], bool]) -> float:
    """How long until `check()` held (AssertionError past `seconds`)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_piece_sold_on_one_process_is_sold_on_the_other_at_once_even_with_the_erp_down(
    two: tuple[str, str], sandbox: Sandbox
) -> None:
    a, b = two
    brooch = variant(b, "victorian-diamond-brooch")
    assert brooch["availability"]["status"] == "LOW_STOCK"  # one of a kind, offered
    sandbox.fault("erp", status=503)  # the ERP down: exactly what the order queue absorbs
    placed = httpx.post(f"{a}/graphql", json={"query": PLACE, "variables": {"i": order_input(
        [{"variantId": brooch["id"]}], key=str(uuid.uuid4()))}}, timeout=15).json()["data"]["placeOrder"]
    assert placed["order"]["status"] == "CONFIRMED"
    shown = variant(b, "victorian-diamond-brooch")["availability"]  # the next read, no TTL waited for
    assert (shown["status"], shown["quantityAvailable"], shown["confirmed"], shown["path"]) == (
        "OUT_OF_STOCK", 0, True, "CHECKOUT")
    assert sandbox.stock(brooch["sku"])["inventory"] == 1  # the inventory system has still not heard of it
    again = httpx.post(f"{b}/graphql", json={"query": PLACE, "variables": {"i": order_input(
        [{"variantId": brooch["id"]}], key=str(uuid.uuid4()), email="late@example.com")}},
        headers={"x-forwarded-for": "198.51.100.44"}, timeout=15).json()["data"]["placeOrder"]
    assert [e["code"] for e in again["userErrors"]] == ["OUT_OF_STOCK"]


def test_a_sale_in_a_shop_and_a_price_edit_reach_every_process_within_a_second(
    two: tuple[str, str], sandbox: Sandbox
) -> None:
    a, b = two
    band = next(v for v in httpx.post(f"{b}/graphql", json={"query": PAGE, "variables": {
        "h": "classic-comfort-band"}}, timeout=10).json()["data"]["product"]["variants"]
        if (v["availability"]["quantityAvailable"] or 0) >= 8)
    sku = band["sku"]
    for url in (a, b):
        variant(url, "classic-comfort-band", sku)  # cached on both (stock 5 s, the catalog 3 s here)
    sandbox.set_inventory_stock(sku, 4)  # a sale in a shop: the inventory system sends its event
    for url in (b, a):
        took = within(1.0, lambda url=url: variant(url, "classic-comfort-band", sku)["availability"][
            "quantityAvailable"] == 4)
        assert took < 1.0
    sandbox.set_price(sku, "999.00")  # Shopify: products/update
    for url in (b, a):
        within(1.0, lambda url=url: variant(url, "classic-comfort-band", sku)["price"]["amount"] == "999.00")
    delivered = [d for d in sandbox.deliveries() if d["status"] == 200]
    assert {d["source"] for d in delivered} >= {"commercetools", "shopify"}


def test_an_event_lost_on_the_way_is_made_up_for_by_the_ttl(two: tuple[str, str], sandbox: Sandbox) -> None:
    _, b = two
    hoops = variant(b, "gold-huggie-hoops")
    sandbox.webhooks(loss_rate=1.0)  # every delivery lost
    sandbox.set_price(hoops["sku"], "123.00")
    time.sleep(0.5)
    assert variant(b, "gold-huggie-hoops", hoops["sku"])["price"]["amount"] == hoops["price"]["amount"]  # not yet
    within(CATALOG_TTL_S + 2.0, lambda: variant(b, "gold-huggie-hoops", hoops["sku"])["price"]["amount"] == "123.00")
    assert sandbox.webhooks()["counts"]["lost"] >= 1


async def test_checkout_refusing_what_a_page_offered_counts_a_ghost_offer(sandbox: Sandbox, redis_url: str) -> None:
    """The operator's indicator: a ghost offer is a refusal of what a page showed available within the
    window, on any process; a piece no page offered is an honest sell-out."""
    async with run_gateway(settings_for(sandbox, REDIS_URL=redis_url)) as shop, \
            run_gateway(settings_for(sandbox, REDIS_URL=redis_url)) as other:
        ring = (await other.gql(PAGE, {"h": "art-deco-emerald-ring"}))["data"]["product"]["variants"][0]  # offered
        sandbox.set_stock(ring["sku"], 1)
        before = value(await scrape(shop), "bezel_ghost_offers_total")
        first = (await shop.gql(PLACE, {"i": order_input([{"variantId": ring["id"]}])}))["data"]["placeOrder"]
        assert first["order"]["status"] == "CONFIRMED"
        second = (await shop.gql(PLACE, {"i": order_input([{"variantId": ring["id"]}], email="b@example.com")}
                                 ))["data"]["placeOrder"]
        assert [e["code"] for e in second["userErrors"]] == ["OUT_OF_STOCK"]
        assert value(await scrape(shop), "bezel_ghost_offers_total") == before + 1  # offered by the other process
        brooch = (await shop.gql('{ product(handle: "victorian-diamond-brooch") { variants { id } } }'))[
            "data"]["product"]["variants"][0]  # never shown with its stock
        sandbox.set_stock("VIC-ORIG", 0)
        sold_out = (await shop.gql(PLACE, {"i": order_input([{"variantId": brooch["id"]}], email="c@example.com")}
                                   ))["data"]["placeOrder"]
        assert [e["code"] for e in sold_out["userErrors"]] == ["OUT_OF_STOCK"]
        assert value(await scrape(shop), "bezel_ghost_offers_total") == before + 1

"""Webhooks in, against a running gateway with a real Redis: each delivery verified, applied once and in order,
answered at once, and what it changed shows on the next page of every process."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from sandbox.handle import Sandbox
from sandbox.redis_servers import RedisClusterHandle
from tests.e2e.test_redis_cluster import gateways
from tests.support import Gateway, run_gateway, scrape, settings_for, value

SECRETS = {"SHOPIFY_WEBHOOK_SECRET": "shp-new", "SHOPIFY_WEBHOOK_SECRET_PREVIOUS": "shp-old",
           "COMMERCETOOLS_WEBHOOK_TOKEN": "ct-token", "ERP_WEBHOOK_SECRET": "erp-secret"}
STOCK = """query($h: String!) { product(handle: $h) { id variants { sku availability { status quantityAvailable
  confirmed path freshness { source vendor } } } } }"""
PRICE = """query($h: String!) { product(handle: $h) { id freshness { source ageMs } variants { sku price { amount } } }
}"""


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


def shopify(topic: str, body: dict[str, Any], *, secret: str = "shp-new", delivery: str | None = None,
            at: float | None = None) -> tuple[bytes, dict[str, str]]:
    raw = orjson.dumps(body)
    digest = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    return raw, {"content-type": "application/json", "x-shopify-topic": topic, "x-shopify-hmac-sha256": digest,
                 "x-shopify-webhook-id": delivery or str(uuid.uuid4()),
                 "x-shopify-triggered-at": iso(at or time.time()),
                 "x-shopify-shop-domain": "bezel-sandbox.myshopify.com"}


def stock_event(sku: str, entry: str, available: int, sequence: int) -> tuple[bytes, dict[str, str]]:
    now = iso(time.time())
    body = {"specversion": "1.0", "id": str(uuid.uuid4()), "type": "com.commercetools.inventory-entry.message."
            "InventoryEntryQuantitySet", "source": "/bezel/inventory-entries", "time": now, "data": {
                "type": "InventoryEntryQuantitySet", "sku": sku, "sequenceNumber": sequence, "createdAt": now,
                "resource": {"typeId": "inventory-entry", "id": entry}, "oldQuantityOnStock": 9,
                "newQuantityOnStock": available, "oldAvailableQuantity": 9, "newAvailableQuantity": available}}
    return orjson.dumps(body), {"content-type": "application/cloudevents+json", "authorization": "Bearer ct-token"}


def erp_event(sku: str, available: int, sequence: int, secret: str = "erp-secret") -> tuple[bytes, dict[str, str]]:
    raw = orjson.dumps({"id": str(uuid.uuid4()), "type": "stock.changed", "occurred_at": iso(time.time()),
                        "sequence": sequence, "data": {"sku": sku, "on_hand": available, "available": available,
                                                       "reason": "sale"}})
    stamp = str(int(time.time()))
    signature = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return raw, {"content-type": "application/json", "x-bezel-signature": f"t={stamp},v1={signature}"}


@contextlib.asynccontextmanager
async def shops(sandbox: Sandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch, n: int = 2,
                **env: str) -> AsyncIterator[list[Gateway]]:
    """`n` gateway processes (each its own app, cache tier and subscription) on one Redis."""
    for name, secret in SECRETS.items():
        monkeypatch.setenv(name, secret)
    async with contextlib.AsyncExitStack() as stack:
        gateways = [await stack.enter_async_context(run_gateway(settings_for(sandbox, REDIS_URL=redis_url, **env)))
                    for _ in range(n)]
        yield gateways


async def deliver(gateway: Gateway, source: str, signed: tuple[bytes, dict[str, str]]) -> tuple[int, Any]:
    body, headers = signed
    response = await gateway.http.post(f"/webhooks/{source}", content=body, headers=headers)
    return response.status_code, response.json()


async def settled(gateway: Gateway, *others: Gateway) -> None:
    """The gateway's event queue has applied what it took (the work leaves the request), and the other
    processes have heard of it (one pub/sub message: they are told, not asked)."""
    await gateway.app.state.events.queue.join()
    await asyncio.sleep(0.5)
    for other in others:
        assert other.app.state.services.bus.connected


async def test_a_price_change_drops_the_product_on_every_process_and_nothing_else(
    sandbox: Sandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with shops(sandbox, redis_url, monkeypatch) as (a, b):
        for gateway in (a, b):  # each process has the two products in its own tier
            for handle in ("lumiere-sapphire-pendant", "gold-huggie-hoops"):
                await gateway.gql(PRICE, {"h": handle})
        pendant = (await b.gql(PRICE, {"h": "lumiere-sapphire-pendant"}))["data"]["product"]
        assert pendant["freshness"]["source"] == "CACHE"
        await asyncio.sleep(1.0)  # the cached answers are a second old
        status, answer = await deliver(a, "shopify", shopify("products/update", {
            "id": int(pendant["id"].rsplit("/", 1)[-1]), "updated_at": iso(time.time())}))
        assert (status, answer["outcome"]) == (200, "accepted")
        await settled(a, b)
        calls = sandbox.calls()["catalog"]
        for gateway in (b, a):  # asked again by one of them; the other reads that answer, not the old one
            again = (await gateway.gql(PRICE, {"h": "lumiere-sapphire-pendant"}))["data"]["product"]
            assert again["freshness"]["ageMs"] < 500, again["freshness"]  # not the TTL's 60 s later
            hoops = (await gateway.gql(PRICE, {"h": "gold-huggie-hoops"}))["data"]["product"]
            assert hoops["freshness"]["ageMs"] >= 1000  # exactly the affected entries
        assert sandbox.calls()["catalog"] == calls + 1
        samples = await scrape(b)
        assert value(samples, "bezel_event_lag_seconds_count", source="shopify") >= 1


async def test_a_stock_level_from_the_inventory_system_replaces_the_cached_one_everywhere(
    sandbox: Sandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plentiful stock is served from cache (5 s): the inventory system's event puts its level there at once.
    (Below safety stock every page asks the vendor anyway.)"""
    async with shops(sandbox, redis_url, monkeypatch) as (a, b):
        variants = (await b.gql(STOCK, {"h": "classic-comfort-band"}))["data"]["product"]["variants"]
        plenty = next(v for v in variants if (v["availability"]["quantityAvailable"] or 0) >= 8)
        sandbox.set_stock(plenty["sku"], 4)  # a sale in a shop: the inventory system knows, the cache does not
        status, _ = await deliver(a, "commercetools", stock_event(plenty["sku"], "entry-1", 4, 1))
        assert status == 200
        await settled(a, b)
        for gateway in (b, a):
            shown = next(v for v in (await gateway.gql(STOCK, {"h": "classic-comfort-band"}))["data"]["product"][
                "variants"] if v["sku"] == plenty["sku"])["availability"]
            assert (shown["quantityAvailable"], shown["path"]) == (4, "CACHE")  # not 8 for 5 s more


async def test_a_sale_in_a_shop_told_by_the_erp_lowers_what_checkout_would_sell(
    sandbox: Sandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ERP's event reaches checkout's counter; every page reads that counter, so it shows at once."""
    async with shops(sandbox, redis_url, monkeypatch, n=1) as (a,):
        ring = (await a.gql(STOCK, {"h": "art-deco-emerald-ring"}))["data"]["product"]["variants"][0]
        sku = ring["sku"]
        sandbox.set_stock(sku, 1)
        await a.app.state.services.store.stock.reconcile({sku: 1}, {})  # checkout keeps a counter for it
        status, _ = await deliver(a, "erp", erp_event(sku, 0, 1))
        assert status == 200
        await settled(a)
        shown = (await a.gql(STOCK, {"h": "art-deco-emerald-ring"}))["data"]["product"]["variants"][0]["availability"]
        assert (shown["status"], shown["path"], shown["freshness"]["vendor"]) == ("OUT_OF_STOCK", "CHECKOUT",
                                                                                  "checkout")
        restock = erp_event(sku, 3, 2)  # a restock is left to the reconcile, which knows what the ERP counted
        assert (await deliver(a, "erp", restock))[0] == 200
        await settled(a)
        assert await a.app.state.services.store.stock.available([sku]) == {sku: 0}


async def test_every_delivery_is_checked_counted_and_applied_once_in_order(
    sandbox: Sandbox, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with shops(sandbox, redis_url, monkeypatch, n=2, BEZEL_EVENTS__RATE="20/minute") as (a, b):
        product = {"id": 632910392, "updated_at": iso(time.time())}
        assert (await deliver(a, "shopify", shopify("products/update", product, secret="forged")))[0] == 401
        assert (await deliver(a, "shopify", shopify("products/update", product, secret="shp-old")))[0] == 200
        delivery = str(uuid.uuid4())
        first = await deliver(a, "shopify", shopify("products/update", product, delivery=delivery))
        again = await deliver(b, "shopify", shopify("products/update", product, delivery=delivery))  # a retry
        assert (first[1]["outcome"], again[1]["outcome"]) == ("accepted", "duplicate")
        older = {"id": 632910392, "updated_at": iso(time.time() - 3600)}
        assert (await deliver(b, "shopify", shopify("products/update", older)))[1]["outcome"] == "stale"
        assert (await deliver(a, "shopify", shopify("orders/create", {"id": 1})))[1]["outcome"] == "ignored"
        raw, headers = shopify("products/update", {"id": "not a number"})
        assert (await deliver(a, "shopify", (raw, headers)))[0] == 400
        assert (await deliver(a, "commercetools", (b"{}", {"authorization": "Bearer wrong"})))[0] == 401
        assert (await deliver(a, "nosuch", (b"{}", {})))[0] == 404
        statuses = [(await deliver(a, "erp", erp_event("X-1", 1, n)))[0] for n in range(30)]
        assert statuses.count(429) >= 10  # a flood from one source is limited; the pages never notice
        assert (await a.gql('{ product(handle: "gold-huggie-hoops") { title } }'))["data"]["product"]
        samples = await scrape(a)
        for outcome in ("bad_signature", "duplicate", "stale", "unknown_topic", "malformed", "rate_limited"):
            assert value(samples, "bezel_events_total", outcome=outcome) + value(
                await scrape(b), "bezel_events_total", outcome=outcome) >= 1, outcome
        assert value(samples, "bezel_events_total", topic="other") >= 1  # senders do not pick metric labels


async def test_on_a_redis_cluster_events_are_applied_once_and_reach_every_process(
    sandbox: Sandbox, redis_cluster: RedisClusterHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger's script, the tag sets and the pub/sub fan-out on the cluster the suite starts."""
    for name, secret in SECRETS.items():
        monkeypatch.setenv(name, secret)
    async with gateways(sandbox, redis_cluster) as (a, b):
        for gateway in (a, b):
            await gateway.gql(PRICE, {"h": "lumiere-sapphire-pendant"})
        pendant = (await b.gql(PRICE, {"h": "lumiere-sapphire-pendant"}))["data"]["product"]
        await asyncio.sleep(1.0)
        delivery = str(uuid.uuid4())
        update = {"id": int(pendant["id"].rsplit("/", 1)[-1]), "updated_at": iso(time.time())}
        assert (await deliver(a, "shopify", shopify("products/update", update, delivery=delivery)))[1][
            "outcome"] == "accepted"
        assert (await deliver(b, "shopify", shopify("products/update", update, delivery=delivery)))[1][
            "outcome"] == "duplicate"
        await settled(a, b)
        for gateway in (b, a):
            again = (await gateway.gql(PRICE, {"h": "lumiere-sapphire-pendant"}))["data"]["product"]
            assert again["freshness"]["ageMs"] < 500

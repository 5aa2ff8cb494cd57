"""Bezel on a real Redis Cluster (3 masters, 3 replicas on loopback): the page cache, locks, persisted
documents, rate limits, checkout scripts, idempotency and the order stream, and a master lost mid-sale."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from redis.cluster import RedisCluster

from sandbox.handle import Sandbox, free_port, wait_for
from sandbox.redis_servers import RedisClusterHandle, run_redis_cluster
from tests.e2e.test_checkout import ORDER, PLACE, order_input, variant
from tests.support import US_ADDRESS, Gateway, run_gateway, settings_for

TAX_QUERY = """query($a: AddressInput!) { product(handle: "gold-huggie-hoops") {
    taxEstimate(shipTo: $a) { rate freshness { source } } } }"""
CHECKOUT_KEYS = "bezel:{checkout}:orders"


def on_cluster(cluster: RedisClusterHandle, **env: str) -> dict[str, str]:
    # A roomy timeout for the shared tier: a busy CI machine must not make a healthy cluster look down.
    return {"REDIS_URL": cluster.url, "BEZEL_REDIS__CLUSTER": "true", "BEZEL_REDIS__TIMEOUT_MS": "1000", **env}


@contextlib.asynccontextmanager
async def gateways(sandbox: Sandbox, cluster: RedisClusterHandle, n: int = 2, **env: str
                   ) -> AsyncIterator[list[Gateway]]:
    """`n` gateways, each with its own process state (cache, pools), sharing the cluster."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(run_gateway(settings_for(sandbox, **on_cluster(cluster, **env))))
               for _ in range(n)]


async def test_pages_share_the_cache_across_gateways_on_a_cluster(
    sandbox: Sandbox, redis_cluster: RedisClusterHandle
) -> None:
    async with gateways(sandbox, redis_cluster) as (a, b):
        first = await a.gql(TAX_QUERY, {"a": US_ADDRESS})
        second = await b.gql(TAX_QUERY, {"a": US_ADDRESS})
        assert first["data"]["product"]["taxEstimate"]["freshness"]["source"] == "LIVE"
        assert second["data"]["product"]["taxEstimate"]["freshness"]["source"] == "CACHE"
        assert sandbox.calls()["tax"] == 1
        # Many keys read at once (a page's variants' stock, spread over every master) come back whole.
        page = '{ product(handle: "seraphina-halo-ring") { variants { availability { status } } } }'
        sandbox.reset()
        sandbox.stock_all("seraphina-halo-ring", 10)  # above safety stock: answered from cache (below, live)
        await a.gql(page)
        answer = await b.gql(page)
        assert sandbox.calls()["inventory"] == 1
        assert len(answer["data"]["product"]["variants"]) == 220


async def test_single_flight_persisted_documents_and_rate_limits_span_gateways(
    sandbox: Sandbox, redis_cluster: RedisClusterHandle
) -> None:
    async with gateways(sandbox, redis_cluster, BEZEL_LIMITS__ORDER_LOOKUPS="2/minute") as (a, b):
        sandbox.fault("tax", delay_ms=300)
        both = await asyncio.gather(*(g.gql(TAX_QUERY, {"a": {**US_ADDRESS, "zip": "10009"}}) for g in (a, b) * 5))
        assert all(r["data"]["product"]["taxEstimate"] for r in both)
        assert sandbox.calls()["tax"] == 1  # one call for the cold key, whichever process made it

        text = "{ product(handle: \"gold-huggie-hoops\") { title } }"
        digest = hashlib.sha256(text.encode()).hexdigest()
        persisted = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
        assert (await a.http.post("/graphql", json={"query": text, **persisted})).status_code == 200
        by_hash = (await b.http.post("/graphql", json=persisted)).json()
        assert by_hash["data"]["product"]["title"]

        lookup = {"query": ORDER, "variables": {"id": "ord_00000000000000000000", "t": "x"}}
        statuses = [(await g.http.post("/graphql", json=lookup)).status_code for g in (a, b, a)]
        assert statuses == [200, 200, 429]  # one budget, shared by both processes


async def test_two_hundred_buyers_for_one_ring_on_a_cluster(sandbox: Sandbox, redis_cluster: RedisClusterHandle
                                                           ) -> None:
    async with gateways(sandbox, redis_cluster, n=1) as (shop,):
        ring = await variant(shop, "padparadscha-cocktail-ring")
        results = await asyncio.gather(*(shop.gql(PLACE, {"i": order_input(lines=[{"variantId": ring["id"]}])})
                                         for _ in range(200)))
        payloads = [r["data"]["placeOrder"] for r in results]
        orders = [p for p in payloads if p["order"]]
        assert len(orders) == 1
        assert {p["userErrors"][0]["code"] for p in payloads if not p["order"]} <= {"OUT_OF_STOCK",
                                                                                   "CHECKOUT_UNAVAILABLE"}
        store = RedisCluster.from_url(redis_cluster.url)
        assert int(store.hget("bezel:{checkout}:atp", "PAD-S0600")) == 0
        replayed = await shop.gql(ORDER, {"id": orders[0]["order"]["id"], "t": orders[0]["orderToken"]})
        assert replayed["data"]["order"]["id"] == orders[0]["order"]["id"]


@contextlib.contextmanager
def worker(sandbox: Sandbox, cluster: RedisClusterHandle) -> Iterator[subprocess.Popen[bytes]]:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("BEZEL_")}, "BEZEL_SANDBOX__URL": sandbox.url,
           "BEZEL_ENV": "test", "BEZEL_WORKER__BLOCK_MS": "100", **on_cluster(cluster)}
    process = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker", "--metrics-port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        yield process
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
def own_cluster(cluster_binary: str) -> Iterator[RedisClusterHandle]:
    """A cluster of this test's own: it loses a master."""
    with run_redis_cluster(cluster_binary) as cluster:
        yield cluster


async def test_a_master_lost_mid_sale_loses_no_order_and_oversells_nothing(
    sandbox: Sandbox, own_cluster: RedisClusterHandle
) -> None:
    """Buyers and shoppers keep coming while the master holding checkout's slot is killed: its replica
    takes over; every buyer told "confirmed" has an order afterwards (WAIT for a replica), no more are
    sold than there were, pages answer throughout (degraded, not failing) and recover by themselves, and
    the worker syncs every order to the ERP, resuming the stream where it was."""
    cluster = own_cluster
    env = {"BEZEL_CHECKOUT__WAIT_REPLICAS": "1", "BEZEL_CHECKOUT__REDIS_TIMEOUT_MS": "1500"}
    async with gateways(sandbox, cluster, n=1, **env) as (shop,):
        hoops = await variant(shop, "gold-huggie-hoops")
        stock = 40
        sandbox.set_stock(hoops["sku"], stock)
        confirmed: list[dict[str, Any]] = []
        pages: list[int] = []
        stop = asyncio.Event()

        async def buyer(n: int) -> None:
            key = str(uuid.uuid4())
            for _ in range(20):  # a buyer told to retry does, with the same key
                result = await shop.gql(PLACE, {"i": order_input(lines=[{"variantId": hoops["id"]}], key=key,
                                                                 email=f"b{n}@example.com")})
                placed = result["data"]["placeOrder"]
                if placed["order"]:
                    confirmed.append(placed)
                    return
                if placed["userErrors"][0]["code"] != "CHECKOUT_UNAVAILABLE":
                    return
                await asyncio.sleep(0.3)

        async def shopper() -> None:
            while not stop.is_set():
                response = await shop.http.post("/graphql", json={"query": TAX_QUERY, "variables": {"a": US_ADDRESS}})
                pages.append(response.status_code)
                await asyncio.sleep(0.05)

        with worker(sandbox, cluster):
            browsing = asyncio.create_task(shopper())
            first = [asyncio.create_task(buyer(n)) for n in range(15)]
            await asyncio.sleep(0.2)
            master = cluster.master_of(CHECKOUT_KEYS)
            cluster.kill(master)
            second = [asyncio.create_task(buyer(n)) for n in range(15, 30)]
            await asyncio.gather(*first, *second)
            await asyncio.to_thread(cluster.wait_healthy)
            late = [asyncio.create_task(buyer(n)) for n in range(30, 35)]  # after the failover: as usual
            await asyncio.gather(*late)
            stop.set()
            await browsing
            assert pages
            assert set(pages) == {200}
            after = await shop.gql(TAX_QUERY, {"a": US_ADDRESS})
            assert after["data"]["product"]["taxEstimate"]["rate"]

            ids = {c["order"]["id"] for c in confirmed}
            assert len(confirmed) >= 5  # the buyers after the failover at least
            assert len(ids) <= stock
            for placed in confirmed:  # every confirmation survived the failover
                found = await shop.gql(ORDER, {"id": placed["order"]["id"], "t": placed["orderToken"]})
                assert found["data"]["order"], placed["order"]["id"]
            store = RedisCluster.from_url(cluster.url)
            assert int(store.hget("bezel:{checkout}:atp", hoops["sku"])) >= 0
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                received = set(sandbox.admin().get("/received/erp").json())  # by order id
                if ids <= received:
                    break
                await asyncio.sleep(0.5)
            assert ids <= received


def test_the_cluster_client_splits_many_keys_by_slot(redis_cluster: RedisClusterHandle) -> None:
    """The shared tier's multi-key read on a cluster (a plain MGET would be CROSSSLOT)."""
    from connectors.config import RedisConfig
    from connectors.redisclient import SharedRedis, read_many

    async def run() -> list[bytes | None]:
        shared = SharedRedis(RedisConfig(url=redis_cluster.url, cluster=True, timeout_ms=1000))
        try:
            await shared.client.set("bezel:cache:a", b"1")
            await shared.client.set("bezel:cache:b", b"2")
            return await read_many(shared.client, ["bezel:cache:a", "bezel:cache:zz", "bezel:cache:b"])
        finally:
            await shared.aclose()

    assert asyncio.run(run()) == [b"1", None, b"2"]


def test_a_plain_client_on_a_cluster_is_refused_by_it(redis_cluster: RedisClusterHandle) -> None:
    """Why `[redis] cluster` exists: a single-node client's MGET across slots fails."""
    import redis as redis_py

    client = redis_py.Redis.from_url(redis_cluster.url)
    with pytest.raises(redis_py.ResponseError, match=r"same slot|MOVED"):
        client.mget(["bezel:cache:a", "bezel:cache:b", "bezel:cache:c"])


"""Purges reach the sandbox's Fastly and Cloudflare over real HTTP, with their auth, retried as
`connectors.retry` says (never after 401/403/404), counted, and only from the process that published."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx

from connectors.catalog import LISTING
from connectors.config import CacheConfig, EdgeConfig, RedisConfig
from connectors.edge import EdgePurger, build_purger, keys_of
from connectors.edge.purger import PURGES
from connectors.events import Invalidation, InvalidationBus
from connectors.policy.cache import TieredCache
from connectors.redisclient import SharedRedis
from sandbox.handle import Sandbox
from sandbox.vendors.edge import TOKEN

FAST = {"retry_backoff_ms": 1, "retry_backoff_max_ms": 5, "timeout_ms": 2000}


def purges(sandbox: Sandbox) -> list[dict[str, Any]]:
    with sandbox.admin() as admin:
        return admin.get("/purges").json()


def purger(sandbox: Sandbox, provider: str, token: str = TOKEN, **config: Any) -> EdgePurger:
    built = build_purger(EdgeConfig(provider=provider, service_id="SVC1", **{**FAST, **config}), token, sandbox.url)
    assert built is not None
    return built


def count(provider: str, outcome: str) -> int:
    return PURGES.counts.get((("outcome", outcome), ("provider", provider)), 0)


@pytest.fixture
async def fastly(sandbox: Sandbox) -> AsyncIterator[EdgePurger]:
    edge = purger(sandbox, "fastly")
    yield edge
    await edge.aclose()


@pytest.fixture
async def cloudflare(sandbox: Sandbox) -> AsyncIterator[EdgePurger]:
    edge = purger(sandbox, "cloudflare")
    yield edge
    await edge.aclose()


def test_an_invalidation_names_the_keys_the_answers_holding_it_carry() -> None:
    change = Invalidation(source="shopify", origin_at=0.0, tags=("product:7", LISTING), products=("7",),
                          skus=("RING-6", "RING 7", "RING-6"))
    assert keys_of(change) == ["product-list", "product-7", "sku-RING-6", "sku-RING_7"]
    assert keys_of(Invalidation(source="checkout", origin_at=0.0, orders=("BZ-1",))) == []


def test_no_provider_no_purger() -> None:
    assert build_purger(EdgeConfig(), "", "http://sandbox") is None


async def test_fastly_soft_purges_by_surrogate_key_with_its_key(fastly: EdgePurger, sandbox: Sandbox) -> None:
    before = count("fastly", "ok")
    assert await fastly.purge(["product-7", "sku-A"], time.time())
    assert purges(sandbox) == [{"provider": "fastly", "target": "SVC1", "keys": ["product-7", "sku-A"], "soft": True,
                                "at": purges(sandbox)[0]["at"]}]
    assert count("fastly", "ok") == before + 1


async def test_cloudflare_purges_by_tag_with_a_bearer_token(cloudflare: EdgePurger, sandbox: Sandbox) -> None:
    assert await cloudflare.purge(["product-7"])
    [purge] = purges(sandbox)
    assert (purge["provider"], purge["target"], purge["keys"]) == ("cloudflare", "SVC1", ["product-7"])


@pytest.mark.parametrize("provider", ["fastly", "cloudflare"])
async def test_a_wrong_token_is_refused_and_not_tried_again(sandbox: Sandbox, provider: str) -> None:
    edge = purger(sandbox, provider, token="wrong")
    before = count(provider, "refused")
    try:
        assert not await edge.purge(["product-7"])
    finally:
        await edge.aclose()
    assert sandbox.calls()[provider] == 1
    assert purges(sandbox) == []
    assert count(provider, "refused") == before + 1


@pytest.mark.parametrize("fault", [{"status": 503}, {"status": 429, "retry_after_s": 0}, {"reset": True}])
async def test_a_failed_purge_is_tried_again(fastly: EdgePurger, sandbox: Sandbox, fault: dict[str, Any]) -> None:
    sandbox.fault("fastly", **fault, times=2)
    before = count("fastly", "retried")
    assert await fastly.purge(["sku-A"])
    assert sandbox.calls()["fastly"] == 3
    assert [p["keys"] for p in purges(sandbox)] == [["sku-A"]]
    assert count("fastly", "retried") == before + 1


async def test_a_purge_that_keeps_failing_gives_up_after_its_attempts(sandbox: Sandbox) -> None:
    sandbox.fault("cloudflare", status=500)
    edge = purger(sandbox, "cloudflare", retry_attempts=3)
    before = count("cloudflare", "failed")
    try:
        assert not await edge.purge(["sku-A"])
    finally:
        await edge.aclose()
    assert sandbox.calls()["cloudflare"] == 3
    assert count("cloudflare", "failed") == before + 1


async def test_a_purge_that_hangs_times_out_and_is_tried_again(sandbox: Sandbox) -> None:
    sandbox.fault("fastly", hang=True, times=1)
    edge = purger(sandbox, "fastly", timeout_ms=200)
    try:
        assert await edge.purge(["sku-A"])
    finally:
        await edge.aclose()
    assert sandbox.calls()["fastly"] == 2


async def test_the_invalidations_this_process_publishes_are_purged_in_batches(sandbox: Sandbox) -> None:
    edge = purger(sandbox, "cloudflare", batch_keys=30)
    bus = InvalidationBus(TieredCache(CacheConfig()), None)
    bus.on_publish(edge.hook)
    skus = [f"SKU-{i}" for i in range(70)]
    try:
        await bus.publish(Invalidation(source="erp", origin_at=time.time(), skus=skus[:40]))
        await bus.publish(Invalidation(source="shopify", origin_at=time.time(), products=("9",), tags=("product:9",)))
        await bus.publish(Invalidation(source="erp", origin_at=time.time(), skus=skus[40:]))
        await bus.publish(Invalidation(source="checkout", origin_at=time.time(), orders=("BZ-1",)))  # no keys
        await edge.drained()
    finally:
        await edge.aclose()
    sent = [key for p in purges(sandbox) for key in p["keys"]]
    assert sorted(sent) == sorted([f"sku-{s}" for s in skus] + ["product-9"])
    assert all(len(p["keys"]) <= 30 for p in purges(sandbox))


async def test_what_another_process_published_is_not_purged_again(redis_url: str, sandbox: Sandbox) -> None:
    caches = [TieredCache(CacheConfig(), redis=SharedRedis(RedisConfig(url=redis_url, timeout_ms=2000)))
              for _ in range(2)]
    buses = [InvalidationBus(cache, cache.redis) for cache in caches]
    edges = [purger(sandbox, "fastly") for _ in buses]
    heard: list[Invalidation] = []
    for bus, edge in zip(buses, edges, strict=True):
        await bus.start()
        bus.on_publish(edge.hook)
    buses[1].listen(heard.append)
    try:
        await buses[0].publish(Invalidation(source="erp", origin_at=time.time(), skus=("SKU-1",)))
        deadline = time.monotonic() + 5
        while not heard and time.monotonic() < deadline:
            await edges[0].drained()
            await asyncio.sleep(0.02)
        assert heard  # the other process heard it...
        for edge in edges:
            await edge.drained()
    finally:
        for bus, edge, cache in zip(buses, edges, caches, strict=True):
            await edge.aclose()
            await bus.aclose()
            await cache.aclose()
    assert [p["keys"] for p in purges(sandbox)] == [["sku-SKU-1"]]  # ...and only the publisher purged


async def test_a_hook_that_fails_does_not_stop_the_bus() -> None:
    bus = InvalidationBus(TieredCache(CacheConfig()), None)
    heard: list[Invalidation] = []

    def broken(_: Invalidation) -> None:
        raise RuntimeError("bug")

    bus.on_publish(broken)
    bus.on_publish(heard.append)
    await bus.publish(Invalidation(source="erp", origin_at=0.0, skus=("A",)))
    assert len(heard) == 1


@respx.mock
async def test_varnish_is_sent_a_purge_naming_the_keys_in_xkey() -> None:
    route = respx.request("PURGE", "http://varnish.test:6081/").mock(return_value=httpx.Response(200))
    edge = build_purger(EdgeConfig(provider="varnish", purge_url="http://varnish.test:6081", **FAST), "", "")
    assert edge is not None
    try:
        assert await edge.purge(["product-1", "sku-A"])
    finally:
        await edge.aclose()
    assert route.calls.last.request.headers["xkey"] == "product-1 sku-A"


@respx.mock
async def test_varnish_refusing_a_purge_outside_its_acl_is_not_tried_again() -> None:
    route = respx.request("PURGE", "http://varnish.test:6081/").mock(return_value=httpx.Response(403))
    edge = build_purger(EdgeConfig(provider="varnish", purge_url="http://varnish.test:6081", **FAST), "", "")
    assert edge is not None
    try:
        assert not await edge.purge(["sku-A"])
    finally:
        await edge.aclose()
    assert route.call_count == 1

"""What a process holds (`gateway.services`), on a real Redis: checkout's store where it is configured, budgets and
invalidations shared by every process on one Redis, and all of it working in-process without one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis

from connectors.events import Invalidation
from gateway.services import PAGES_BATCH, open_store, running_services
from gateway.settings import Settings, load_settings
from resolvers.context import Services


def settings(**sections: Any) -> Settings:
    return load_settings(None, env="test", sandbox={"url": "http://sandbox"}, **sections)


@contextlib.asynccontextmanager
async def process(redis_url: str = "", **sections: Any) -> AsyncIterator[Services]:
    from sandbox import create_app as create_sandbox

    box = create_sandbox(latency_scale=0.0, seed=7, erp_sync_delay_ms=0)
    config = settings(redis={"url": redis_url, "timeout_ms": 2000}, **sections)
    async with running_services(config, vendor_transport=httpx.ASGITransport(app=box)) as services:
        yield services


def counter(url: str) -> bytes | None:
    """RUB-PT's stock counter in the Redis at `url`, as checkout keeps it."""
    with redis.Redis.from_url(url) as client:
        return client.hget("bezel:{checkout}:atp", "RUB-PT")


async def test_without_redis_there_is_no_checkout_and_budgets_still_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert open_store(settings()) is None
    async with process(limits={"pages": "2/hour"}, availability={"counter_timeout_ms": 250}) as services:
        assert services.store is None  # checkout answers CHECKOUT_UNAVAILABLE
        assert [await services.limits.hit("pages", "c") for _ in range(2)] == [None, None]
        assert await services.limits.hit("pages", "c") is not None
        assert services.counter_timeout_s == 0.25


async def test_checkout_keeps_its_orders_on_its_own_redis_when_it_has_one(redis_url: str,
                                                                          checkout_redis_url: str) -> None:
    async with process(redis_url, checkout={"redis_url": checkout_redis_url}) as services:
        assert services.store is not None
        await services.store.stock.reconcile({"RUB-PT": 3}, {})
    assert (counter(checkout_redis_url), counter(redis_url)) == (b"3", None)
    async with process(redis_url) as services:  # no Redis of its own: the shared one
        assert services.store is not None
        assert await services.store.stock.available(["RUB-PT"]) == {"RUB-PT": None}
        await services.store.stock.reconcile({"RUB-PT": 5}, {})
    assert counter(redis_url) == b"5"


async def test_processes_on_one_redis_share_budgets_pages_counted_in_batches(redis_url: str) -> None:
    limits = {"pages": f"{PAGES_BATCH + 5}/hour", "checkout": "3/hour"}
    async with process(redis_url, limits=limits, events={"rate": "2/hour"}) as a, \
            process(redis_url, limits=limits) as b:
        assert [await a.limits.hit("pages", "c") for _ in range(PAGES_BATCH)] == [None] * PAGES_BATCH
        # b's first uses wait in its batch; the batch that reaches Redis finds the budget spent
        assert [await b.limits.hit("pages", "c") for _ in range(PAGES_BATCH - 1)] == [None] * (PAGES_BATCH - 1)
        assert await b.limits.hit("pages", "c") is not None
        assert [await a.limits.hit("checkout", "c") for _ in range(3)] == [None] * 3
        assert await b.limits.hit("checkout", "c") is not None  # checkout counts every use at once
        assert [await a.limits.hit("webhooks", "shopify") for _ in range(3)][-1] is not None  # `[events] rate`


async def test_what_one_process_invalidates_every_process_drops(redis_url: str) -> None:
    async with process(redis_url) as a, process(redis_url) as b:
        for services in (a, b):
            services.vendors.cache.put_local("catalog:x", {"price": 1}, keep_s=60, stored_at=time.time(),
                                             tags=("product:1",))
        await a.bus.publish(Invalidation(source="shopify", origin_at=time.time(), tags=["product:1"]))
        for _ in range(250):
            if "catalog:x" not in b.vendors.cache.local:
                break
            await asyncio.sleep(0.02)
        assert "catalog:x" not in b.vendors.cache.local

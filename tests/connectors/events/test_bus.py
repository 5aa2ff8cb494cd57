"""One invalidation reaches every process's own tier; a process that lost its subscription drops its tier."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from connectors.config import CacheConfig, RedisConfig
from connectors.events import Invalidation, InvalidationBus
from connectors.policy.cache import TieredCache
from connectors.redisclient import SharedRedis


async def eventually(check, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "not within the timeout"
        await asyncio.sleep(0.02)


@pytest.fixture
async def two(redis_url: str) -> AsyncIterator[tuple[tuple[TieredCache, InvalidationBus], ...]]:
    processes = []
    for _ in range(2):
        cache = TieredCache(CacheConfig(), redis=SharedRedis(RedisConfig(url=redis_url, timeout_ms=2000)))
        bus = InvalidationBus(cache, cache.redis)
        await bus.start()
        processes.append((cache, bus))
    yield tuple(processes)
    for cache, bus in processes:
        await bus.aclose()
        await cache.aclose()


async def test_what_one_process_drops_every_process_drops(two) -> None:
    (a, bus_a), (b, _) = two
    for cache in (a, b):
        cache.put_local("catalog:x", {"price": 1}, keep_s=60, stored_at=time.time(), tags=("product:1",))
        cache.put_local("inventory:levels:S1", 3, keep_s=60, stored_at=time.time())
        cache.put_local("catalog:y", {"price": 2}, keep_s=60, stored_at=time.time(), tags=("product:2",))
    await bus_a.publish(Invalidation(source="shopify", origin_at=time.time(), keys=["inventory:levels:S1"],
                                     tags=["product:1"]))
    assert "catalog:x" not in a.local  # at once where it was taken
    await eventually(lambda: "catalog:x" not in b.local and "inventory:levels:S1" not in b.local)
    assert "catalog:y" in b.local  # exactly the affected entries
    assert b.forgotten_since("catalog:x", ("product:1",), time.time() - 5)  # an answer in flight is not stored


async def test_a_process_that_was_cut_off_drops_its_whole_tier_when_it_hears_again(two, redis_url: str) -> None:
    (_, _), (b, bus_b) = two
    b.put_local("catalog:z", 1, keep_s=60, stored_at=time.time())
    admin = aioredis.Redis.from_url(redis_url)
    try:
        for client in await admin.client_list(_type="pubsub"):
            await admin.client_kill_filter(_id=client["id"])
    finally:
        await admin.aclose()
    await eventually(lambda: "catalog:z" not in b.local)
    await eventually(lambda: bus_b.connected)

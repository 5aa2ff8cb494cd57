"""The two cache tiers: ages across processes, expiry, and Redis down as a degraded state."""

from __future__ import annotations

import asyncio
import time

import redis

from connectors.config import CacheConfig, RedisConfig
from connectors.models import Money, StockLevel, TaxQuote
from connectors.policy.cache import TieredCache
from connectors.redisclient import SharedRedis
from sandbox.handle import free_port


async def test_local_tier_keeps_value_and_age_until_expiry() -> None:
    cache = TieredCache(CacheConfig(local_max_entries=2))
    await cache.put("k", Money.of("1", "USD"), Money, keep_s=0.05, stored_at=time.time() - 1.0)
    assert await cache.get("k", Money) is None  # stored a second ago for 50 ms: gone
    await cache.put("k", Money.of("2", "USD"), Money, keep_s=10)
    entry = await cache.get("k", Money)
    assert entry is not None
    assert (entry.value, entry.tier) == (Money.of("2", "USD"), "local")
    await cache.put("a", 1, int, keep_s=10)
    await cache.put("b", 2, int, keep_s=10)
    assert await cache.get("k", Money) is None  # bounded: the least recently used went


async def test_redis_tier_shares_values_with_their_original_age(redis_url: str) -> None:
    writer = TieredCache(CacheConfig(), redis=SharedRedis(RedisConfig(url=redis_url)))
    reader = TieredCache(CacheConfig(), redis=SharedRedis(RedisConfig(url=redis_url)))
    try:
        stored_at = time.time() - 3
        await writer.put("tax:q:1", Money.of("377.19", "USD"), Money, keep_s=60, stored_at=stored_at)
        entry = await reader.get("tax:q:1", Money)
        assert entry is not None
        assert entry.tier == "redis"
        assert entry.value == Money.of("377.19", "USD")
        assert 2.9 < entry.age_s() < 4
        again = await reader.get("tax:q:1", Money)
        assert again is not None
        assert again.tier == "local"  # copied into the reader's own tier
        levels = {f"inventory:levels:S{i}": StockLevel(f"S{i}", i, i) for i in range(3)}
        await writer.put_many(levels, StockLevel, keep_s=60, stored_at=time.time())
        found = await reader.get_many([*levels, "inventory:levels:nope"], StockLevel)
        assert {k: e.value for k, e in found.items()} == levels
        ttl = redis.Redis.from_url(redis_url).pttl("bezel:cache:tax:q:1")
        assert 55_000 < ttl <= 60_000
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_an_unreadable_shared_entry_is_a_miss(redis_url: str) -> None:
    redis.Redis.from_url(redis_url).set("bezel:cache:tax:q:2", b"not json")
    cache = TieredCache(CacheConfig(), redis=SharedRedis(RedisConfig(url=redis_url)))
    try:
        assert await cache.get("tax:q:2", TaxQuote) is None
    finally:
        await cache.aclose()


async def test_redis_down_is_degraded_fast_and_skipped_until_retry() -> None:
    tier = SharedRedis(RedisConfig(url=f"redis://127.0.0.1:{free_port()}/0", timeout_ms=50, retry_after_ms=200))
    failures = counting(tier)
    cache = TieredCache(CacheConfig(), redis=tier)
    try:
        started = time.monotonic()
        await cache.put("k", 1, int, keep_s=10)  # the local tier still takes it
        assert await cache.get("k", int) is not None
        assert await cache.get("other", int) is None
        assert time.monotonic() - started < 0.5
        assert tier.state == "degraded"
        seen = len(failures)
        await cache.get("other", int)
        assert len(failures) == seen  # skipped while backing off: no new attempt, no wait
        await asyncio.sleep(0.25)
        await cache.get("other", int)
        assert len(failures) == seen + 1  # tried again after retry_after_ms
    finally:
        await cache.aclose()


def counting(tier: SharedRedis) -> list[BaseException]:
    """The failures the tier meets from now on (each one a Redis call that was really attempted)."""
    seen: list[BaseException] = []
    failed = tier._failed

    def record(exc: BaseException) -> None:
        seen.append(exc)
        failed(exc)

    tier._failed = record  # type: ignore[method-assign]
    return seen


async def test_an_entry_is_forgotten_by_its_tags_in_both_tiers_and_only_it(redis_url: str) -> None:
    """A product edited in Shopify drops every answer holding it, whatever request it was cached under."""
    config = RedisConfig(url=redis_url, timeout_ms=2000)
    one = TieredCache(CacheConfig(), redis=SharedRedis(config))
    two = TieredCache(CacheConfig(), redis=SharedRedis(config))
    try:
        await one.put("catalog:by_handle:a,b", {"a": 1, "b": 2}, dict[str, int], keep_s=60,
                      tags=("product:1", "product:2"))
        await one.put("catalog:by_id:2", {"b": 2}, dict[str, int], keep_s=60, tags=("product:2",))
        assert await two.get("catalog:by_handle:a,b", dict[str, int]) is not None  # now in two's tier too
        started = time.time()
        assert await one.forget(tags=["product:1"]) == 2  # here, and in Redis
        assert await one.get("catalog:by_handle:a,b", dict[str, int]) is None
        assert (await two.get_shared("catalog:by_handle:a,b", dict[str, int])) is None
        assert await one.get("catalog:by_id:2", dict[str, int]) is not None  # product 2 alone: kept
        assert one.forgotten_since("catalog:anything", ("product:1",), started)  # an answer in flight
        assert not one.forgotten_since("catalog:anything", ("product:2",), started)
        assert redis.Redis.from_url(redis_url).exists("bezel:tag:product:1") == 0
    finally:
        await one.aclose()
        await two.aclose()

"""A request's shared-tier writes go in one round trip as it is answered; what an event dropped stays dropped."""

from __future__ import annotations

import time

import redis.asyncio as aredis
from redis.asyncio.connection import AbstractConnection
from redis.crc import key_slot

from connectors.config import CacheConfig, RedisConfig
from connectors.policy.cache import TieredCache
from connectors.policy.singleflight import SharedFlight
from connectors.redisclient import SharedRedis
from connectors.sharedwrites import Write, deferred_writes, script_calls


async def test_writes_in_a_request_wait_for_its_answer_and_go_in_one_round_trip(redis_url: str) -> None:
    shared = SharedRedis(RedisConfig(url=redis_url, timeout_ms=2000))
    cache, flight = TieredCache(CacheConfig(), redis=shared), SharedFlight(shared)
    raw = aredis.Redis.from_url(redis_url)
    send, sends = AbstractConnection.send_packed_command, 0

    async def counted(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        nonlocal sends
        sends += 1
        await send(self, command, check_health)  # type: ignore[arg-type]

    try:
        claim = await flight.read_or_lease("tax:a", ttl_s=5)
        assert claim.permit is not None
        await shared.send_writes([Write([("set", "warm", b"x", 1000)])])  # the script loaded: one send below
        AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
        async with deferred_writes():
            await flight.release(claim.permit, b"answer-a", keep_s=5)
            await cache.put("insurance:b", 7, int, keep_s=5, tags=["product:1"])
            await cache.put_many({"inventory:levels:S1": 1, "inventory:levels:S2": 2}, int, keep_s=5,
                                 stored_at=time.time())
            assert sends == 0  # queued while the request is under way
            assert await cache.get("insurance:b", int) is not None  # this process has it at once
        assert sends == 1
        AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
        assert await raw.get(shared.key("cache", "tax:a")) == b"answer-a"
        assert await raw.exists(SharedFlight.lease_key(shared.key("cache", "tax:a"))) == 0  # let go
        assert await raw.smembers(shared.key("tag", "product:1")) == {b"insurance:b"}
        assert 0 < await raw.pttl(shared.key("tag", "product:1")) <= 5000
        assert len(await raw.mget([shared.key("cache", f"inventory:levels:S{i}") for i in (1, 2)])) == 2
        await cache.put("late", 1, int, keep_s=5)  # the request is over: at once
        assert await raw.exists(shared.key("cache", "late")) == 1
    finally:
        AbstractConnection.send_packed_command = send  # type: ignore[method-assign]
        await raw.aclose()
        await shared.aclose()


async def test_a_queued_write_an_event_dropped_since_is_not_sent(redis_url: str) -> None:
    shared = SharedRedis(RedisConfig(url=redis_url, timeout_ms=2000))
    cache = TieredCache(CacheConfig(), redis=shared)
    raw = aredis.Redis.from_url(redis_url)
    try:
        started = time.time()
        async with deferred_writes():
            await cache.put("catalog:p1", 1, int, keep_s=5, tags=["product:1"], started=started)
            await cache.put("catalog:p2", 2, int, keep_s=5, tags=["product:2"], started=started)
            cache.forget_local(tags=["product:1"])  # an event about product 1 arrives before the answer leaves
        assert await raw.exists(shared.key("cache", "catalog:p1")) == 0
        assert await raw.get(shared.key("cache", "catalog:p2")) is not None
    finally:
        await raw.aclose()
        await shared.aclose()


async def test_a_lease_given_back_with_no_answer_goes_at_once(redis_url: str) -> None:
    shared = SharedRedis(RedisConfig(url=redis_url, timeout_ms=2000))
    flight = SharedFlight(shared)
    try:
        async with deferred_writes():
            permit = await flight.acquire("tax:k", ttl_s=5)
            assert permit is not None
            await flight.let_go(permit)  # its call failed: another process may be waiting to take it
            assert await flight.acquire("tax:k", ttl_s=5) is not None
    finally:
        await shared.aclose()


def test_on_a_cluster_writes_go_one_script_per_slot_an_entry_with_its_lease() -> None:
    entry = "bezel:cache:tax:estimate:abc"
    lease = SharedFlight.lease_key(entry)
    other = next(f"bezel:cache:k{i}" for i in range(100) if key_slot(f"bezel:cache:k{i}".encode()) != key_slot(
        entry.encode()))
    writes = [Write([("set", entry, b"v", 100)]), Write([("release", lease, "t")]), Write([("set", other, b"w", 100)])]
    calls = script_calls(writes, cluster=True)
    assert calls == [([entry, lease], ["set", b"v", 100, "release", "t"]), ([other], ["set", b"w", 100])]
    assert script_calls(writes, cluster=False) == [([entry, lease, other],
                                                    ["set", b"v", 100, "release", "t", "set", b"w", 100])]

"""The cross-process lease: taken with the shared-cache read, given back with the shared-cache write."""

from __future__ import annotations

import asyncio

import httpx
import redis.asyncio as aredis
import respx
from redis.crc import key_slot

from connectors import tax
from connectors.config import CacheConfig, RedisConfig, VendorConfig
from connectors.http import VendorCall, VendorClient, VendorRequest
from connectors.policy import CallPolicy, CallScope, Deadline
from connectors.policy.cache import TieredCache
from connectors.policy.singleflight import SharedFlight
from connectors.redisclient import SharedRedis
from tests.connectors.helpers import BASE


def _flight(url: str) -> SharedFlight:
    return SharedFlight(SharedRedis(RedisConfig(url=url)))


def test_a_lease_is_in_its_entrys_hash_slot() -> None:
    for entry in ("bezel:cache:tax:estimate:abc", "bezel:cache:{checkout}:x", "bezel:cache:a{b"):
        assert key_slot(SharedFlight.lease_key(entry).encode()) == key_slot(entry.encode())


async def test_a_miss_takes_the_lease_in_the_same_round_trip_and_a_second_process_waits(redis_url: str) -> None:
    one, two = _flight(redis_url), _flight(redis_url)
    try:
        first = await one.read_or_lease("tax:k", ttl_s=5)
        assert first.payload is None
        assert first.permit is not None
        assert first.permit.token
        second = await two.read_or_lease("tax:k", ttl_s=5)
        assert second.payload is None
        assert second.permit is None  # someone else is calling
        assert await two.acquire("tax:k", ttl_s=5) is None

        await one.release(first.permit, b'{"v": 1}', keep_s=5)  # stored and let go, one round trip
        third = await two.read_or_lease("tax:k", ttl_s=5)
        assert third.payload == b'{"v": 1}'
        assert third.permit is None
        assert await two.acquire("tax:k", ttl_s=5) is not None  # the lease is free again
    finally:
        await one.redis.aclose()
        await two.redis.aclose()


async def test_an_expired_lease_someone_else_took_is_not_released(redis_url: str) -> None:
    one, two = _flight(redis_url), _flight(redis_url)
    raw = aredis.Redis.from_url(redis_url)
    try:
        mine = await one.acquire("tax:x", ttl_s=0.05)
        assert mine is not None
        await raw.delete(SharedFlight.lease_key(one.redis.key("cache", "tax:x")))  # as if it expired
        theirs = await two.acquire("tax:x", ttl_s=5)
        assert theirs is not None
        await one.release(mine, b"late", keep_s=5)  # its answer is still stored ...
        assert await raw.get(one.redis.key("cache", "tax:x")) == b"late"
        assert await one.acquire("tax:x", ttl_s=5) is None  # ... but the other process keeps its lease
    finally:
        await raw.aclose()
        await one.redis.aclose()
        await two.redis.aclose()


async def test_redis_unreachable_gives_leave_to_call_without_a_lease() -> None:
    flight = SharedFlight(SharedRedis(RedisConfig(url="redis://127.0.0.1:1/0", timeout_ms=50)))
    try:
        claim = await flight.read_or_lease("tax:k", ttl_s=5)
        assert claim.payload is None
        assert claim.permit is not None
        assert claim.permit.token is None
        await flight.release(claim.permit, b"x", keep_s=5)  # nothing to let go of, and no error
    finally:
        await flight.redis.aclose()


@respx.mock(base_url=BASE, using="httpx")
async def test_a_lease_let_go_without_an_answer_passes_to_one_waiting_process(respx_mock, redis_url: str) -> None:
    """Two processes wait on a third's lease; it lets go without an answer (its call failed, or a request
    holding it joined its own process's call). One of the two takes the lease and calls; the other waits
    for that answer. Both used to call: on a Redis Cluster, CI saw two tax calls for one cold key."""

    async def slow(_request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.1)
        return httpx.Response(200, json={"v": 1})

    route = respx_mock.get("/thing").mock(side_effect=slow)
    call = VendorCall("tax", "thing", VendorRequest("GET", "/thing"), lambda data: data["v"], result_type=int)
    config = VendorConfig(timeout_ms=1000, cache_ttl_s=5, stale_ttl_s=60, retry_attempts=1, hedge=False)
    policies = [CallPolicy("tax", config, VendorClient("tax", BASE, read_error=tax.read_error,
                                                       transport=httpx.AsyncHTTPTransport()),
                           cache=TieredCache(CacheConfig(), redis=SharedRedis(RedisConfig(url=redis_url))))
                for _ in range(2)]
    raw = aredis.Redis.from_url(redis_url)
    lease = SharedFlight.lease_key(policies[0].shared.redis.key("cache", call.cache_key))  # type: ignore[union-attr]
    try:
        await raw.set(lease, "a third process", px=5000)
        waiting = [asyncio.ensure_future(p.run(call, CallScope(Deadline.after_ms(2000)))) for p in policies]
        await asyncio.sleep(0.05)
        assert route.call_count == 0  # both wait for the holder
        await raw.delete(lease)  # it lets go with nothing stored
        answers = await asyncio.gather(*waiting)
        assert [a.value for a in answers] == [1, 1]
        assert route.call_count == 1
    finally:
        await raw.aclose()
        for p in policies:
            await p.aclose()
            await p.cache.redis.aclose()  # type: ignore[union-attr]

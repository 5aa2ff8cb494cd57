"""The checkout store's connection: keys under one hash tag, every Redis failure or timeout turned into
CheckoutUnavailable (never a half answer), and Redis WAIT for replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.exceptions import ResponseError

from connectors.checkout.connection import TAG, CheckoutRedis, Keys
from connectors.config import CheckoutConfig, RedisConfig
from connectors.errors import CheckoutUnavailable


def test_every_key_shares_the_hash_tag_under_its_prefix() -> None:
    keys = Keys.under("shop")
    names = [keys.atp, keys.reservations, keys.expiry, keys.commits, keys.stream, keys.dead_letters, keys.owed]
    assert names == ["shop:{checkout}:atp", "shop:{checkout}:reservations", "shop:{checkout}:reservations:expiry",
                     "shop:{checkout}:commits", "shop:{checkout}:orders", "shop:{checkout}:orders:dead",
                     "shop:{checkout}:orders:owed"]
    assert len(set(names)) == len(names)
    assert keys.key("idem", "abc") == f"shop:{TAG}:idem:abc"


@pytest.fixture
async def conn(redis_url: str) -> AsyncIterator[CheckoutRedis]:
    c = CheckoutRedis(redis_url, CheckoutConfig(redis_timeout_ms=200), RedisConfig(key_prefix="t"))
    yield c
    await c.aclose()


async def test_calls_answer_through_the_bounded_client(conn: CheckoutRedis) -> None:
    assert conn.timeout_s == 0.2
    assert conn.keys.atp == "t:{checkout}:atp"
    await conn.do(lambda: conn.client.set("k", "v"))
    assert await conn.do(lambda: conn.client.get("k")) == b"v"
    assert await conn.ping()


async def test_a_redis_error_or_a_timeout_is_checkout_unavailable(conn: CheckoutRedis) -> None:
    with pytest.raises(CheckoutUnavailable) as caught:
        await conn.do(lambda: conn.client.execute_command("NO-SUCH-COMMAND"))
    assert isinstance(caught.value.__cause__, ResponseError)
    assert "Checkout is unavailable" in caught.value.message
    assert "NO-SUCH-COMMAND" not in caught.value.message
    with pytest.raises(CheckoutUnavailable):
        await conn.do(lambda: asyncio.sleep(30))
    with pytest.raises(CheckoutUnavailable):  # a caller's own shorter bound
        await conn.do(lambda: asyncio.sleep(30), timeout_s=0.01)


async def test_a_bug_is_not_dressed_up_as_redis_failing(conn: CheckoutRedis) -> None:
    async def broken() -> None:
        raise KeyError("ours")

    with pytest.raises(KeyError):
        await conn.do(broken)


async def test_an_unreachable_redis_pings_false_and_calls_fail_as_unavailable() -> None:
    down = CheckoutRedis("redis://127.0.0.1:1/0", CheckoutConfig(redis_timeout_ms=500), RedisConfig())
    try:
        assert await down.ping() is False
        with pytest.raises(CheckoutUnavailable):
            await down.do(lambda: down.client.get("k"))
    finally:
        await down.aclose()


async def test_replicated_waits_for_the_configured_replicas_or_fails(redis_url: str, conn: CheckoutRedis) -> None:
    await conn.replicated(conn.keys.atp)  # wait_replicas 0: nothing to wait for
    lonely = CheckoutRedis(redis_url, CheckoutConfig(wait_replicas=1, redis_timeout_ms=100), RedisConfig())
    try:
        # A lone server has no replica to acknowledge: "0 of 1 replicas", or the bound passing first.
        with pytest.raises(CheckoutUnavailable):
            await lonely.replicated(lonely.keys.atp)
    finally:
        await lonely.aclose()


def test_checkout_follows_the_shared_redis_kind_unless_it_has_its_own(redis_url: str) -> None:
    shared = CheckoutRedis(redis_url, CheckoutConfig(redis_cluster=True), RedisConfig(cluster=False))
    assert shared.cluster is False  # no redis_url of its own: the [redis] section decides
    assert CheckoutRedis(redis_url, CheckoutConfig(), RedisConfig(key_prefix="p")).keys == Keys("p:{checkout}")

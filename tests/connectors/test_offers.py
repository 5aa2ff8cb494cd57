"""The offer log: a SKU refused out of stock counts as a ghost offer only if a page offered it within the
window, on this process or (through Redis) on another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest

from connectors import offers
from connectors.config import RedisConfig
from connectors.offers import OfferLog
from connectors.redisclient import SharedRedis


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    fake = SimpleNamespace(now=1_700_000_000.0)
    monkeypatch.setattr(offers, "time", SimpleNamespace(time=lambda: fake.now))
    return fake


async def test_only_skus_offered_within_the_window_are_ghosts(clock: SimpleNamespace) -> None:
    log = OfferLog(None, window_s=30)
    log.offered(["A", "B"])
    clock.now += 29
    log.offered(["B"])
    assert await log.count_ghosts(["A", "B", "NEVER"]) == 2
    clock.now += 2  # A's offer is now 31 s old, B's 2 s
    assert await log.count_ghosts(["A"]) == 0
    assert await log.count_ghosts(["B"]) == 1
    assert await log.count_ghosts([]) == 0


@pytest.fixture
async def shared(redis_url: str) -> AsyncIterator[SharedRedis]:
    redis = SharedRedis(RedisConfig(url=redis_url, timeout_ms=2000))
    yield redis
    await redis.aclose()


async def test_an_offer_on_one_process_is_a_ghost_on_another(shared: SharedRedis) -> None:
    page, checkout = OfferLog(shared, window_s=60), OfferLog(shared, window_s=60)
    page.offered(["RING"])
    for _ in range(500):  # the page shares its offer in the background: written, then given its expiry
        if await shared.client.pttl(page.key) > 0:
            break
        await asyncio.sleep(0.01)
    assert await checkout.count_ghosts(["RING", "HOOPS"]) == 1
    assert 0 < await shared.client.pttl(page.key) <= 60_000  # kept no longer than the window


async def test_with_redis_down_offers_still_count_on_this_process() -> None:
    down = SharedRedis(RedisConfig(url="redis://127.0.0.1:1/0", timeout_ms=200))
    try:
        log = OfferLog(down, window_s=60)
        log.offered(["RING"])
        assert await log.count_ghosts(["RING", "HOOPS"]) == 1
        await asyncio.sleep(0.3)  # the background share gives up within Redis's timeout
    finally:
        await down.aclose()

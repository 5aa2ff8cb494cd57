"""Checkout's guards: the declines budget per client and per card, and one checkout in flight per client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.checkout import CheckoutStore
from connectors.config import CheckoutConfig, RedisConfig
from connectors.ratelimits import RateLimits
from resolvers.checkout.guard import count_decline, one_at_a_time, refuse_if_over_declines
from resolvers.checkout.outcome import Stop


def codes(stop: Stop) -> list[str]:
    return [e.code for e in stop.result.user_errors]


async def refused(limits: RateLimits, client: str, token: str) -> bool:
    """Whether checkout is refused RATE_LIMITED (never kept for replay: a later attempt is asked afresh)."""
    try:
        await refuse_if_over_declines(limits, client=client, payment_token=token)
    except Stop as stop:
        if (codes(stop), stop.keep) != (["RATE_LIMITED"], False):
            raise
        return True
    return False


async def test_declines_are_budgeted_per_client_and_per_card() -> None:
    limits = RateLimits({"declines": "2/hour"})
    for _ in range(2):
        assert not await refused(limits, "1.2.3.4", "tok_a")
        await count_decline(limits, client="1.2.3.4", payment_token="tok_a")
    assert await refused(limits, "1.2.3.4", "tok_a")
    assert await refused(limits, "1.2.3.4", "tok_new_card")  # the same tester, another card
    assert await refused(limits, "5.6.7.8", "tok_a")  # the same card from another address
    assert not await refused(limits, "5.6.7.8", "tok_b")  # a stranger is not locked out


async def test_asking_does_not_count_as_a_decline() -> None:
    limits = RateLimits({"declines": "1/hour"})
    for _ in range(5):
        assert not await refused(limits, "c", "tok")


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[CheckoutStore]:
    s = CheckoutStore(redis_url, CheckoutConfig(), RedisConfig())
    yield s
    await s.aclose()


async def test_a_client_has_one_checkout_at_a_time_and_gets_its_slot_back(store: CheckoutStore) -> None:
    async with one_at_a_time(store, "c", limit=1, ttl_s=60):
        with pytest.raises(Stop) as caught:
            async with one_at_a_time(store, "c", limit=1, ttl_s=60):
                pass
        assert codes(caught.value) == ["RATE_LIMITED"]
        async with one_at_a_time(store, "other", limit=1, ttl_s=60):
            pass  # another client is not held up
    async with one_at_a_time(store, "c", limit=1, ttl_s=60):
        pass  # the slot came back


async def test_the_slot_comes_back_when_the_checkout_fails(store: CheckoutStore) -> None:
    with pytest.raises(RuntimeError):
        async with one_at_a_time(store, "c", limit=1, ttl_s=60):
            raise RuntimeError("step failed")
    async with one_at_a_time(store, "c", limit=1, ttl_s=60):
        pass


async def test_a_higher_limit_lets_that_many_run(store: CheckoutStore) -> None:
    async with one_at_a_time(store, "c", limit=2, ttl_s=60), one_at_a_time(store, "c", limit=2, ttl_s=60):
        with pytest.raises(Stop):
            async with one_at_a_time(store, "c", limit=2, ttl_s=60):
                pass


async def test_an_unreachable_store_stops_the_checkout_as_unavailable() -> None:
    down = CheckoutStore("redis://127.0.0.1:1/0", CheckoutConfig(redis_timeout_ms=500), RedisConfig())
    try:
        with pytest.raises(Stop) as caught:
            async with one_at_a_time(down, "c", limit=1, ttl_s=60):
                pytest.fail("ran without a slot")
        assert codes(caught.value) == ["CHECKOUT_UNAVAILABLE"]
    finally:
        await down.aclose()

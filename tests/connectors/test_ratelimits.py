"""Rate limits: the in-process sliding-window counter, and the shared count in a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from limits import parse_many

from connectors.config import RedisConfig
from connectors.ratelimits import LocalWindows, RateLimits
from connectors.redisclient import SharedRedis

PER_MINUTE = parse_many("10/minute")


def test_a_budget_is_refused_once_spent_and_says_how_long_to_wait() -> None:
    windows = LocalWindows(longest_s=60)
    start = 600.0  # the start of a minute window
    assert [windows.ask(PER_MINUTE, ("pages", "a"), hit=True, now=start + i) for i in range(10)] == [None] * 10
    wait = windows.ask(PER_MINUTE, ("pages", "a"), hit=True, now=start + 10)
    assert wait is not None
    assert 50 <= wait <= 60  # the rest of this window, then its share must shrink
    assert windows.ask(PER_MINUTE, ("pages", "b"), hit=True, now=start + 10) is None  # another client


def test_the_window_slides_rather_than_resetting_at_once() -> None:
    """Ten uses at the end of one minute still weigh on the start of the next, fading as it passes."""
    windows = LocalWindows(longest_s=60)
    for _ in range(10):
        windows.ask(PER_MINUTE, ("k",), hit=True, now=659.0)
    assert windows.ask(PER_MINUTE, ("k",), hit=False, now=661.0) is not None  # 9.7 of 10 still counted
    assert windows.ask(PER_MINUTE, ("k",), hit=False, now=690.0) is None  # half the window: 5 counted
    assert windows.ask(PER_MINUTE, ("k",), hit=False, now=800.0) is None  # two windows on: forgotten


def test_a_test_counts_nothing_and_every_limit_must_hold() -> None:
    windows = LocalWindows(longest_s=60)
    both = parse_many("2/second;3/minute")
    assert windows.ask(both, ("k",), hit=False, now=0.0) is None
    assert [windows.ask(both, ("k",), hit=True, now=t) for t in (0.1, 0.2, 0.3)] == [None, None, 2.0]
    assert windows.ask(both, ("k",), hit=True, now=2.0) is None  # the per-second limit has passed...
    assert windows.ask(both, ("k",), hit=True, now=4.0) is not None  # ...the per-minute one has not


def test_memory_is_bounded_whatever_the_number_of_clients() -> None:
    windows = LocalWindows(longest_s=60, max_keys=100)
    for i in range(1000):
        windows.ask(PER_MINUTE, ("pages", f"10.0.{i // 256}.{i % 256}"), hit=True, now=1.0)
    assert len(windows._counts) == 100


@pytest.fixture
async def shared(redis_url: str) -> AsyncIterator[SharedRedis]:
    redis = SharedRedis(RedisConfig(url=redis_url))
    yield redis
    await redis.aclose()


async def test_processes_sharing_redis_share_the_budget(shared: SharedRedis) -> None:
    """Two gateway processes (two RateLimits) each let a client through half the time: together, the limit."""
    one, two = (RateLimits({"checkout": "4/minute"}, redis=shared) for _ in range(2))
    answers = [await (one if i % 2 else two).hit("checkout", "198.51.100.1") for i in range(6)]
    assert answers[:4] == [None] * 4
    assert all(wait is not None and wait >= 1 for wait in answers[4:])


async def test_batched_budgets_reach_redis_every_n_uses(shared: SharedRedis) -> None:
    """`pages` counts locally and tells Redis every 10 uses: across processes a client may pass by at
    most 10 per process before the shared count stops it everywhere."""
    one, two = (RateLimits({"pages": "30/minute"}, redis=shared, batch={"pages": 10}) for _ in range(2))
    allowed = 0
    for i in range(80):
        if await (one if i % 2 else two).hit("pages", "198.51.100.2") is None:
            allowed += 1
    assert 30 <= allowed <= 30 + 2 * 10
    assert await one.hit("pages", "198.51.100.3") is None  # someone else is not affected

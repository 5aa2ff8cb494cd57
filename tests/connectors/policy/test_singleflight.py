"""One call per key: concurrent callers share it; an impatient follower cancels nothing."""

from __future__ import annotations

import asyncio

import pytest

from connectors.policy.singleflight import SingleFlight


async def test_concurrent_callers_share_one_call() -> None:
    flights = SingleFlight()
    calls = 0

    async def call() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return "answer"

    results = await asyncio.gather(*(flights.do("k", call, wait_s=1) for _ in range(50)))
    assert calls == 1
    assert [value for value, _ in results] == ["answer"] * 50
    assert sum(leader for _, leader in results) == 1
    assert len(flights) == 0


async def test_a_follower_that_gives_up_does_not_cancel_the_call() -> None:
    flights = SingleFlight()

    async def call() -> str:
        await asyncio.sleep(0.1)
        return "answer"

    leader = asyncio.ensure_future(flights.do("k", call, wait_s=1))
    await asyncio.sleep(0)
    with pytest.raises(TimeoutError):
        await flights.do("k", call, wait_s=0.01)
    assert (await leader) == ("answer", True)

"""Overload: the in-flight limit follows the event loop's lag (it sheds while the loop is late, and takes
its room back once the loop is on time again; the lag measured from a real stalled loop), and what a
shed request is answered: a cheap 503 a load balancer retries, counted."""

from __future__ import annotations

import asyncio
import time

import orjson

from connectors.loop import LoopLag
from gateway.edge.overload import REQUESTS_SHED, InFlightLimit, shed


class FixedLag(LoopLag):
    def __init__(self, lag_s: float, target_s: float = 0.02) -> None:
        super().__init__()
        self.lag_s = self.mean_s = lag_s
        self.target_s = target_s

    def set(self, lag_s: float) -> None:
        self.lag_s = self.mean_s = lag_s


def steps(limit: InFlightLimit, in_flight: int | None, n: int) -> None:
    """`n` steps with `in_flight` requests running (None: as many as the limit allows)."""
    for _ in range(n):
        limit._stepped = 0.0  # as if STEP_S had passed since the last step
        limit.admits(int(limit.limit) if in_flight is None else in_flight)


async def test_a_stalled_loop_is_measured_late_and_the_lateness_fades() -> None:
    lag = LoopLag()
    lag.start(target_s=0.02)
    try:
        await asyncio.sleep(0.05)
        assert not lag.late
        time.sleep(0.15)  # noqa: ASYNC251  (the point: the loop is blocked, its probe runs ~150 ms late)
        await asyncio.sleep(0.03)
        assert lag.lag_s >= 0.05
        assert lag.late
        await asyncio.sleep(0.5)  # on time again: the memory of the stall decays
        assert lag.lag_s < 0.02
        assert not lag.late
    finally:
        lag.stop()
    assert not lag.late  # not watched: never late


def test_the_limit_shrinks_while_the_loop_is_late_and_never_below_its_floor() -> None:
    lag = FixedLag(0.0)
    limit = InFlightLimit(256, adaptive=True, lag=lag, floor=4)
    assert limit.admits(255)
    assert not limit.admits(256)
    lag.set(0.2)
    steps(limit, 100, 3)
    assert limit.limit == 256 * 0.75 ** 3  # at 10x the target, each step takes a quarter off
    steps(limit, 100, 30)
    assert int(limit.limit) == 4
    assert limit.admits(3)
    assert not limit.admits(4)


def test_the_limit_grows_back_only_when_it_is_reached_and_not_past_its_ceiling() -> None:
    lag = FixedLag(0.2)
    limit = InFlightLimit(256, adaptive=True, lag=lag, floor=4)
    steps(limit, 10, 60)
    lag.set(0.001)  # on time
    steps(limit, 1, 2)  # (the first step up still sees the ten that were running before)
    low = limit.limit
    steps(limit, 1, 20)  # hardly any traffic: the low limit holds nobody back, and stays
    assert limit.limit == low < 8
    steps(limit, None, 20)  # reached every time: it grows, fast while the loop is idle
    assert limit.limit == 256
    lag.set(0.015)  # busy but on time: slower growth, from wherever it is
    limit.limit = 16.0
    steps(limit, 16, 1)
    assert 16 < limit.limit < 20


def test_a_fixed_limit_and_no_limit() -> None:
    late = FixedLag(1.0)
    fixed = InFlightLimit(8, adaptive=False, lag=late)
    steps(fixed, 7, 10)
    assert fixed.admits(7)
    assert not fixed.admits(8)
    unlimited = InFlightLimit(0, adaptive=True, lag=late)
    assert unlimited.admits(10_000)


def test_a_loop_nobody_watches_moves_nothing() -> None:
    """Before the gateway starts the probe (or after it stops), no lag is a reason to shed."""
    limit = InFlightLimit(256, adaptive=True, lag=FixedLag(1.0, target_s=0.0))
    steps(limit, 255, 10)
    assert limit.limit == 256


def test_a_shed_request_is_a_503_overloaded_to_retry_in_a_second() -> None:
    response = shed()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    body = orjson.loads(response.body)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["OVERLOADED"]


def test_every_shed_request_is_counted() -> None:
    before = REQUESTS_SHED.counts[()]
    shed()
    shed()
    assert REQUESTS_SHED.counts[()] == before + 2

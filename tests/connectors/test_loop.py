"""Loop lag: nothing is measured or late until watched, an idle process forgets a stall and stops probing,
and a request wakes the probe again (the stall-and-fade case: tests/gateway/test_overload.py)."""

from __future__ import annotations

import asyncio
import time

import pytest

from connectors import loop
from connectors.loop import LoopLag


def test_an_unwatched_loop_is_never_late() -> None:
    lag = LoopLag()
    lag.touch()  # not started: nothing to probe
    lag.lag_s = 5.0
    assert not lag.late  # no target: not watched
    lag.target_s = 0.02
    assert lag.late
    lag.stop()
    assert (lag.lag_s, lag.mean_s, lag.target_s, lag.late) == (0.0, 0.0, 0.0, False)


async def stall(seconds: float) -> None:
    time.sleep(seconds)  # noqa: ASYNC251  (the point: the loop is blocked, its probe runs late)
    await asyncio.sleep(0.01)  # the overdue probe runs first


async def test_an_idle_process_forgets_a_stall_and_a_request_wakes_the_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loop, "IDLE_S", 0.3)
    lag = LoopLag()
    lag.start(target_s=0.02)
    try:
        await stall(0.1)
        assert lag.lag_s >= 0.05
        await asyncio.sleep(0.6)  # no request since: the probe stops, on time by definition
        assert (lag.lag_s, lag.mean_s) == (0.0, 0.0)
        await stall(0.1)
        assert lag.lag_s == 0.0  # not probing: a stall while idle goes unseen
        lag.touch()
        await stall(0.1)
        assert lag.lag_s >= 0.05
        assert lag.late
    finally:
        lag.stop()

"""The one retry loop: how many times, after what pauses, and which failure comes out."""

from __future__ import annotations

import pytest

from connectors.retry import Backoff, retry


class Flaky:
    """Fails `failures` times with `error`, then answers."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.left = failures
        self.error = error or ConnectionError("down")
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.left:
            self.left -= 1
            raise self.error
        return "answer"


class Pauses(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_the_schedule_grows_from_initial_and_stops_at_max() -> None:
    backoff = Backoff(initial_s=0.1, max_s=0.9, exp_base=3)
    assert [backoff.pause_s(n) for n in (1, 2, 3, 4, 5)] == pytest.approx([0.1, 0.3, 0.9, 0.9, 0.9])


def test_jitter_adds_at_most_jitter_s() -> None:
    backoff = Backoff(initial_s=0.05, max_s=10.0, jitter_s=0.05)
    pauses = [backoff.pause_s(1) for _ in range(200)]
    assert all(0.05 <= p <= 0.1 for p in pauses)
    assert len(set(pauses)) > 1


async def test_a_failure_it_accepts_is_tried_again_after_each_pause() -> None:
    flaky, pauses = Flaky(2), Pauses()
    assert await retry(flaky, on=lambda exc: True, backoff=Backoff(0.01, 1.0), attempts=3, sleep=pauses) == "answer"
    assert flaky.calls == 3
    assert pauses == pytest.approx([0.01, 0.02])


async def test_the_last_allowed_failure_is_raised_as_it_is_and_on_is_not_asked_about_it() -> None:
    error = ConnectionError("still down")
    flaky, asked = Flaky(5, error), []
    with pytest.raises(ConnectionError) as raised:
        await retry(flaky, on=lambda exc: asked.append(exc) or True, backoff=Backoff(0, 0), attempts=3,
                    sleep=Pauses())
    assert raised.value is error
    assert flaky.calls == 3
    assert len(asked) == 2  # an `on` that spends a retry budget spends nothing on a retry that cannot happen


async def test_a_failure_on_refuses_ends_it_at_once() -> None:
    flaky, pauses = Flaky(1, ValueError("not worth repeating")), Pauses()
    with pytest.raises(ValueError, match="not worth repeating"):
        await retry(flaky, on=lambda exc: isinstance(exc, ConnectionError), backoff=Backoff(1, 1), attempts=None,
                    sleep=pauses)
    assert flaky.calls == 1
    assert pauses == []


async def test_no_limit_means_until_it_answers() -> None:
    flaky = Flaky(50)
    assert await retry(flaky, on=lambda exc: True, backoff=Backoff(0, 0), attempts=None, sleep=Pauses()) == "answer"
    assert flaky.calls == 51

"""The retry budget earns tokens per request and per second, and never lends what it lacks."""

from __future__ import annotations

from connectors.policy.budget import RetryBudget


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_request_earns_a_fifth_of_a_retry() -> None:
    budget = RetryBudget(ratio=0.2, min_per_s=0, clock=Clock())
    assert not budget.try_spend()
    for _ in range(4):
        budget.deposit()
    assert not budget.try_spend()  # 0.8 tokens: not a whole retry
    budget.deposit()
    assert budget.try_spend()
    assert not budget.try_spend()
    assert (budget.spent, budget.refused) == (1, 3)


def test_a_floor_per_second_and_a_cap() -> None:
    clock = Clock()
    budget = RetryBudget(ratio=0.2, min_per_s=2, cap=3, clock=clock)
    clock.now = 100.0  # a long quiet time fills the bucket only up to the cap
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5
    assert budget.try_spend()  # one more token trickled in
    assert not budget.try_spend()

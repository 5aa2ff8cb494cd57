"""A request's deadline: what is left of it, never negative, and how it cuts a call's own timeout."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from connectors.policy import deadline
from connectors.policy.deadline import Deadline


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    fake = SimpleNamespace(now=500.0)
    monkeypatch.setattr(deadline, "time", SimpleNamespace(monotonic=lambda: fake.now))
    return fake


def test_a_deadline_counts_down_its_budget_and_stops_at_zero(clock: SimpleNamespace) -> None:
    d = Deadline.after_ms(1500)
    assert (d.expires_at, d.budget_ms) == (501.5, 1500)
    assert d.remaining_s() == pytest.approx(1.5)
    clock.now += 1.0
    assert d.remaining_s() == pytest.approx(0.5)
    clock.now += 10.0
    assert d.remaining_s() == 0.0  # long past: nothing left, not a negative wait


def test_a_call_gets_its_own_timeout_or_what_is_left_whichever_is_shorter(clock: SimpleNamespace) -> None:
    d = Deadline.after_ms(1000)
    assert d.bound(0.3) == pytest.approx(0.3)
    clock.now += 0.8
    assert d.bound(0.3) == pytest.approx(0.2)
    clock.now += 5
    assert d.bound(0.3) == 0.0

"""The bulkhead refuses past its limit at once, and a 429 keeps the vendor alone for its Retry-After (capped)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from connectors.errors import BackingOff, BulkheadFull, VendorRateLimited
from connectors.models import Outcome
from connectors.policy import bulkhead
from connectors.policy.bulkhead import Bulkhead, RetryAfter


def test_the_bulkhead_refuses_past_its_limit_and_takes_calls_again_as_they_end() -> None:
    bh = Bulkhead("tax", max_concurrency=2)
    bh.enter("tax.quote")
    bh.enter("tax.quote")
    with pytest.raises(BulkheadFull) as refused:
        bh.enter("tax.quote")
    assert refused.value.outcome is Outcome.REJECTED
    assert refused.value.vendor == "tax"
    assert bh.in_flight == 2  # a refused call holds no place
    bh.exit()
    bh.enter("tax.quote")
    assert bh.in_flight == 2


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    fake = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(bulkhead, "time", SimpleNamespace(monotonic=lambda: fake.now))
    return fake


def limited(retry_after_s: float | None) -> VendorRateLimited:
    return VendorRateLimited("tax", "rate_limited", "slow down", retry_after_s)


def test_after_a_429_calls_back_off_until_retry_after_has_passed(clock: SimpleNamespace) -> None:
    gate = RetryAfter("tax")
    gate.check("tax.quote")  # nothing noted: calls go
    gate.note(limited(5.0))
    clock.now += 4.9
    with pytest.raises(BackingOff) as backing_off:
        gate.check("tax.quote")
    assert backing_off.value.outcome is Outcome.REJECTED
    clock.now += 0.2
    gate.check("tax.quote")


@pytest.mark.parametrize(("asked", "waited"), [(None, bulkhead.DEFAULT_RATE_LIMIT_BACKOFF_S),
                                               (86_400.0, bulkhead.MAX_RATE_LIMIT_BACKOFF_S)])
def test_no_retry_after_waits_the_default_and_a_huge_one_the_cap(clock: SimpleNamespace, asked: float | None,
                                                                waited: float) -> None:
    gate = RetryAfter("tax")
    gate.note(limited(asked))
    clock.now += waited - 0.01
    with pytest.raises(BackingOff):
        gate.check("tax.quote")
    clock.now += 0.02
    gate.check("tax.quote")

"""What a request lends its vendor calls: the per-vendor summary of its call log, and its call quota."""

from __future__ import annotations

from connectors.models import Outcome, Source
from connectors.policy import CallLog, CallRecord, CallScope, Deadline


def test_the_summary_reports_each_vendors_worst_outcome_longest_call_and_totals() -> None:
    log = CallLog()
    log.add(CallRecord("tax", "tax.quote", Outcome.LIVE, Source.LIVE, ms=12.34, attempts=1))
    log.add(CallRecord("tax", "tax.quote", Outcome.STALE, Source.STALE, ms=80.06, attempts=2, hedged=True))
    log.add(CallRecord("tax", "tax.quote", Outcome.CACHE, Source.CACHE, ms=0.2))
    log.add(CallRecord("bnpl", "bnpl.offers", Outcome.TIMEOUT, None, ms=250.0, attempts=1))
    assert log.summary() == {
        "tax": {"outcome": Outcome.STALE, "source": "STALE", "ms": 80.1, "calls": 3, "attempts": 3, "hedged": True},
        "bnpl": {"outcome": Outcome.TIMEOUT, "source": None, "ms": 250.0, "calls": 1, "attempts": 1},
    }


def test_a_better_outcome_after_a_worse_one_does_not_hide_it() -> None:
    log = CallLog()
    log.add(CallRecord("tax", "tax.quote", Outcome.ERROR, None, ms=1))
    log.add(CallRecord("tax", "tax.quote", Outcome.LIVE, Source.LIVE, ms=1, attempts=1))
    assert (log.summary()["tax"]["outcome"], log.summary()["tax"]["source"]) == (Outcome.ERROR, None)
    assert CallLog().summary() == {}


def test_a_quota_counts_calls_per_vendor_and_zero_means_no_limit() -> None:
    scope = CallScope(Deadline.after_ms(1000), quota=2)
    assert [scope.spend("tax") for _ in range(3)] == [True, True, False]
    assert scope.spend("bnpl")  # another vendor's share is its own
    unlimited = CallScope(Deadline.after_ms(1000))
    assert all(unlimited.spend("tax") for _ in range(1000))

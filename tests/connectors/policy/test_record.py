"""Writing down a finished vendor call: its record in the request's log, its span, and the call metrics."""

from __future__ import annotations

import time
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from connectors.models import Outcome, Source
from connectors.policy import CallScope, Deadline, record
from connectors.policy.record import VENDOR_CALLS, VENDOR_FALLBACKS, VENDOR_UNAVAILABLE, Trace


class Span:
    def __init__(self) -> None:
        self.attributes: dict[str, Any] = {}
        self.status: tuple[StatusCode, str | None] | None = None

    def is_recording(self) -> bool:
        return True

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        self.attributes.update(attributes)

    def set_status(self, status: StatusCode, description: str | None = None) -> None:
        self.status = (status, description)


@pytest.fixture
def span(monkeypatch: pytest.MonkeyPatch) -> Span:
    fake = Span()
    monkeypatch.setattr(record, "current_span", lambda: fake)
    return fake


def test_the_record_carries_what_the_trace_saw(span: Span) -> None:
    scope = CallScope(Deadline.after_ms(1000))
    trace = Trace(started=time.monotonic() - 0.25, attempts=2, hedged=True, retries=["timeout"], timeout_ms=150.0)
    record.record(scope, trace, vendor="tax", operation="tax.quote", outcome=Outcome.STALE, source=Source.STALE,
                  breaker="open", age_s=3.5, tier="redis", detail="HTTP 503")
    [entry] = scope.log.records
    assert (entry.vendor, entry.operation, entry.outcome, entry.source) == ("tax", "tax.quote", Outcome.STALE,
                                                                           Source.STALE)
    assert (entry.age_ms, entry.tier, entry.attempts, entry.hedged, entry.retries) == (3500, "redis", 2, True,
                                                                                       ("timeout",))
    assert (entry.timeout_ms, entry.breaker, entry.detail) == (150.0, "open", "HTTP 503")
    assert 250 <= entry.ms < 60_000  # the time since the trace started, in milliseconds
    assert span.attributes["bezel.cache.source"] == "STALE"
    assert span.attributes["bezel.breaker.state"] == "open"
    assert span.status is None  # a stale stand-in is an answer, not a failed call


def test_a_failed_call_marks_its_span_as_an_error(span: Span) -> None:
    scope = CallScope(Deadline.after_ms(1000))
    record.record(scope, Trace(), vendor="tax", operation="tax.quote", outcome=Outcome.TIMEOUT, source=None,
                  breaker="closed")
    assert span.status == (StatusCode.ERROR, Outcome.TIMEOUT)
    assert span.attributes["bezel.cache.source"] == "NONE"


@pytest.mark.parametrize(("outcome", "fallbacks", "unavailable"), [
    (Outcome.LIVE, 0, 0), (Outcome.STALE, 1, 0), (Outcome.CIRCUIT_OPEN, 0, 1), (Outcome.BAD_INPUT, 0, 0)])
def test_calls_are_counted_by_outcome_and_failures_by_whether_anything_stood_in(
        outcome: Outcome, fallbacks: int, unavailable: int) -> None:
    vendor = f"test-record-{outcome}"
    calls_key, vendor_key = (("outcome", outcome), ("vendor", vendor)), (("vendor", vendor),)
    record.record(CallScope(Deadline.after_ms(1000)), Trace(), vendor=vendor, operation="x", outcome=outcome,
                  source=None, breaker="closed")
    assert VENDOR_CALLS.counts[calls_key] == 1
    assert (VENDOR_FALLBACKS.counts.get(vendor_key, 0), VENDOR_UNAVAILABLE.counts.get(vendor_key, 0)) == (
        fallbacks, unavailable)


def test_a_vendor_declared_has_its_call_series_at_0_before_any_call() -> None:
    """A policy declares its vendor when it is built: an alert on its failures has series from start-up."""
    vendor = "test-record-declared"
    record.declare(vendor)
    assert {key: VENDOR_CALLS.counts[key] for key in VENDOR_CALLS.counts if ("vendor", vendor) in key} == {
        (("outcome", outcome.value), ("vendor", vendor)): 0 for outcome in Outcome}
    assert VENDOR_FALLBACKS.counts[(("vendor", vendor),)] == VENDOR_UNAVAILABLE.counts[(("vendor", vendor),)] == 0

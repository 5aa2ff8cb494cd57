"""The one place a vendor call's outcome is written down: the request's call log, its span, the metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from opentelemetry.trace import StatusCode

from connectors.models import Outcome, Source
from connectors.policy.scope import CallRecord, CallScope
from connectors.telemetry import Tally, current_span, meter, series_of

VENDOR_CALL_DURATION = meter.create_histogram(
    "bezel.vendor.call.duration", unit="s",
    description="Time a vendor call held the request when the vendor was asked (not for answers from cache), "
                "by vendor, operation and outcome.",
    explicit_bucket_boundaries_advisory=[0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.4, 0.6, 0.9,
                                         1.2, 2.0, 3.0, 5.0],
)
VENDOR_CALLS = Tally(
    "bezel.vendor.calls",
    description="Vendor calls by vendor and outcome: live, cache, stale, timeout, error, circuit_open, rejected, "
                "bad_input.",
)
VENDOR_FALLBACKS = Tally(
    "bezel.vendor.fallbacks", description="Failed vendor calls answered with a stale last good answer, by vendor.")
VENDOR_UNAVAILABLE = Tally(
    "bezel.vendor.unavailable",
    description="Failed vendor calls with nothing to fall back on (VENDOR_UNAVAILABLE), by vendor.")


def declare(vendor: str) -> None:
    """This vendor's call counters, one series per outcome, at 0 from now on (its policy is built): an alert
    on its failures has a series to watch before the first one."""
    VENDOR_CALLS.declare(series_of(outcome=Outcome, vendor=[vendor]))
    VENDOR_FALLBACKS.declare(series_of(vendor=[vendor]))
    VENDOR_UNAVAILABLE.declare(series_of(vendor=[vendor]))


@dataclass
class Trace:
    """What happened inside one policy call, filled in as it goes."""

    started: float = field(default_factory=time.monotonic)
    attempts: int = 0
    hedged: bool = False
    retries: list[str] = field(default_factory=list)
    shared: bool = False  # answered by another request's (or process's) call
    timeout_ms: float = 0.0


def record(scope: CallScope, trace: Trace, *, vendor: str, operation: str, outcome: Outcome, source: Source | None,
           breaker: str, age_s: float = 0.0, tier: str | None = None, detail: str = "") -> None:
    """Write down a finished policy call: in the request's log, on the current span, in the metrics."""
    entry = CallRecord(
        vendor=vendor,
        operation=operation,
        outcome=outcome,
        source=source,
        ms=(time.monotonic() - trace.started) * 1000,
        age_ms=int(age_s * 1000),
        tier=tier,
        attempts=trace.attempts,
        hedged=trace.hedged,
        retries=tuple(trace.retries),
        shared=trace.shared,
        timeout_ms=trace.timeout_ms,
        breaker=breaker,
        detail=detail,
    )
    scope.log.add(entry)
    _observe(entry)


def _observe(entry: CallRecord) -> None:
    span = current_span()
    if span.is_recording():
        span.set_attributes({
            "bezel.vendor": entry.vendor,
            "bezel.operation": entry.operation,
            "bezel.outcome": entry.outcome,
            "bezel.cache.source": entry.source.value if entry.source else "NONE",
            "bezel.cache.age_ms": entry.age_ms,
            "bezel.cache.tier": entry.tier or "",
            "bezel.attempts": entry.attempts,
            "bezel.hedged": entry.hedged,
            "bezel.shared": entry.shared,
            "bezel.timeout_ms": entry.timeout_ms,
            "bezel.breaker.state": entry.breaker,
        })
        if entry.outcome.failed:
            span.set_status(StatusCode.ERROR, entry.outcome)
    VENDOR_CALLS.add(1, (("outcome", entry.outcome), ("vendor", entry.vendor)))
    if entry.attempts:  # the vendor was asked: its latency is worth a histogram point
        VENDOR_CALL_DURATION.record(entry.ms / 1000, {"vendor": entry.vendor, "outcome": entry.outcome,
                                                       "operation": entry.operation})
    if entry.outcome is Outcome.STALE:
        VENDOR_FALLBACKS.add(1, (("vendor", entry.vendor),))
    elif entry.outcome.failed:
        VENDOR_UNAVAILABLE.add(1, (("vendor", entry.vendor),))


def event(name: str, attributes: dict[str, str | int | float | bool]) -> None:
    """An event (retry, hedge, fallback) on the current vendor call's span."""
    current_span().add_event(name, attributes)

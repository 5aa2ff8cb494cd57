"""Bezel's traces and metrics: one tracer, one meter, every instrument, named in one place.

These use the OpenTelemetry API only. Until a process installs an SDK (`gateway.telemetry.setup`),
spans are no-ops and measurements go nowhere, at the cost of a few microseconds per vendor call;
no layer below the gateway decides where telemetry goes. Metric names follow OpenTelemetry's style
and become Prometheus names on /metrics (`bezel.vendor.calls` -> `bezel_vendor_calls_total`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation

tracer = trace.get_tracer("bezel")
meter = metrics.get_meter("bezel")


class Tally:
    """A counter for hot paths: increments land in a dict (well under a microsecond) and reach
    OpenTelemetry as an observable counter when metrics are collected. The SDK's own `Counter.add`
    costs tens of microseconds per call on these machines (measured: 10% of a cached page's CPU)."""

    def __init__(self, name: str, description: str) -> None:
        self.counts: defaultdict[tuple[tuple[str, str], ...], int] = defaultdict(int)
        meter.create_observable_counter(name, [self._observe], description=description)

    def add(self, amount: int, attributes: tuple[tuple[str, str], ...]) -> None:
        self.counts[attributes] += amount

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(count, dict(key)) for key, count in list(self.counts.items())]

# ---------------------------------------------------------------- vendors and the call policy

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
CACHE_LOOKUPS = Tally(
    "bezel.cache.lookups",
    description="Cache lookups by tier (local, redis) and result (hit, miss); hit ratio = hit / (hit + miss).")

# ---------------------------------------------------------------- GraphQL

GRAPHQL_DURATION = meter.create_histogram(
    "bezel.graphql.request.duration", unit="s",
    description="GraphQL operation latency by operation name and type.",
    explicit_bucket_boundaries_advisory=[0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.25, 2.0,
                                         5.0, 10.0],
)

REQUESTS_SHED = Tally(
    "bezel.requests.shed",
    description="GraphQL requests answered 503 OVERLOADED because the process had max_in_flight already.")

# ---------------------------------------------------------------- checkout and sync

CHECKOUT_DURATION = meter.create_histogram(
    "bezel.checkout.duration", unit="s", description="placeOrder latency by outcome.",
    explicit_bucket_boundaries_advisory=[0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0],
)
CHECKOUT_REQUESTS = meter.create_counter(
    "bezel.checkout.requests",
    description="placeOrder results: confirmed, replayed, or the user error code (OUT_OF_STOCK, ...).")
CONFIRMATION_DELAY = meter.create_histogram(
    "bezel.order.confirmation.delay", unit="s",
    description="From placeOrder arriving to the order being durably confirmed (what the shopper waits for).",
    explicit_bucket_boundaries_advisory=[0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0],
)
PAYMENT_FAILURES = meter.create_counter(
    "bezel.payment.failures",
    description="Payment authorizations that did not succeed, by reason (a decline code, timeout, error).")
SYNC_DELAY = meter.create_histogram(
    "bezel.order.sync.delay", unit="s", description="From order confirmation to a downstream system having it.",
    explicit_bucket_boundaries_advisory=[0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
)
SYNC_OUTCOMES = meter.create_counter(
    "bezel.order.sync.attempts", description="Downstream sync attempts by system and result (synced, failed, "
                                             "dead_lettered).")
INVENTORY_MISMATCHES = meter.create_counter(
    "bezel.inventory.mismatches",
    description="Stock counters found different from the ERP's numbers by reconciliation (and corrected).")

# ---------------------------------------------------------------- observed state

_BREAKER_LEVEL = {"closed": 0, "half_open": 1, "open": 2}
_breakers: dict[str, Callable[[], str]] = {}
_queues: dict[str, tuple[int, int]] = {}
_dead_letters: list[int] = [0]


def watch_breakers(states: Mapping[str, Callable[[], str]]) -> None:
    """Report these breakers' states (vendor -> a function returning "closed", "half_open" or "open")."""
    _breakers.clear()
    _breakers.update(states)


def report_queues(groups: Mapping[str, tuple[int, int]], dead_letters: int) -> None:
    """The order stream's latest numbers: group -> (pending, lag), and the dead-letter stream's length."""
    _queues.clear()
    _queues.update(groups)
    _dead_letters[0] = dead_letters


def _breaker_states(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(_BREAKER_LEVEL.get(state(), -1), {"vendor": vendor}) for vendor, state in _breakers.items()]


def _pending(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(pending, {"group": group}) for group, (pending, _) in _queues.items()]


def _lag(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(lag, {"group": group}) for group, (_, lag) in _queues.items()]


def _dead(options: CallbackOptions) -> Iterable[Observation]:
    return [Observation(_dead_letters[0])]


meter.create_observable_gauge("bezel.breaker.state", [_breaker_states],
                              description="Circuit breaker per vendor: 0 closed, 1 half-open, 2 open.")
meter.create_observable_gauge("bezel.queue.pending", [_pending],
                              description="Order-stream entries delivered to a consumer group, not yet acknowledged.")
meter.create_observable_gauge("bezel.queue.lag", [_lag],
                              description="Order-stream entries not yet delivered to a consumer group.")
meter.create_observable_gauge("bezel.queue.dead_letters", [_dead],
                              description="Entries in the order dead-letter stream.")


def current_traceparent() -> str:
    """The W3C traceparent of the current span ("" when not tracing), to carry into the order stream."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


def context_from(traceparent: str | None) -> object:
    """The trace context a traceparent names, for a span that continues it (e.g. a worker's sync)."""
    return propagate.extract({"traceparent": traceparent} if traceparent else {})

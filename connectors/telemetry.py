"""Bezel's tracer and meter, and what every instrument is built with; each instrument lives beside
what it measures (the call policy's in `connectors.policy.record`, checkout's in its package, ...).

These use the OpenTelemetry API only. Until a process installs an SDK (`gateway.telemetry.setup`),
spans are not made at all on the hot path (`span`) and measurements go nowhere;
no layer below the gateway decides where telemetry goes. Metric names follow OpenTelemetry's style
and become Prometheus names on /metrics (`bezel.vendor.calls` -> `bezel_vendor_calls_total`).

Counters are declared with the series they are known to have (`series_of(vendor=Vendor,
outcome=Outcome)`): each is reported at 0 from start-up, so an alert on it has a series to watch and
sees its first event (a counter that appears at 1 is invisible to `rate()` and `increase()`).
Histograms cannot do that: OpenTelemetry has no histogram point without a measurement, so theirs
appear with the first one.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager

from opentelemetry import metrics, propagate, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.util.types import Attributes

tracer = trace.get_tracer("bezel")
meter = metrics.get_meter("bezel")
_NO_SPAN: AbstractContextManager[trace.Span] = contextlib.nullcontext(trace.INVALID_SPAN)


_tracing = False


def tracing_on() -> bool:
    """Whether this process installed an SDK tracer provider: until then spans go nowhere. Read from
    a flag: asking the API each time looks up an environment variable (~1.5% of a warm page)."""
    return _tracing


def refresh_tracing() -> None:
    """Read again whether a tracer provider is installed: called by whatever installs one
    (`gateway.telemetry.setup`); the API installs a provider once per process."""
    global _tracing
    _tracing = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


refresh_tracing()


def span(name: str, attributes: Attributes = None) -> AbstractContextManager[trace.Span]:
    """`tracer.start_as_current_span` on the hot path: with tracing off, no span object and no context
    switch at all (the API's no-op span still costs ~4.5 us each, a dozen per page)."""
    if tracing_on():
        return tracer.start_as_current_span(name, attributes=attributes)
    return _NO_SPAN


def current_span() -> trace.Span:
    """The current span, without the context lookup when tracing is off."""
    return trace.get_current_span() if tracing_on() else trace.INVALID_SPAN


Labels = tuple[tuple[str, str], ...]  # one series' labels, sorted by name: (("outcome", "live"), ("vendor", "tax"))


def series_of(**values: Iterable[str]) -> list[Labels]:
    """Every combination of these labels' values, as the `Labels` a counter is declared with; `series_of()`
    is the one series of a counter without labels. Values may be an enum of strings (`vendor=Vendor`).

        series_of(vendor=["tax", "bnpl"], outcome=["error"])
        == [(("outcome", "error"), ("vendor", "tax")), (("outcome", "error"), ("vendor", "bnpl"))]
    """
    names = sorted(values)
    return [tuple(zip(names, combination, strict=True))
            for combination in itertools.product(*([str(v) for v in values[name]] for name in names))]


class _Counts:
    """A monotonic count per series, reported to OpenTelemetry as an observable counter when metrics are
    collected; the series it is declared with are reported at 0 until they are counted."""

    def __init__(self, name: str, description: str, series: Iterable[Labels]) -> None:
        self.counts: defaultdict[Labels, int] = defaultdict(int)
        self.declare(series)
        meter.create_observable_counter(name, [self._observe], description=description)

    def declare(self, series: Iterable[Labels]) -> None:
        """Report these series (labels sorted by name) from now on, at 0 until they are counted."""
        for labels in series:
            self.counts.setdefault(labels, 0)

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(count, dict(key)) for key, count in list(self.counts.items())]


class Tally(_Counts):
    """A counter for hot paths: increments land in a dict (well under a microsecond) and reach
    OpenTelemetry as an observable counter when metrics are collected. The SDK's own `Counter.add`
    costs tens of microseconds per call on these machines (measured: 10% of a cached page's CPU).
    The caller passes the labels as they are kept, sorted by name (as `series_of` makes them)."""

    def __init__(self, name: str, description: str, *, series: Iterable[Labels] = ()) -> None:
        super().__init__(name, description, series)

    def add(self, amount: int, attributes: Labels) -> None:
        self.counts[attributes] += amount


class Counter(_Counts):
    """A counter with OpenTelemetry's `add(amount, attributes)`, for paths that are not hot: the labels
    as a mapping, in any order. Use it instead of `meter.create_counter`, declaring the series it is known
    to have, so that they exist (at 0) from start-up."""

    def __init__(self, name: str, description: str, *, series: Iterable[Labels] = ()) -> None:
        super().__init__(name, description, series)

    def add(self, amount: int, attributes: Mapping[str, str] | None = None) -> None:
        self.counts[tuple(sorted(attributes.items())) if attributes else ()] += amount


class Gauge:
    """An observable gauge whose readings come from what the running process attached to it.

    The instrument belongs to the process (OpenTelemetry's meter is); what it reads belongs to the object
    that attached a source (a process's vendors, its order-stream watcher) and leaves with it (`attach`
    returns the detach), so nothing here outlives its owner or is shared between two apps in one test."""

    def __init__(self, name: str, description: str) -> None:
        self.sources: list[Callable[[], Iterable[Observation]]] = []
        meter.create_observable_gauge(name, [self._observe], description=description)

    def attach(self, source: Callable[[], Iterable[Observation]]) -> Callable[[], None]:
        self.sources.append(source)
        return lambda: self.sources.remove(source) if source in self.sources else None

    def _observe(self, options: CallbackOptions) -> Iterable[Observation]:
        return [observation for source in list(self.sources) for observation in source()]


def current_traceparent() -> str:
    """The W3C traceparent of the current span ("" when not tracing), to carry into the order stream."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


def context_from(traceparent: str | None) -> Context:
    """The trace context a traceparent names, for a span that continues it (e.g. a worker's sync)."""
    return propagate.extract({"traceparent": traceparent} if traceparent else {})

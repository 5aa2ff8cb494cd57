"""Bezel's tracer and meter, and what every instrument is built with; each instrument lives beside
what it measures (the call policy's in `connectors.policy.record`, checkout's in its package, ...).

These use the OpenTelemetry API only. Until a process installs an SDK (`gateway.telemetry.setup`),
spans are not made at all on the hot path (`span`) and measurements go nowhere;
no layer below the gateway decides where telemetry goes. Metric names follow OpenTelemetry's style
and become Prometheus names on /metrics (`bezel.vendor.calls` -> `bezel_vendor_calls_total`).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable
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

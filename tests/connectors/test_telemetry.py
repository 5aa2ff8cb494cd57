"""Telemetry helpers with no SDK installed (as in tests): no spans made, tallies and gauges read what they hold,
and trace context carried through a traceparent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.metrics import CallbackOptions, Observation

from connectors import telemetry
from connectors.telemetry import Gauge, Tally, context_from, current_span, current_traceparent, span

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture(autouse=True)
def tracing_as_found() -> Iterator[None]:
    yield
    telemetry.refresh_tracing()


def test_with_tracing_off_spans_are_the_invalid_span_and_no_traceparent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(telemetry, "_tracing", False)
    with span("anything", {"a": 1}) as made:
        assert made is trace.INVALID_SPAN
        assert current_span() is trace.INVALID_SPAN
        assert current_traceparent() == ""


def test_tracing_on_follows_the_installed_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.ProxyTracerProvider())
    telemetry.refresh_tracing()
    assert telemetry.tracing_on() is False
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: trace.NoOpTracerProvider())
    telemetry.refresh_tracing()
    assert telemetry.tracing_on() is True


def test_a_traceparent_is_continued_and_an_empty_one_starts_afresh() -> None:
    context = context_from(PARENT)
    parent = trace.get_current_span(context).get_span_context()
    assert (format(parent.trace_id, "032x"), format(parent.span_id, "016x")) == (
        "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    assert parent.is_remote
    for nothing in (None, ""):
        assert not trace.get_current_span(context_from(nothing)).get_span_context().is_valid


def observe(instrument: Tally | Gauge) -> list[tuple[float, dict[str, object]]]:
    found: list[Observation] = list(instrument._observe(CallbackOptions()))
    return sorted(((o.value, dict(o.attributes or {})) for o in found), key=lambda x: x[0])


def test_a_tally_sums_per_attribute_set() -> None:
    tally = Tally("bezel.test.tally", "test")
    tally.add(2, (("vendor", "tax"),))
    tally.add(3, (("vendor", "tax"),))
    tally.add(1, (("vendor", "bnpl"), ("kind", "x")))
    assert observe(tally) == [(1, {"vendor": "bnpl", "kind": "x"}), (5, {"vendor": "tax"})]


def test_a_gauge_reads_its_sources_until_they_detach() -> None:
    gauge = Gauge("bezel.test.gauge", "test")
    detach_a = gauge.attach(lambda: [Observation(1, {"who": "a"})])
    gauge.attach(lambda: [Observation(2, {"who": "b"})])
    assert observe(gauge) == [(1, {"who": "a"}), (2, {"who": "b"})]
    detach_a()
    detach_a()  # twice is harmless
    assert observe(gauge) == [(2, {"who": "b"})]

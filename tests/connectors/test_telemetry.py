"""Telemetry helpers with no SDK installed (as in tests): no spans made, tallies, counters and gauges read what
they hold (declared series at 0 before their first count), and trace context carried through a traceparent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.metrics import CallbackOptions, Observation

from connectors import telemetry
from connectors.models import Vendor
from connectors.telemetry import (
    Counter,
    Gauge,
    Tally,
    context_from,
    current_span,
    current_traceparent,
    series_of,
    span,
)

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


def observe(instrument: Tally | Counter | Gauge) -> list[tuple[float, dict[str, object]]]:
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


def test_series_of_is_every_combination_with_labels_sorted_by_name() -> None:
    assert series_of() == [()]  # the one series of a counter without labels
    assert series_of(vendor=["tax", "bnpl"], outcome=["error"]) == [
        (("outcome", "error"), ("vendor", "tax")), (("outcome", "error"), ("vendor", "bnpl"))]
    assert series_of(vendor=Vendor)[:2] == [(("vendor", "catalog"),), (("vendor", "inventory"),)]  # an enum's values
    assert all(type(value) is str for (labels,) in series_of(vendor=Vendor) for value in labels)
    assert series_of(vendor=[]) == []


def test_declared_series_are_reported_at_0_until_counted() -> None:
    """So an alert has a series to watch, and `increase()` sees the first event (a series born at 1 it cannot)."""
    tally = Tally("bezel.test.declared_tally", "test", series=series_of(vendor=["tax", "bnpl"]))
    assert observe(tally) == [(0, {"vendor": "tax"}), (0, {"vendor": "bnpl"})]
    tally.add(2, (("vendor", "tax"),))
    assert observe(tally) == [(0, {"vendor": "bnpl"}), (2, {"vendor": "tax"})]
    plain = Counter("bezel.test.unlabelled", "test", series=series_of())
    assert observe(plain) == [(0, {})]
    plain.add(1)
    assert observe(plain) == [(1, {})]
    assert observe(Counter("bezel.test.undeclared", "test")) == []  # nothing declared: nothing until counted


def test_a_counter_takes_its_labels_in_any_order_into_the_declared_series() -> None:
    counter = Counter("bezel.test.counter", "test", series=series_of(system=["erp"], result=["synced", "failed"]))
    counter.add(1, {"system": "erp", "result": "synced"})
    counter.add(1, {"result": "synced", "system": "erp"})
    assert observe(counter) == [(0, {"result": "failed", "system": "erp"}), (2, {"result": "synced", "system": "erp"})]


def test_series_declared_later_join_at_0_and_a_counted_one_keeps_its_count() -> None:
    """What a process learns as it starts (its vendors, its consumer groups) is declared then."""
    counter = Counter("bezel.test.later", "test")
    counter.add(3, {"system": "erp"})
    counter.declare(series_of(system=["erp", "wms"]))
    assert observe(counter) == [(0, {"system": "wms"}), (3, {"system": "erp"})]

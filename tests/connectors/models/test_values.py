"""Money arithmetic and rounding, call outcomes' order and meaning, and the vendor and system names."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.models.values import DownstreamSystem, Money, Outcome, Vendor


def test_money_rounds_half_up_to_cents_and_uppercases_the_currency() -> None:
    assert Money.of("1.005", "usd") == Money(Decimal("1.01"), "USD")
    assert Money.of("2.675", "EUR").amount == Decimal("2.68")  # a float would give 2.67
    assert Money.of(-1, "USD").amount == Decimal("-1.00")
    assert Money.from_minor(12345, "usd") == Money(Decimal("123.45"), "USD")


def test_minor_units_round_trip() -> None:
    assert Money.of("0.10", "USD").minor == 10
    assert Money.of("999999.99", "USD").minor == 99_999_999
    assert Money.from_minor(Money.of("18500", "USD").minor, "USD") == Money.of("18500", "USD")


def test_adding_keeps_cents_and_refuses_another_currency() -> None:
    assert Money.of("0.10", "USD") + Money.of("0.20", "USD") == Money.of("0.30", "USD")
    assert Money.zero("USD") + Money.of("5", "USD") == Money.of("5", "USD")
    with pytest.raises(ValueError, match="cannot add EUR to USD"):
        Money.of(1, "USD") + Money.of(1, "EUR")


def test_times_str_and_json_never_use_floats() -> None:
    assert Money.of("33.33", "USD").times(3) == Money.of("99.99", "USD")
    assert Money.of("1", "USD").times(0) == Money.zero("USD")
    assert str(Money.of("7.5", "USD")) == "7.50 USD"
    assert Money.of("7.5", "USD").as_json() == {"amount": "7.50", "currency": "USD"}


def test_outcomes_are_ordered_best_to_worst() -> None:
    assert Outcome.CACHE.severity < Outcome.LIVE.severity < Outcome.STALE.severity < Outcome.TIMEOUT.severity
    assert max([Outcome.LIVE, Outcome.ERROR, Outcome.STALE], key=lambda o: o.severity) is Outcome.ERROR


@pytest.mark.parametrize(("outcome", "failed", "sent"), [
    (Outcome.CACHE, False, True), (Outcome.LIVE, False, True), (Outcome.BAD_INPUT, False, True),
    (Outcome.STALE, False, True), (Outcome.REJECTED, True, False), (Outcome.CIRCUIT_OPEN, True, False),
    (Outcome.ERROR, True, True), (Outcome.TIMEOUT, True, True),
])
def test_which_outcomes_failed_and_which_reached_the_vendor(outcome: Outcome, failed: bool, sent: bool) -> None:
    assert (outcome.failed, outcome.sent) == (failed, sent)


def test_vendors_are_strings_and_each_downstream_system_names_its_vendor() -> None:
    assert Vendor("payments") is Vendor.PAYMENTS
    assert {"catalog": 1}[Vendor.CATALOG] == 1
    assert {s: s.vendor for s in DownstreamSystem} == {
        DownstreamSystem.ERP: Vendor.ERP, DownstreamSystem.WMS: Vendor.WMS, DownstreamSystem.CRM: Vendor.CRM,
        DownstreamSystem.INSURANCE: Vendor.INSURANCE}

"""Financing terms as shoppers read them, cart lines' totals and a cart quote's completeness."""

from __future__ import annotations

from decimal import Decimal

from connectors.models import (
    Address,
    CartLine,
    CartQuote,
    FinancingOffer,
    InstallmentInterval,
    Money,
    SelectedOption,
    Variant,
)

USD = Money.of("100", "USD")


def offer(installments: int, interval: InstallmentInterval) -> FinancingOffer:
    return FinancingOffer("affirm", installments, interval, Decimal("0"), USD, USD, "")


def test_a_term_says_how_often_the_shopper_pays() -> None:
    assert offer(4, InstallmentInterval.TWO_WEEKS).term == "4 payments every 2 weeks"
    assert offer(12, InstallmentInterval.MONTH).term == "12 months"


def cart_line(price: str, quantity: int) -> CartLine:
    v = Variant("1", "p", "SKU", "t", Money.of(price, "USD"), (SelectedOption("Size", "6"),))
    return CartLine(v, quantity)


def test_a_cart_lines_total_is_its_variants_price_times_quantity() -> None:
    assert cart_line("19.99", 3).total == Money.of("59.97", "USD")


def quote(missing: tuple[str, ...] = ()) -> CartQuote:
    return CartQuote(lines=(cart_line("1", 1),), ship_to=Address("US", "10001"), subtotal=USD, tax=RuntimeError(),
                     insurance=None, financing=RuntimeError(), total=USD, missing=missing)


def test_a_quote_is_complete_only_when_no_part_is_missing() -> None:
    assert quote().complete
    assert not quote(("tax",)).complete


def test_an_address_needs_only_country_and_zip() -> None:
    a = Address("US", "10001")
    assert (a.province_code, a.city, a.line1, a.line2) == (None, None, None, None)
    assert a == Address(country_code="US", zip="10001")
    assert a != Address("US", "10002")

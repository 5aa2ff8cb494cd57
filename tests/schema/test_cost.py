"""What a document may cost: its shape before validation, its vendor calls before execution."""

from __future__ import annotations

import pytest
from graphql import parse

from schema.cost import TooComplex, check_shape, vendor_calls
from tests.support import PRODUCT_PAGE_QUERY

FAN_OUT = """{ products(first: 50) { nodes { """ + " ".join(
    f't{i}: taxEstimate(shipTo: {{countryCode: "US", provinceCode: "NY", zip: "1000{i % 10}"}}) {{ rate }} '
    f'i{i}: shippingInsurance(shipTo: {{countryCode: "US", provinceCode: "NY", zip: "1000{i % 10}"}}) {{ provider }}'
    for i in range(15)) + " } } }"


def test_the_readme_page_costs_one_call_per_vendor_it_asks() -> None:
    # catalog, inventory (every variant in one call), tax, insurance, Affirm + Afterpay, engraving
    assert vendor_calls(parse(PRODUCT_PAGE_QUERY), None, {}) == 7


def test_fields_under_a_product_page_count_once_per_product_asked_for() -> None:
    assert vendor_calls(parse(FAN_OUT), None, {}) == 1 + 50 * 30
    listing = parse("query($n: Int) { products(first: $n) { nodes { financing { offers { term } } } } }")
    assert vendor_calls(listing, None, {"n": 20}) == 1 + 20 * 2
    assert vendor_calls(listing, None, {}) == 1 + 10 * 2  # the API's default page
    assert vendor_calls(listing, None, {"n": 10_000}) == 1 + 50 * 2  # never more than the API serves


def test_a_cart_counts_its_lines_from_literals_or_variables() -> None:
    cart = parse("query($i: CartQuoteInput!) { cartQuote(input: $i) { total { amount } } }")
    lines = [{"variantId": str(i)} for i in range(3)]
    assert vendor_calls(cart, None, {"i": {"lines": lines}}) == 3 + 5
    assert vendor_calls(cart, None, {}) == 50 + 5  # unknown: the most a cart may hold


def test_fragments_count_every_time_they_are_spread() -> None:
    doc = parse("""{ a: product(handle: "a") { ...Quotes } b: product(handle: "b") { ...Quotes } }
        fragment Quotes on Product { financing { offers { term } } taxEstimate(shipTo: {countryCode: "US",
        provinceCode: "NY", zip: "10001"}) { rate } }""")
    assert vendor_calls(doc, None, {}) == 2 * (1 + 2 + 1)


def test_the_validation_bomb_is_refused_by_its_shape_and_so_are_its_variations() -> None:
    bomb = '{ product(handle: "a") { ' + " ".join(["variants { id }"] * 480) + " } }"
    spaced = bomb.replace(" ", "  ")
    via_fragment = ('{ product(handle: "a") { variants { ' + " ".join(["...F"] * 100) + " } } } "
                    "fragment F on ProductVariant { sku }")
    nested = '{ product(handle: "a") { ' + " ".join(["variants { " + "sku " * 32 + "}"] * 32) + " } }"
    for document in (bomb, spaced, via_fragment, nested):
        with pytest.raises(TooComplex):
            check_shape(parse(document), max_fields=1000, max_repeats=4)
    check_shape(parse(PRODUCT_PAGE_QUERY), max_fields=1000, max_repeats=4)  # a real page passes


def test_a_document_over_the_field_budget_is_refused_and_a_fragment_cycle_ends() -> None:
    wide = parse('{ product(handle: "a") { ' + " ".join(f"a{i}: title" for i in range(60)) + " } }")
    with pytest.raises(TooComplex, match="more than 50 fields"):
        check_shape(wide, max_fields=50, max_repeats=4)
    cycle = parse("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }")
    check_shape(cycle, max_fields=50, max_repeats=4)  # invalid, but measured without looping

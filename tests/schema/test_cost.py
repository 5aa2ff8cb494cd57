"""What a document may cost: its shape before validation, its vendor calls before execution."""

from __future__ import annotations

import pytest
from graphql import parse

from schema.cost import MAX_EXPANSION, TooComplex, check_shape, fields_of, vendor_calls
from tests.support import PRODUCT_PAGE_QUERY, ROOT, STOREFRONT_PAGE_QUERY, with_typename_everywhere

FAN_OUT = """{ products(first: 50) { nodes { """ + " ".join(
    f't{i}: taxEstimate(shipTo: {{countryCode: "US", provinceCode: "NY", zip: "1000{i % 10}"}}) {{ rate }} '
    f'i{i}: shippingInsurance(shipTo: {{countryCode: "US", provinceCode: "NY", zip: "1000{i % 10}"}}) {{ provider }}'
    for i in range(15)) + " } } }"
LIMITS = {"max_fields": 1000, "max_repeats": 4, "max_copies": 16, "max_deferred": 8}


def doubling(k: int) -> str:
    """900 bytes for k = 22: each fragment spreads the next twice, so the last is spread 2^k times."""
    return "query{...F0} " + " ".join(f"fragment F{i} on Query{{...F{i + 1} ...F{i + 1}}}" for i in range(k)) + \
        f" fragment F{k} on Query{{__typename}}"


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
    forms = ('{ product(handle: "a") { variants { id } variants @include(if: true) { sku } variants { title } '
             "variants @include(if: false) { title } variants { price { amount } } variants @include(if: true) { id } "
             "} }")
    for document in (bomb, spaced, via_fragment, nested):
        with pytest.raises(TooComplex) as refused:
            check_shape(parse(document), **LIMITS)
        assert refused.value.limit == "max_copies"
    check_shape(parse(forms), **LIMITS)  # six selections of `variants` in three forms: within 4
    check_shape(parse(PRODUCT_PAGE_QUERY), **LIMITS)  # a real page passes


def test_a_document_over_the_field_budget_is_refused_and_a_fragment_cycle_ends() -> None:
    wide = parse('{ product(handle: "a") { ' + " ".join(f"a{i}: title" for i in range(60)) + " } }")
    with pytest.raises(TooComplex, match="more than 50 fields and fragments"):
        check_shape(wide, **{**LIMITS, "max_fields": 50})
    cycle = parse("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A __typename }")
    check_shape(cycle, **{**LIMITS, "max_fields": 50})  # invalid, but measured without looping


def test_a_fragment_spread_twice_in_every_fragment_is_refused_after_a_bounded_walk() -> None:
    """The 900-byte document that doubled its work per fragment: refused by the shape check after
    `max_fields` steps, and no other pass over it goes further than MAX_EXPANSION steps, whoever calls it."""
    bomb = parse(doubling(22))
    with pytest.raises(TooComplex, match="more than 1000 fields and fragments"):
        check_shape(bomb, **LIMITS)
    with pytest.raises(TooComplex, match=f"more than {MAX_EXPANSION}"):
        fields_of(bomb, bomb.definitions[0].selection_set)  # type: ignore[attr-defined]
    with pytest.raises(TooComplex):
        vendor_calls(bomb, None, {})


def test_defer_and_stream_count_every_time_they_are_spread_or_aliased() -> None:
    storefront_page = (ROOT / "storefront" / "operations" / "ProductPage.graphql").read_text()
    check_shape(parse(storefront_page), **LIMITS)  # five deferred parts: within the default of 8
    fan = "{ " + " ".join(f'a{i}: product(handle: "x") {{ variants {{ ...D }} }}' for i in range(3)) + " } " \
          "fragment D on ProductVariant { ... @defer { sku } ... @defer { title } ... @defer { id } }"
    with pytest.raises(TooComplex, match="more than 8 @defer or @stream"):
        check_shape(parse(fan), **LIMITS)  # 3 aliases x 3 defers
    streams = "{ " + " ".join(f'a{i}: product(handle: "x") {{ variants @stream {{ sku }} }}' for i in range(9)) + " }"
    with pytest.raises(TooComplex, match="@defer or @stream"):
        check_shape(parse(streams), **LIMITS)
    check_shape(parse(streams), **{**LIMITS, "max_deferred": 9})


def test_a_variable_left_out_costs_what_its_default_asks_for() -> None:
    """`$n: Int = 50` not sent is 50 products, not the API's default 10 (max_cost was bypassed that way)."""
    listing = parse("query Q($n: Int = 50) { products(first: $n) { nodes { financing { offers { term } } } } }")
    assert vendor_calls(listing, None, {}) == 1 + 50 * 2
    assert vendor_calls(listing, None, {"n": 5}) == 1 + 5 * 2  # what is sent wins
    cart = parse('query($i: CartQuoteInput! = {lines: [{variantId: "1"}, {variantId: "2"}]}) '
                 "{ cartQuote(input: $i) { total { amount } } }")
    assert vendor_calls(cart, None, {}) == 2 + 5


def test_a_defer_inside_a_list_counts_a_part_for_every_item_the_list_may_hold() -> None:
    """8 aliased products deferring a fragment in their variants could stream 8 x 250 parts: refused
    before it runs; the one product the README's example asks for (250 at most) is not."""
    one = '{ product(handle: "x") { variants { sku ... @defer { title } } } }'
    check_shape(parse(one), **LIMITS, max_parts=300)
    two = "{ " + " ".join(f'a{i}: product(handle: "x") {{ variants {{ sku ... @defer {{ title }} }} }}'
                          for i in range(2)) + " }"
    with pytest.raises(TooComplex, match="more than 300 parts"):
        check_shape(parse(two), **LIMITS, max_parts=300)
    streamed = '{ products(first: 50) { nodes { variants @stream(initialCount: 1) { sku } } } }'
    with pytest.raises(TooComplex, match="more than 300 parts"):
        check_shape(parse(streamed), **LIMITS, max_parts=300)
    check_shape(parse(two), **LIMITS)  # no estimate asked for (a trusted document): held to what it does


def test_what_clients_add_by_themselves_is_not_counted_as_an_attackers_repeats() -> None:
    apollo = with_typename_everywhere(STOREFRONT_PAGE_QUERY)
    assert apollo.count("__typename") > 10
    check_shape(parse(apollo), **LIMITS)  # six `__typename` in `product`'s merged selection set
    colocated = '{ product(handle: "a") { ' + " ".join(f"...F{i}" for i in range(10)) + " } } " + " ".join(
        f"fragment F{i} on Product {{ __typename id variants {{ id sku }} }}" for i in range(10))
    check_shape(parse(colocated), **LIMITS)  # one field, the same arguments, spread by ten fragments


def test_a_name_in_too_many_forms_or_copies_is_refused_naming_the_limit() -> None:
    five_forms = '{ product(handle: "a") { ' + " ".join(
        f'taxEstimate(shipTo: {{countryCode: "US", provinceCode: "NY", zip: "1000{i}"}}) {{ rate }}'
        for i in range(5)) + " } }"
    with pytest.raises(TooComplex, match="in 5 different forms") as refused:
        check_shape(parse(five_forms), **LIMITS)
    assert refused.value.limit == "max_repeats"
    copies = '{ product(handle: "a") { ' + " ".join(["... on Product { __typename }"] * 17) + " } }"
    with pytest.raises(TooComplex, match="17 times in one selection set; at most 16 copies") as refused:
        check_shape(parse(copies), **LIMITS)
    assert refused.value.limit == "max_copies"
    check_shape(parse(copies), **{**LIMITS, "max_copies": 17})
    with pytest.raises(TooComplex) as refused:
        check_shape(parse(doubling(22)), **LIMITS)
    assert refused.value.limit == "max_fields"

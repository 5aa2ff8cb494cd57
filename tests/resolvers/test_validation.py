"""Input checks that run before any vendor is asked."""

from __future__ import annotations

import pytest

from connectors.errors import InputError
from connectors.models import Address as AddressInput
from resolvers.validation import address, decode_cursor, encode_cursor, page_size, parse_gid


def test_a_good_address_is_normalized() -> None:
    checked = address(AddressInput(country_code=" us ", zip="10001-1234", province_code="ny", city=" New York "))
    assert (checked.country_code, checked.zip, checked.province_code, checked.city) == ("US", "10001-1234", "NY",
                                                                                        "New York")
    canada = address(AddressInput(country_code="CA", zip="m5v 2t6", province_code="ON"))
    assert canada.zip == "M5V 2T6"
    uk = address(AddressInput(country_code="GB", zip="SW1A 1AA"))
    assert uk.province_code is None


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        (AddressInput(country_code="XX", zip="10001"), ["shipTo.countryCode"]),
        (AddressInput(country_code="US", zip="ABCDE", province_code="NY"), ["shipTo.zip"]),
        (AddressInput(country_code="US", zip="", province_code="NY"), ["shipTo.zip"]),
        (AddressInput(country_code="US", zip="10001", province_code="QQ"), ["shipTo.provinceCode"]),
        (AddressInput(country_code="CA", zip="K1A 0B1", province_code="NY"), ["shipTo.provinceCode"]),
        (AddressInput(country_code="US", zip="1", province_code="QQ", city="a\x00b"),
         ["shipTo.city", "shipTo.zip", "shipTo.provinceCode"]),
        (AddressInput(country_code="US", zip="10001", province_code="NY", line2="x" * 201), ["shipTo.line2"]),
    ],
)
def test_every_problem_is_named(raw: AddressInput, fields: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        address(raw)
    assert caught.value.field == fields[0]
    assert [p["field"] for p in caught.value.details["problems"]] == fields


def test_ids_and_cursors_round_trip_and_reject_foreign_values() -> None:
    assert parse_gid("gid://bezel/ProductVariant/45210000001", "ProductVariant", "variantId") == "45210000001"
    assert parse_gid("45210000001", "ProductVariant", "variantId") == "45210000001"
    for bad in ("gid://bezel/Product/1", "gid://shopify/ProductVariant/1", "1; drop table", ""):
        with pytest.raises(InputError):
            parse_gid(bad, "ProductVariant", "variantId")
    shopify = "eyJsYXN0X2lkIjo4MTA0MDAwMDAzfQ=="  # the catalog's own cursor, opaque
    assert decode_cursor(encode_cursor("8104000003", shopify)) == shopify
    for bad in ("", "!!!", "cHJvZHVjdDp4", "cHJvZHVjdDoxOg==", "cHJvZHVjdDoxOnsiYSI6MX0="):
        # "product:x", "product:1:" (no catalog cursor), "product:1:{"a":1}" (not one the catalog writes)
        with pytest.raises(InputError):
            decode_cursor(bad)
    assert page_size(None) == 10
    with pytest.raises(InputError):
        page_size(0)

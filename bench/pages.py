"""The page every benchmark asks for: the README's product-page query, as a storefront sends it."""

from __future__ import annotations

import orjson

from tests.support import PRODUCT_PAGE_QUERY

STANDARD = "lumiere-sapphire-pendant"  # 30 variants: the standard product page
BIG = "seraphina-halo-ring"  # 220 variants: the CPU-heavy case
NY_ZIPS = [f"{z:05d}" for z in range(10001, 14900)]  # all in New York by the tax vendor's ZIP table


def _with_variables(query: str) -> str:
    """The README's page query with its literals turned into variables, as a storefront client sends
    it (Apollo, urql, Hydrogen): one query text for every shopper, so it is parsed and validated once."""
    swaps = {
        "query ProductPage {": "query ProductPage($handle: String!, $shipTo: AddressInput!, "
                               "$engraving: EngravingInput!) {",
        'product(handle: "aurelia-solitaire-ring")': "product(handle: $handle)",
        'shipTo: {countryCode: "US", provinceCode: "NY", zip: "10001"}': "shipTo: $shipTo",
        'input: {text: "Forever Yours", font: "script", placement: INSIDE_BAND}': "input: $engraving",
    }
    for literal, variable in swaps.items():
        assert literal in query, f"the README query changed: {literal!r} is gone"
        query = query.replace(literal, variable)
    return query


PAGE_QUERY = _with_variables(PRODUCT_PAGE_QUERY)


def page_body(handle: str, zip_code: str = "10001", text: str = "Forever Yours") -> bytes:
    return orjson.dumps({"query": PAGE_QUERY, "variables": {
        "handle": handle,
        "shipTo": {"countryCode": "US", "provinceCode": "NY", "zip": zip_code},
        "engraving": {"text": text, "font": "script", "placement": "INSIDE_BAND"},
    }})

"""The page the benchmarks send (the README's query with variables) answers cleanly and means what
the README's literal query means, so `make bench` measures the page users are told about."""

from __future__ import annotations

import orjson

from bench.pages import BIG, STANDARD, page_body
from tests.support import PRODUCT_PAGE_QUERY, Gateway


async def test_the_benchmark_page_is_the_readme_page_with_variables(gateway: Gateway) -> None:
    literal = PRODUCT_PAGE_QUERY.replace("aurelia-solitaire-ring", STANDARD)
    expected = (await gateway.gql(literal))["data"]["product"]
    sent = orjson.loads(page_body(STANDARD))
    answer = await gateway.gql(sent["query"], sent["variables"])
    assert "errors" not in answer
    product = answer["data"]["product"]
    assert len(product["variants"]) == 30
    assert [v["sku"] for v in product["variants"]] == [v["sku"] for v in expected["variants"]]
    for field in ("taxEstimate", "shippingInsurance", "financing", "engravingPreview"):
        assert product[field] is not None, field
    assert product["taxEstimate"]["amountToCollect"] == expected["taxEstimate"]["amountToCollect"]


async def test_each_shopper_s_variables_reach_the_vendors(gateway: Gateway) -> None:
    a = orjson.loads(page_body(BIG, "10001", "Love 00001"))
    b = orjson.loads(page_body(BIG, "12345", "Love 00002"))
    first, second = (await gateway.gql(a["query"], a["variables"])), (await gateway.gql(b["query"], b["variables"]))
    assert len(first["data"]["product"]["variants"]) == 220
    assert first["data"]["product"]["engravingPreview"]["imageUrl"] != \
        second["data"]["product"]["engravingPreview"]["imageUrl"]

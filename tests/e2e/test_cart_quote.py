"""A cart priced server-side in one pass: subtotal, tax, insurance, financing and total."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sandbox.handle import Sandbox
from tests.support import US_ADDRESS, Gateway

CART = """query($input: CartQuoteInput!) { cartQuote(input: $input) {
    lines { quantity unitPrice { amount } lineTotal { amount } variant { sku title } }
    subtotal { amount currencyCode }
    tax { amountToCollect { amount } rate freshness { source } }
    insurance { premium { amount } insuredAmount { amount } }
    financing { amount { amount } offers { provider installmentAmount { amount } } }
    total { amount currencyCode } complete missing } }"""


async def _variant_ids(gateway: Gateway, handle: str) -> list[dict[str, Any]]:
    result = await gateway.gql("query($h: String!) { product(handle: $h) { variants { id sku price { amount } } } }",
                               {"h": handle})
    return result["data"]["product"]["variants"]


async def test_a_two_line_cart_adds_up(gateway: Gateway, sandbox: Sandbox) -> None:
    hoops = (await _variant_ids(gateway, "gold-huggie-hoops"))[0]
    pendant = (await _variant_ids(gateway, "lumiere-sapphire-pendant"))[3]
    sandbox.reset()
    lines = [{"variantId": hoops["id"], "quantity": 2}, {"variantId": pendant["id"], "quantity": 1}]
    result = await gateway.gql(CART, {"input": {"lines": lines, "shipTo": US_ADDRESS}})
    assert "errors" not in result
    quote = result["data"]["cartQuote"]
    subtotal = Decimal(hoops["price"]["amount"]) * 2 + Decimal(pendant["price"]["amount"])
    assert Decimal(quote["subtotal"]["amount"]) == subtotal
    tax = Decimal(quote["tax"]["amountToCollect"]["amount"])
    premium = Decimal(quote["insurance"]["premium"]["amount"])
    assert Decimal(quote["insurance"]["insuredAmount"]["amount"]) == subtotal
    assert tax == (subtotal * Decimal("0.08875")).quantize(Decimal("0.01"))
    assert Decimal(quote["total"]["amount"]) == subtotal + tax + premium
    assert Decimal(quote["financing"]["amount"]["amount"]) == subtotal + tax + premium
    assert quote["complete"] is True
    assert quote["missing"] == []
    assert [line["quantity"] for line in quote["lines"]] == [2, 1]
    calls = sandbox.calls()
    assert calls["tax"] == calls["insurance"] == 1
    assert calls["catalog"] == 2  # both variants' products in one call (`nodes(ids:)`), then both products


async def test_repeated_lines_merge_and_insurance_can_be_left_out(gateway: Gateway) -> None:
    hoops = (await _variant_ids(gateway, "gold-huggie-hoops"))[1]
    lines = [{"variantId": hoops["id"], "quantity": 1}, {"variantId": hoops["id"], "quantity": 2}]
    result = await gateway.gql(CART, {"input": {"lines": lines, "shipTo": US_ADDRESS, "insure": False}})
    quote = result["data"]["cartQuote"]
    assert [line["quantity"] for line in quote["lines"]] == [3]
    assert quote["insurance"] is None
    assert "errors" not in result
    assert Decimal(quote["total"]["amount"]) == Decimal(quote["subtotal"]["amount"]) + Decimal(
        quote["tax"]["amountToCollect"]["amount"])


async def test_a_failed_tax_vendor_leaves_the_quote_incomplete_not_broken(gateway: Gateway, sandbox: Sandbox) -> None:
    ring = (await _variant_ids(gateway, "trinity-three-stone-ring"))[0]
    sandbox.fault("tax", status=503)
    result = await gateway.gql(CART, {"input": {"lines": [{"variantId": ring["id"]}], "shipTo": US_ADDRESS}})
    quote = result["data"]["cartQuote"]
    assert quote["tax"] is None
    assert quote["complete"] is False
    assert quote["missing"] == ["tax"]
    assert Decimal(quote["total"]["amount"]) == Decimal(quote["subtotal"]["amount"]) + Decimal(
        quote["insurance"]["premium"]["amount"])
    assert quote["financing"]["offers"]
    [error] = result["errors"]
    assert error["path"] == ["cartQuote", "tax"]
    assert error["extensions"]["code"] == "VENDOR_UNAVAILABLE"
    assert error["extensions"]["vendor"] == "tax"


async def test_bad_cart_input_names_the_line(gateway: Gateway, sandbox: Sandbox) -> None:
    ring = (await _variant_ids(gateway, "trinity-three-stone-ring"))[0]
    cases = [
        ([{"variantId": ring["id"], "quantity": 0}], "input.lines[0].quantity"),
        ([{"variantId": ring["id"], "quantity": 11}], "input.lines[0].quantity"),
        ([{"variantId": ring["id"]}, {"variantId": "gid://bezel/ProductVariant/999999"}], "input.lines[1].variantId"),
        ([{"variantId": ring["id"]}, {"variantId": "ring-please"}], "input.lines[1].variantId"),
        ([], "input.lines"),
        ([{"variantId": ring["id"], "quantity": 6}, {"variantId": ring["id"], "quantity": 6}], "input.lines"),
    ]
    for lines, field in cases:
        result = await gateway.gql(CART, {"input": {"lines": lines, "shipTo": US_ADDRESS}})
        assert result["data"] is None
        assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in result["errors"]] == [
            ("BAD_USER_INPUT", field)], lines
    sandbox.reset()
    address = {"countryCode": "US", "provinceCode": "ZZ", "zip": "10001"}
    result = await gateway.gql(CART, {"input": {"lines": [{"variantId": ring["id"]}], "shipTo": address}})
    assert result["errors"][0]["extensions"]["field"] == "input.shipTo.provinceCode"
    assert sandbox.calls()["catalog"] == 0

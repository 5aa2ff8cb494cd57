"""A storefront engineer builds a product page against the sandbox: the whole page in one query."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

import pytest

from sandbox.handle import Sandbox
from tests.support import PRODUCT_PAGE_QUERY, ROOT, Gateway, error_codes

PAGE_VENDORS = {"catalog", "inventory", "tax", "insurance", "bnpl", "engraving"}


async def test_the_full_product_page_query_returns_every_part_live(gateway: Gateway) -> None:
    """The README's query: a 176-variant ring with stock, tax, insurance, financing and an engraving preview."""
    started = time.perf_counter()
    result = await gateway.gql(PRODUCT_PAGE_QUERY)
    elapsed_ms = (time.perf_counter() - started) * 1000

    assert "errors" not in result
    product = result["data"]["product"]
    assert product["title"] == "Aurelia Solitaire Engagement Ring"
    assert [o["name"] for o in product["options"]] == ["Metal", "Center Stone", "Ring Size"]
    assert len(product["variants"]) == 4 * 4 * 11
    statuses = {v["availability"]["status"] for v in product["variants"]}
    assert statuses <= {"IN_STOCK", "LOW_STOCK", "OUT_OF_STOCK"}
    assert len(statuses) >= 2
    assert all(v["availability"]["freshness"]["source"] == "LIVE" for v in product["variants"])
    assert Decimal(product["taxEstimate"]["amountToCollect"]["amount"]) > 0
    assert product["taxEstimate"]["rate"] == "0.08875"
    assert product["shippingInsurance"]["provider"] == "Onward"
    providers = {o["provider"] for o in product["financing"]["offers"]}
    assert providers == {"affirm", "afterpay"}
    assert product["engravingPreview"]["imageUrl"].endswith(".svg")
    assert product["engravingPreview"]["limits"]["maxLength"] == 24
    vendors = result["extensions"]["vendors"]
    assert set(vendors) == PAGE_VENDORS
    assert {v["outcome"] for v in vendors.values()} == {"live"}
    assert {v["source"] for v in vendors.values()} == {"LIVE"}
    # Each vendor's time is a real round trip to the sandbox, and within what the client waited.
    assert all(0 < v["ms"] <= elapsed_ms for v in vendors.values()), (vendors, elapsed_ms)


async def test_readme_shows_the_query_that_graphiql_opens_with(gateway: Gateway) -> None:
    """The README's product-page query is the one GraphiQL pre-fills, so what users copy is what is tested."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```graphql\n(.*?)```", readme, flags=re.DOTALL)
    assert PRODUCT_PAGE_QUERY in blocks


async def test_a_100_plus_variant_ring_costs_exactly_one_inventory_call(gateway: Gateway, sandbox: Sandbox) -> None:
    """Every variant's availability is batched into one inventory call per request."""
    for handle, variants in (("aurelia-solitaire-ring", 176), ("seraphina-halo-ring", 220)):
        sandbox.reset()
        result = await gateway.gql(
            "query($h: String!) { product(handle: $h) { variants { availability { status } } } }", {"h": handle}
        )
        assert len(result["data"]["product"]["variants"]) == variants
        calls = sandbox.calls()
        assert calls["inventory"] == 1, calls
        assert calls["catalog"] == 1, calls


async def test_a_whole_catalog_of_stock_shares_inventory_calls_of_at_most_250_skus(
    gateway: Gateway, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every product's variants (one loader key each) and a single variant asked on its own go into the
    same batch, split into the inventory API's 250-SKU calls."""
    sandbox.reset()
    policy = gateway.app.state.services.vendors.policies["inventory"]
    asked: list[list[str]] = []
    run_batch = policy.run_batch

    async def recorded(batch: Any, scope: Any) -> Any:
        asked.append(list(batch.keys))
        return await run_batch(batch, scope)

    monkeypatch.setattr(policy, "run_batch", recorded)
    result = await gateway.gql("""{ products(first: 50) { nodes { variants { sku availability { status } } } }
        product(handle: "aurelia-solitaire-ring") { variantBySelectedOptions(selectedOptions: [
          {name: "Metal", value: "Platinum"}, {name: "Center Stone", value: "1.0 ct Lab Diamond"},
          {name: "Ring Size", value: "6"}]) { sku availability { status } } } }""")
    assert "errors" not in result, result["errors"]
    skus = {v["sku"] for p in result["data"]["products"]["nodes"] for v in p["variants"]}
    single = result["data"]["product"]["variantBySelectedOptions"]
    assert single["sku"] in skus
    assert len(skus) > 250
    every = [sku for batch in asked for sku in batch]
    assert sorted(every) == sorted(skus)  # each SKU asked once, the single variant's included
    assert all(len(batch) <= 250 for batch in asked)
    assert sandbox.calls()["inventory"] <= -(-len(skus) // 250) + 1  # + the single variant, if it came first


async def test_an_unknown_handle_is_null_without_an_error(gateway: Gateway, sandbox: Sandbox) -> None:
    result = await gateway.gql('{ product(handle: "no-such-ring") { id title } }')
    assert result["data"] == {"product": None}
    assert "errors" not in result


async def test_products_page_through_the_catalog_with_cursors(gateway: Gateway) -> None:
    query = """query($after: String) { products(first: 6, after: $after) {
        edges { cursor node { handle } } nodes { handle } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = (await gateway.gql(query, {"after": after}))["data"]["products"]
        pages += 1
        assert [e["node"]["handle"] for e in page["edges"]] == [n["handle"] for n in page["nodes"]]
        seen += [n["handle"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 16


async def test_bad_paging_arguments_are_typed_input_errors(gateway: Gateway) -> None:
    for args, field in (("first: 0", "first"), ("first: 51", "first"), ('after: "bm9wZQ=="', "after")):
        result = await gateway.gql(f"{{ products({args}) {{ nodes {{ handle }} }} }}")
        assert result["data"] is None
        assert result["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


async def test_variant_by_selected_options_finds_the_exact_variant(gateway: Gateway) -> None:
    query = """query($o: [SelectedOptionInput!]!, $ci: Boolean! = false) { product(handle: "aurelia-solitaire-ring") {
        variantBySelectedOptions(selectedOptions: $o, caseInsensitiveMatch: $ci) { sku title } } }"""
    options = [{"name": "Metal", "value": "Platinum"}, {"name": "Center Stone", "value": "1.5 ct Natural Diamond"},
               {"name": "Ring Size", "value": "6.5"}]
    result = await gateway.gql(query, {"o": options})
    assert result["data"]["product"]["variantBySelectedOptions"] == {
        "sku": "AUR-PT-ND15-S0650", "title": "Platinum / 1.5 ct Natural Diamond / 6.5"}
    lowered = [{"name": o["name"].upper(), "value": o["value"].lower()} for o in options]
    result = await gateway.gql(query, {"o": lowered, "ci": True})
    assert result["data"]["product"]["variantBySelectedOptions"]["sku"] == "AUR-PT-ND15-S0650"


async def test_invalid_selected_options_say_which_option_is_wrong(gateway: Gateway) -> None:
    query = """query($o: [SelectedOptionInput!]!) { product(handle: "aurelia-solitaire-ring") {
        title variantBySelectedOptions(selectedOptions: $o) { sku } } }"""
    cases = [
        ([{"name": "Colour", "value": "Red"}], "selectedOptions[0].name", "has no option 'Colour'"),
        ([{"name": "Metal", "value": "Silver"}, {"name": "Center Stone", "value": "1.0 ct Lab Diamond"},
          {"name": "Ring Size", "value": "6"}], "selectedOptions[0].value", "'Silver' is not a value of Metal"),
        ([{"name": "Metal", "value": "Platinum"}], "selectedOptions", "missing: Center Stone, Ring Size"),
        ([{"name": "Metal", "value": "Platinum"}, {"name": "Metal", "value": "Platinum"}],
         "selectedOptions[1].name", "given twice"),
    ]
    for options, field, message in cases:
        result = await gateway.gql(query, {"o": options})
        product = result["data"]["product"]
        assert product["title"] == "Aurelia Solitaire Engagement Ring"  # the rest of the product is intact
        assert product["variantBySelectedOptions"] is None
        error = result["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == field
        assert message in error["message"]
        assert error["path"] == ["product", "variantBySelectedOptions"]


async def test_a_combination_that_is_not_made_is_null_without_error(gateway: Gateway) -> None:
    # Every option and value exists, but the pendant has no 26" chain: a valid question whose answer is "none".
    result = await gateway.gql("""{ product(handle: "lumiere-sapphire-pendant") { variantBySelectedOptions(
        selectedOptions: [{name: "Metal", value: "Platinum"}, {name: "Stone", value: "Blue Sapphire"},
                          {name: "Chain Length", value: "16\\""}]) { sku } } }""")
    assert result["data"]["product"]["variantBySelectedOptions"] == {"sku": "LUM-PT-BLU-L16"}


async def test_bad_addresses_are_refused_before_any_vendor_call(gateway: Gateway, sandbox: Sandbox) -> None:
    query = """query($a: AddressInput!) { product(handle: "aurelia-solitaire-ring") {
        title taxEstimate(shipTo: $a) { rate } shippingInsurance(shipTo: $a) { provider } } }"""
    cases = [
        ({"countryCode": "USA", "zip": "10001", "provinceCode": "NY"}, "shipTo.countryCode"),
        ({"countryCode": "US", "zip": "1000", "provinceCode": "NY"}, "shipTo.zip"),
        ({"countryCode": "US", "zip": "10001"}, "shipTo.provinceCode"),
        ({"countryCode": "CA", "zip": "10001", "provinceCode": "ON"}, "shipTo.zip"),
        ({"countryCode": "US", "zip": "10001", "provinceCode": "NY", "line1": "x" * 5000}, "shipTo.line1"),
    ]
    for address, field in cases:
        sandbox.reset()
        result = await gateway.gql(query, {"a": address})
        product = result["data"]["product"]
        assert product["title"]
        assert product["taxEstimate"] is None
        assert product["shippingInsurance"] is None
        assert {e["extensions"]["field"] for e in result["errors"]} == {field}
        assert {e["extensions"]["code"] for e in result["errors"]} == {"BAD_USER_INPUT"}
        calls = sandbox.calls()
        assert calls["tax"] == calls["insurance"] == 0, (address, calls)


async def test_an_address_the_tax_vendor_rejects_blames_the_zip(gateway: Gateway) -> None:
    """Well-formed but wrong: a Beverly Hills ZIP in New York. TaxJar refuses it; we say why in our words."""
    result = await gateway.gql(
        """{ product(handle: "aurelia-solitaire-ring") { title
            taxEstimate(shipTo: {countryCode: "US", provinceCode: "NY", zip: "90210"}) { rate } } }"""
    )
    assert result["data"]["product"]["title"]
    assert result["data"]["product"]["taxEstimate"] is None
    [error] = result["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "shipTo.zip", "vendor": "tax"}
    assert error["message"] == "The ZIP code does not belong to the state or province given."
    assert "to_zip" not in str(result)  # the vendor's own wording stays in our logs


async def test_tax_estimate_for_a_chosen_variant_and_a_canadian_address(gateway: Gateway) -> None:
    query = """query($v: ID) { product(handle: "diamond-stud-earrings") { variants { id price { amount } }
        taxEstimate(variantId: $v, shipTo: {countryCode: "CA", provinceCode: "ON", zip: "M5V 2T6"}) {
          amountToCollect { amount currencyCode } rate taxableAmount { amount } jurisdiction { country state } } } }"""
    variants = (await gateway.gql(query, {"v": None}))["data"]["product"]["variants"]
    priciest = max(variants, key=lambda v: Decimal(v["price"]["amount"]))
    tax = (await gateway.gql(query, {"v": priciest["id"]}))["data"]["product"]["taxEstimate"]
    assert tax["rate"] == "0.13"
    assert tax["taxableAmount"]["amount"] == priciest["price"]["amount"]
    assert Decimal(tax["amountToCollect"]["amount"]) == (Decimal(priciest["price"]["amount"]) * Decimal("0.13")
                                                          ).quantize(Decimal("0.01"))
    assert tax["jurisdiction"] == {"country": "CA", "state": "ON"}


async def test_a_variant_id_from_another_product_is_an_input_error(gateway: Gateway) -> None:
    other = (await gateway.gql('{ product(handle: "gold-huggie-hoops") { variants { id } } }'))
    variant_id = other["data"]["product"]["variants"][0]["id"]
    query = 'query($v: ID) { product(handle: "pave-eternity-band") { financing(variantId: $v) { offers { apr } } } }'
    result = await gateway.gql(query, {"v": variant_id})
    assert result["data"]["product"]["financing"] is None
    assert result["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "variantId"}
    result = await gateway.gql(query, {"v": "gid://x/y"})
    assert error_codes(result) == [("BAD_USER_INPUT", None)]


async def test_financing_offers_follow_each_providers_limits(gateway: Gateway) -> None:
    """Afterpay stops at $4,000; Affirm goes to $30,000; above both, no offers (and no error)."""
    query = """query($h: String!) { product(handle: $h) { financing {
        amount { amount } offers { provider installments interval apr installmentAmount { amount } message } } } }"""
    hoops = (await gateway.gql(query, {"h": "gold-huggie-hoops"}))["data"]["product"]["financing"]
    assert {o["provider"] for o in hoops["offers"]} == {"affirm", "afterpay"}
    afterpay = next(o for o in hoops["offers"] if o["provider"] == "afterpay")
    assert afterpay["installments"] == 4
    assert afterpay["interval"] == "TWO_WEEKS"
    assert afterpay["apr"] == "0"
    assert Decimal(afterpay["installmentAmount"]["amount"]) * 4 >= Decimal(hoops["amount"]["amount"])
    halo = (await gateway.gql(query, {"h": "seraphina-halo-ring"}))["data"]["product"]["financing"]
    assert {o["provider"] for o in halo["offers"]} == {"affirm"}
    assert halo["offers"][0]["message"].startswith("As low as $")
    padparadscha = (await gateway.gql(query, {"h": "padparadscha-cocktail-ring"}))["data"]["product"]["financing"]
    assert padparadscha["offers"] == []


async def test_engraving_preview_image_is_rendered_by_the_vendor(gateway: Gateway) -> None:
    import httpx

    result = await gateway.gql("""{ product(handle: "classic-comfort-band") { engravingPreview(
        input: {text: "J & M 2026", font: "block", placement: OUTSIDE_BAND}) {
        imageUrl text font placement limits { maxLength allowedPattern placements } } } }""")
    preview = result["data"]["product"]["engravingPreview"]
    assert preview["limits"]["maxLength"] == 16
    assert preview["placement"] == "outside_band"
    async with httpx.AsyncClient() as browser:
        image = await browser.get(preview["imageUrl"])
    assert image.status_code == 200
    assert image.headers["content-type"].startswith("image/svg+xml")
    assert "J &amp; M 2026" in image.text


async def test_engraving_input_errors_are_typed(gateway: Gateway, sandbox: Sandbox) -> None:
    query = """query($h: String!, $t: String!, $f: String!) { product(handle: $h) {
        title engravingPreview(input: {text: $t, font: $f}) { imageUrl } } }"""
    cases = [
        ({"h": "aurelia-solitaire-ring", "t": "x" * 25, "f": "serif"}, "input.text", "at most 24 characters"),
        ({"h": "aurelia-solitaire-ring", "t": "Love <3 ☺", "f": "serif"}, "input.text", "may only use A-Z"),
        ({"h": "aurelia-solitaire-ring", "t": "Hi", "f": "comic-sans"}, "input.font", "fonts: script, block, serif"),
        ({"h": "aurelia-solitaire-ring", "t": "y" * 10_000, "f": "serif"}, "input.text", "limited to 64"),
        ({"h": "diamond-stud-earrings", "t": "Hi", "f": "serif"}, "input", "cannot be engraved"),
    ]
    for variables, field, message in cases:
        result = await gateway.gql(query, variables)
        assert result["data"]["product"]["title"]
        assert result["data"]["product"]["engravingPreview"] is None
        [error] = result["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["extensions"]["field"] == field
        assert message in error["message"]
    assert sandbox.calls()["engraving"] == 3  # the last two never reached the vendor



async def test_every_answer_says_how_long_the_gateway_took(gateway: Gateway) -> None:
    """`Server-Timing: gateway;dur=<ms>`: the gateway's own time, at least the slowest vendor's on the
    page, shown by browser dev tools and used by the benchmarks to leave out the client's time."""
    response = await gateway.post(PRODUCT_PAGE_QUERY)
    match = re.fullmatch(r"gateway;dur=(\d+\.\d)", response.headers["server-timing"])
    assert match is not None
    slowest = max(v["ms"] for v in response.json()["extensions"]["vendors"].values())
    assert float(match.group(1)) >= slowest
    refused = await gateway.http.post("/graphql", content=b"{not json", headers={"content-type": "application/json"})
    assert refused.status_code == 400
    assert refused.headers["server-timing"].startswith("gateway;dur=")

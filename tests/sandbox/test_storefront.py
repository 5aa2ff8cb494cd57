"""The sandbox's Storefront API, in process: Shopify's shapes, paging from both ends, cost, THROTTLED, failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox import create_app
from sandbox.webhooks import Secrets

URL = "/catalog/api/2025-10/graphql.json"
CONFIGURATOR = "bespoke-solitaire-configurator"
VARIANTS = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { id sku }"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(latency_scale=0, seed=3, secrets=Secrets())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as http:
        yield http


async def gql(client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None,
              status: int = 200) -> dict[str, Any]:
    response = await client.post(URL, json={"query": query, "variables": variables or {}})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    return response.json()  # type: ignore[no-any-return]


async def test_a_product_by_handle_in_shopify_s_shapes(client: httpx.AsyncClient) -> None:
    body = await gql(client, """{ product(handle: "lumiere-sapphire-pendant") {
        id handle tags options(first: 3) { name optionValues { name } }
        engravable: metafield(namespace: "custom", key: "engravable") { value }
        images(first: 1) { nodes { url altText } }
        variants(first: 2) { nodes { id sku price { amount currencyCode } selectedOptions { name value } } } } }""")
    product = body["data"]["product"]
    assert product["id"].startswith("gid://shopify/Product/")
    assert [o["name"] for o in product["options"]] == ["Metal", "Stone", "Chain Length"]
    assert product["engravable"] == {"value": "true"}
    first = product["variants"]["nodes"][0]
    assert first["id"].startswith("gid://shopify/ProductVariant/")
    assert first["price"] == {"amount": "2500.00", "currencyCode": "USD"}
    assert first["selectedOptions"][0] == {"name": "Metal", "value": "Platinum"}
    assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] > 0


async def test_the_configurator_pages_from_both_ends_and_the_pages_meet(client: httpx.AsyncClient) -> None:
    """1,200 variants, at most 250 a page; `after`/`before` cursors and pageInfo as Relay (and Shopify) mean them."""
    query = f"""query($h: String!, $a: String, $b: String) {{ product(handle: $h) {{
        head: variants(first: 250, after: $a) {{ {VARIANTS} }}
        tail: variants(last: 250, before: $b) {{ {VARIANTS} }} }} }}"""
    seen: list[str] = []
    tail: list[str] = []
    after = before = None
    while True:
        product = (await gql(client, query, {"h": CONFIGURATOR, "a": after, "b": before}))["data"]["product"]
        head, back = product["head"], product["tail"]
        tail = [v["sku"] for v in back["nodes"]] + tail
        seen += [v["sku"] for v in head["nodes"] if v["sku"] not in tail]
        after, before = head["pageInfo"]["endCursor"], back["pageInfo"]["startCursor"]
        if any(v["sku"] in tail for v in head["nodes"]) or not head["pageInfo"]["hasNextPage"]:
            break
    everything = seen + [s for s in tail if s not in seen]
    assert len(everything) == len(set(everything)) == 1_200
    assert everything[0] == "BSP-PT-LD075-S0400"
    assert not product["tail"]["pageInfo"]["hasNextPage"] or product["tail"]["pageInfo"]["hasPreviousPage"]


async def test_page_sizes_past_250_and_foreign_cursors_are_errors_with_a_path(client: httpx.AsyncClient) -> None:
    body = await gql(client, f'{{ product(handle: "{CONFIGURATOR}") {{ variants(first: 251) {{ nodes {{ id }} }} }} }}')
    assert body["data"] == {"product": None}  # the connection is non-null: its error nulls the product
    assert body["errors"][0]["path"] == ["product", "variants"]
    body = await gql(client, '{ products(first: 1, after: "bm9wZQ==") { nodes { id } } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_nodes_by_global_id_answer_products_and_variants_and_null_for_the_unknown(
        client: httpx.AsyncClient) -> None:
    product = (await gql(client, '{ product(handle: "gold-huggie-hoops") { id variants(first: 1) { nodes { id } } } }'
                         ))["data"]["product"]
    variant_id = product["variants"]["nodes"][0]["id"]
    body = await gql(client, """query($ids: [ID!]!) { nodes(ids: $ids) { id
        ... on ProductVariant { product { handle } } ... on Product { handle } } }""",
                     {"ids": [variant_id, product["id"], "gid://shopify/Product/1", "nonsense"]})
    assert body["data"]["nodes"] == [{"id": variant_id, "product": {"handle": "gold-huggie-hoops"}},
                                     {"id": product["id"], "handle": "gold-huggie-hoops"}, None, None]


async def test_an_invalid_document_is_a_400_since_2025_01_and_a_200_before(client: httpx.AsyncClient) -> None:
    assert "errors" in await gql(client, "{ product(handle: 1) { nope } }", status=400)
    response = await client.post("/catalog/api/2024-10/graphql.json", json={"query": "{ nope }"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert (await client.post("/catalog/api/2025-11/graphql.json", json={"query": "{ nope }"})).status_code == 404


async def test_an_empty_bucket_answers_throttled_with_the_cost_and_refills(client: httpx.AsyncClient) -> None:
    settings = (await client.put("/_admin/catalog/storefront", json={"maximum_available": 400,
                                                                     "restore_rate": 50})).json()
    assert settings["throttleStatus"]["currentlyAvailable"] == 400
    query = '{ product(handle: "seraphina-halo-ring") { variants(first: 250) { nodes { id sku } } } }'
    first = await gql(client, query)
    assert first["extensions"]["cost"]["requestedQueryCost"] == 253  # the product 1, the connection 2 + 250 x 1
    throttled = await gql(client, query)
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "data" not in throttled
    cost = throttled["extensions"]["cost"]
    assert cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["restoreRate"] == 50
    assert cost["throttleStatus"]["currentlyAvailable"] < cost["requestedQueryCost"]
    too_big = await gql(client, '{ products(first: 50) { nodes { variants(first: 250) { nodes { id } } } } }')
    assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    await client.post("/_admin/reset")
    assert "errors" not in await gql(client, query)


@pytest.mark.parametrize(("field", "nulls"), [("metafield", ["product", "engravable"]),
                                              ("variants", ["product"]), ("images", ["product"])])
async def test_a_failing_field_is_an_error_with_its_path_and_heals_after_times(
        client: httpx.AsyncClient, field: str, nulls: list[str]) -> None:
    """As Shopify: the field is null and named in `errors`; a non-null field's error nulls its parent."""
    await client.put("/_admin/catalog/storefront", json={"fail_field": field, "times": 1})
    query = """{ product(handle: "gold-huggie-hoops") { handle
        engravable: metafield(namespace: "custom", key: "engravable") { value }
        images(first: 1) { nodes { url } } variants(first: 5) { nodes { id } } } }"""
    broken = await gql(client, query)
    assert broken["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert broken["errors"][0]["path"][:2] == ["product", field if field != "metafield" else "engravable"]
    held: Any = broken["data"]
    for part in nulls[:-1]:
        held = held[part]
    assert held[nulls[-1]] is None
    healed = await gql(client, query)
    assert "errors" not in healed
    assert healed["data"]["product"]["handle"] == "gold-huggie-hoops"


async def test_a_price_change_is_served_at_once_despite_the_answer_cache(client: httpx.AsyncClient) -> None:
    query = '{ product(handle: "gold-huggie-hoops") { variants(first: 1) { nodes { sku price { amount } } } } }'
    before = (await gql(client, query))["data"]["product"]["variants"]["nodes"][0]
    await client.put(f"/_admin/price/{before['sku']}", json={"price": "999.00"})
    after = (await gql(client, query))["data"]["product"]["variants"]["nodes"][0]
    assert after["price"]["amount"] == "999.00"

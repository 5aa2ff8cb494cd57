"""What an edge in front sees: answers to GET by trusted document id, with Cache-Control, surrogate keys,
ETag and x-bezel-edge from what they hold (`gateway.edge.caching`), over real HTTP to the sandbox."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.handle import Sandbox
from tests.support import US_ADDRESS, Gateway, run_gateway, settings_for

OPERATIONS = {
    "Card": "query Card($handle: String!) { product(handle: $handle) { id title "
            "priceRange { minVariantPrice { amount } } } }",
    "Stock": "query Stock($handle: String!) { product(handle: $handle) { id "
             "variants { sku price { amount } availability { status confirmed } } } }",
    "List": "query List($first: Int!) { products(first: $first) { nodes { id handle title } } }",
    "Tax": "query Tax($handle: String!, $shipTo: AddressInput!) { product(handle: $handle) { id "
           "taxEstimate(shipTo: $shipTo) { rate } } }",
    "Insurance": "query Insurance($handle: String!, $shipTo: AddressInput!) { product(handle: $handle) { id "
                 "shippingInsurance(shipTo: $shipTo) { premium { amount } } } }",
    "Engraving": "query Engraving($handle: String!, $input: EngravingInput!) { product(handle: $handle) { id "
                 "engravingPreview(input: $input) { imageUrl } } }",
    "Cart": "query Cart($input: CartQuoteInput!) { cartQuote(input: $input) { complete } }",
    "Order": "query Order($id: ID!, $token: String!) { order(id: $id, token: $token) { id } }",
    "Pick": "query Pick($handle: String!, $options: [SelectedOptionInput!]!) { product(handle: $handle) { id "
            "variantBySelectedOptions(selectedOptions: $options) { sku } } }",
}
IDS = {name: hashlib.sha256(body.encode()).hexdigest() for name, body in OPERATIONS.items()}
PLENTY = "lumiere-sapphire-pendant"
ONE_OF_A_KIND = "art-deco-emerald-ring"


def manifest(directory: Path) -> Path:
    path = directory / "manifest.json"
    path.write_text(json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": IDS[name], "name": name, "type": "query", "body": body} for name, body in OPERATIONS.items()]}))
    return path


@pytest.fixture
async def edge_gateway(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with run_gateway(settings_for(sandbox, BEZEL_DOCUMENTS__MANIFEST=str(manifest(tmp_path)),
                                        BEZEL_EDGE__PROVIDER="varnish")) as gateway:
        yield gateway


async def get(gateway: Gateway, name: str, variables: dict[str, Any], **headers: str) -> httpx.Response:
    return await gateway.http.get("/graphql", params={"documentId": IDS[name], "variables": json.dumps(variables)},
                                  headers=headers)


def max_age(response: httpx.Response) -> int:
    found = re.search(r"max-age=(\d+)", response.headers["cache-control"])
    assert found, response.headers["cache-control"]
    return int(found.group(1))


async def test_a_catalog_answer_is_public_for_what_the_catalog_has_left_with_its_product_s_key(
    edge_gateway: Gateway,
) -> None:
    response = await get(edge_gateway, "Card", {"handle": PLENTY})
    assert response.status_code == 200
    assert response.json()["data"]["product"]["title"]
    assert response.headers["x-bezel-edge"] == "public; reason=fresh"
    # catalog: cache_ttl_s 60, revalidate_s 300 (capped at 60), stale 1 day (capped at an hour)
    assert response.headers["cache-control"] == "public, max-age=60, stale-while-revalidate=60, stale-if-error=3600"
    product_id = response.json()["data"]["product"]["id"].rsplit("/", 1)[-1]
    assert response.headers["xkey"] == f"product-{product_id}"
    assert response.headers["vary"] == "Accept"
    assert response.headers["etag"].startswith('W/"')
    again = await get(edge_gateway, "Card", {"handle": PLENTY})  # from cache now: less freshness left
    assert again.headers["x-bezel-edge"] == "public; reason=fresh"
    assert max_age(again) <= 60


async def test_stock_bounds_max_age_by_the_inventory_s_window_and_keys_every_sku(
    edge_gateway: Gateway, sandbox: Sandbox,
) -> None:
    skus = sandbox.stock_all(PLENTY, 10)
    response = await get(edge_gateway, "Stock", {"handle": PLENTY})
    assert response.headers["x-bezel-edge"] == "public; reason=fresh", response.text
    assert max_age(response) <= 5  # inventory: cache_ttl_s 5
    assert "stale-while-revalidate=0" in response.headers["cache-control"]  # inventory does not revalidate
    keys = response.headers["xkey"].split()
    assert {f"sku-{sku}" for sku in skus} <= set(keys)
    assert any(k.startswith("product-") for k in keys)


async def test_a_list_page_carries_the_list_key_and_each_product_s(edge_gateway: Gateway) -> None:
    response = await get(edge_gateway, "List", {"first": 5})
    assert response.headers["x-bezel-edge"] == "public; reason=fresh"
    keys = response.headers["xkey"].split()
    assert keys[0] == "product-list"
    assert len([k for k in keys if k.startswith("product-") and k != "product-list"]) == 5


async def test_scarce_stock_is_not_cached_at_the_edge(edge_gateway: Gateway) -> None:
    response = await get(edge_gateway, "Stock", {"handle": ONE_OF_A_KIND})
    statuses = {v["availability"]["status"] for v in response.json()["data"]["product"]["variants"]}
    assert statuses == {"LOW_STOCK"}
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-bezel-edge"] == "private; reason=scarce"
    assert "xkey" not in response.headers
    assert "etag" not in response.headers


async def test_scarce_stock_may_be_kept_as_long_as_scarce_max_age_s_says(sandbox: Sandbox, tmp_path: Path) -> None:
    async with run_gateway(settings_for(sandbox, BEZEL_DOCUMENTS__MANIFEST=str(manifest(tmp_path)),
                                        BEZEL_EDGE__SCARCE_MAX_AGE_S="1")) as gateway:
        response = await get(gateway, "Stock", {"handle": ONE_OF_A_KIND})
    assert response.headers["x-bezel-edge"] == "public; reason=scarce"
    assert response.headers["cache-control"] == "public, max-age=1, stale-while-revalidate=0, stale-if-error=0"
    assert response.headers["surrogate-key"]  # provider none: Fastly's header name


@pytest.mark.parametrize(("name", "variables", "reason"), [
    ("Tax", {"handle": PLENTY, "shipTo": US_ADDRESS}, "shopper:address"),
    ("Insurance", {"handle": PLENTY, "shipTo": US_ADDRESS}, "shopper:address"),
    ("Engraving", {"handle": PLENTY, "input": {"text": "Forever", "font": "script", "placement": "INSIDE_BAND"}},
     "shopper:engraving"),
])
async def test_what_depends_on_the_shopper_is_private(edge_gateway: Gateway, name: str, variables: dict[str, Any],
                                                      reason: str) -> None:
    response = await get(edge_gateway, name, variables)
    assert response.status_code == 200
    assert "errors" not in response.json(), response.text
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-bezel-edge"] == f"private; reason={reason}"


async def test_a_cart_and_an_order_are_private(edge_gateway: Gateway) -> None:
    cart = await get(edge_gateway, "Cart", {"input": {"lines": [{"variantId": "gid://shopify/ProductVariant/1",
                                                                 "quantity": 1}], "shipTo": US_ADDRESS}})
    order = await get(edge_gateway, "Order", {"id": "BZ-NOPE", "token": "x"})
    for response in (cart, order):
        assert response.headers["cache-control"] == "private, no-store", response.text
        assert response.headers["x-bezel-edge"].startswith("private; reason=")
    assert cart.headers["x-bezel-edge"] == "private; reason=shopper:cart"
    assert order.headers["x-bezel-edge"] == "private; reason=shopper:order"


async def test_an_answer_with_errors_is_private(edge_gateway: Gateway) -> None:
    response = await get(edge_gateway, "Pick", {"handle": PLENTY, "options": [{"name": "Nope", "value": "x"}]})
    assert response.json()["errors"]
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-bezel-edge"] == "private; reason=errors"


async def test_a_failing_vendor_s_stale_part_is_public_only_for_an_edge_whose_gateway_fails_too(
    sandbox: Sandbox, tmp_path: Path,
) -> None:
    async with run_gateway(settings_for(sandbox, BEZEL_DOCUMENTS__MANIFEST=str(manifest(tmp_path)),
                                        BEZEL_VENDORS__CATALOG__CACHE_TTL_S="1",
                                        BEZEL_VENDORS__CATALOG__REVALIDATE_S="0",
                                        BEZEL_VENDORS__CATALOG__STALE_TTL_S="600")) as gateway:
        first = await get(gateway, "Card", {"handle": PLENTY})
        assert first.headers["x-bezel-edge"] == "public; reason=fresh"
        await asyncio.sleep(1.2)
        sandbox.fault("catalog", status=503)
        stale = await get(gateway, "Card", {"handle": PLENTY})
    assert stale.json()["data"]["product"]["title"]
    assert stale.json()["extensions"]["vendors"]["catalog"]["source"] == "STALE"
    assert stale.headers["x-bezel-edge"] == "public; reason=stale"
    assert stale.headers["cache-control"].startswith("public, max-age=0, stale-while-revalidate=0, stale-if-error=")
    assert 0 < int(stale.headers["cache-control"].rsplit("=", 1)[1]) <= 600


async def test_a_matching_if_none_match_is_answered_304_without_a_body(edge_gateway: Gateway) -> None:
    first = await get(edge_gateway, "Card", {"handle": PLENTY})
    etag = first.headers["etag"]
    unchanged = await get(edge_gateway, "Card", {"handle": PLENTY}, **{"If-None-Match": f'"x", {etag}'})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    assert unchanged.headers["cache-control"].startswith("public, ")
    other = await get(edge_gateway, "Card", {"handle": PLENTY}, **{"If-None-Match": 'W/"other"'})
    assert other.status_code == 200


async def test_a_query_text_by_get_and_every_post_get_no_public_headers(edge_gateway: Gateway) -> None:
    text = await edge_gateway.http.get("/graphql", params={"query": OPERATIONS["Card"],
                                                           "variables": json.dumps({"handle": PLENTY})})
    assert text.headers["x-bezel-edge"] == "private; reason=untrusted"
    posted = await edge_gateway.http.post("/graphql", json={"documentId": IDS["Card"],
                                                            "variables": {"handle": PLENTY}})
    assert "x-bezel-edge" not in posted.headers
    assert "etag" not in posted.headers


async def test_a_client_s_own_budget_and_a_refusal_are_private(edge_gateway: Gateway) -> None:
    budget = await get(edge_gateway, "Card", {"handle": PLENTY}, **{"x-bezel-budget-ms": "900"})
    assert budget.headers["x-bezel-edge"] == "private; reason=client-budget"
    unknown = await edge_gateway.http.get("/graphql", params={"documentId": "0" * 64})
    assert unknown.status_code != 200
    assert unknown.headers["cache-control"] == "private, no-store"


async def test_the_edge_switched_off_marks_every_answer_private(sandbox: Sandbox, tmp_path: Path) -> None:
    async with run_gateway(settings_for(sandbox, BEZEL_DOCUMENTS__MANIFEST=str(manifest(tmp_path)),
                                        BEZEL_EDGE__ENABLED="false")) as gateway:
        response = await get(gateway, "Card", {"handle": PLENTY})
    assert response.headers["x-bezel-edge"] == "private; reason=disabled"


# Every argument a cacheable answer's fields take, each either the same for every shopper or the shopper's own.
# A new argument must be put in one of these (and, if it is the shopper's, its resolver must say so:
# `ctx.shown.personal`), or this test fails.
SAME_FOR_EVERYONE = {("Query", "product", "handle"), ("Query", "products", "first"), ("Query", "products", "after"),
                     ("Product", "variantBySelectedOptions", "selectedOptions"),
                     ("Product", "variantBySelectedOptions", "caseInsensitiveMatch"),
                     ("Product", "taxEstimate", "variantId"), ("Product", "shippingInsurance", "variantId"),
                     ("Product", "financing", "variantId")}
SHOPPER_S_OWN = {("Product", "taxEstimate", "shipTo"): "Tax", ("Product", "shippingInsurance", "shipTo"): "Insurance",
                 ("Product", "engravingPreview", "input"): "Engraving", ("Query", "cartQuote", "input"): "Cart",
                 ("Query", "order", "id"): "Order", ("Query", "order", "token"): "Order"}
GOOD_VARIABLES: dict[str, dict[str, Any]] = {
    "Tax": {"handle": PLENTY, "shipTo": US_ADDRESS},
    "Insurance": {"handle": PLENTY, "shipTo": US_ADDRESS},
    "Engraving": {"handle": PLENTY, "input": {"text": "Forever", "font": "script", "placement": "INSIDE_BAND"}},
    "Cart": {"input": {"lines": [{"variantId": "gid://shopify/ProductVariant/1", "quantity": 1}],
                       "shipTo": US_ADDRESS}},
    "Order": {"id": "BZ-00000000000000000000000000", "token": "not-the-token"},
}


def schema_arguments() -> set[tuple[str, str, str]]:
    from graphql import GraphQLObjectType, build_schema

    from tests.support import ROOT

    schema = build_schema((ROOT / "schema.graphql").read_text())
    return {(name, field, argument)
            for name, kind in schema.type_map.items()
            if isinstance(kind, GraphQLObjectType) and not name.startswith("__")
            and name not in ("Mutation", "Subscription")  # by POST, or streamed: never cached
            for field, definition in kind.fields.items() for argument in definition.args}


def test_every_argument_of_the_schema_is_said_to_be_the_shopper_s_or_everyone_s() -> None:
    arguments = schema_arguments()
    assert arguments == SAME_FOR_EVERYONE | SHOPPER_S_OWN.keys(), (
        "an argument is new (or gone): classify it in SAME_FOR_EVERYONE or SHOPPER_S_OWN; "
        f"unclassified: {sorted(arguments - SAME_FOR_EVERYONE - SHOPPER_S_OWN.keys())}")


@pytest.mark.parametrize("name", sorted(set(SHOPPER_S_OWN.values())))
async def test_every_argument_of_the_shopper_s_own_makes_the_answer_private_whatever_else_it_holds(
    edge_gateway: Gateway, name: str,
) -> None:
    response = await get(edge_gateway, name, GOOD_VARIABLES[name])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["x-bezel-edge"].startswith("private; reason=shopper:"), response.text


@pytest.mark.parametrize("provider", ["fastly", "cloudflare"])
async def test_an_event_taken_by_the_gateway_purges_the_sandbox_s_edge_by_key(
    sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str,
) -> None:
    from sandbox.vendors.edge import TOKEN
    from tests.e2e.test_webhooks import SECRETS, iso, shopify, stock_event
    from tests.support import scrape, value

    for name, secret in SECRETS.items():
        monkeypatch.setenv(name, secret)
    monkeypatch.setenv("EDGE_PURGE_TOKEN", TOKEN)
    async with run_gateway(settings_for(sandbox, BEZEL_DOCUMENTS__MANIFEST=str(manifest(tmp_path)),
                                        BEZEL_EDGE__PROVIDER=provider, BEZEL_EDGE__SERVICE_ID="SVC")) as gateway:
        page = await get(gateway, "Card", {"handle": PLENTY})
        product = page.json()["data"]["product"]["id"].rsplit("/", 1)[-1]
        body, headers = shopify("products/update", {"id": int(product), "updated_at": iso(time.time())})
        assert (await gateway.http.post("/webhooks/shopify", content=body, headers=headers)).status_code == 200
        body, headers = stock_event("LUM-PT-BLU-L16", "entry-9", 4, 1)
        assert (await gateway.http.post("/webhooks/commercetools", content=body, headers=headers)).status_code == 200
        await gateway.app.state.events.queue.join()
        purger = gateway.app.state.services.edge
        assert purger is not None
        for _ in range(100):
            await purger.drained()
            with sandbox.admin() as admin:
                purged = [key for p in admin.get("/purges").json() for key in p["keys"]]
            if len(purged) >= 2:
                break
            await asyncio.sleep(0.02)
        samples = await scrape(gateway)
    assert sorted(purged) == [f"product-{product}", "sku-LUM-PT-BLU-L16"]
    assert value(samples, "bezel_edge_purges_total", provider=provider, outcome="ok") >= 1
    assert value(samples, "bezel_edge_purge_lag_seconds_count", provider=provider) >= 1

"""Shopify Storefront API mapping: products, MoneyV2, selectedOptions, variants past 250, THROTTLED, partial errors."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
import respx

from connectors import catalog
from connectors.catalog import CatalogAPI, legacy_id, shopify_gid
from connectors.errors import VendorBadResponse, VendorHTTPError, VendorRateLimited
from connectors.models import Money, SelectedOption
from tests.connectors.helpers import BASE, execute

ENDPOINT = "/api/2025-10/graphql.json"


def variant(n: int) -> dict[str, Any]:
    return {"id": f"gid://shopify/ProductVariant/{1000 + n}", "sku": f"SOL-{n}", "title": f"Platinum / {n}",
            "price": {"amount": f"{4250 + n}.50", "currencyCode": "EUR"},
            "selectedOptions": [{"name": "Metal", "value": "Platinum"}, {"name": "Size", "value": str(n)}]}


def page(variants: list[dict[str, Any]], *, start: int, total: int) -> dict[str, Any]:
    """A ProductVariantConnection page holding `variants`, the first of which is at `start` of `total`."""
    end = start + len(variants) - 1
    return {"pageInfo": {"hasNextPage": end < total - 1, "hasPreviousPage": start > 0,
                         "startCursor": str(start) if variants else None,
                         "endCursor": str(end) if variants else None},
            "nodes": variants}


def product(total: int = 2, **fields: Any) -> dict[str, Any]:
    return {"id": "gid://shopify/Product/632910392", "handle": "solitaire", "title": "Solitaire",
            "description": "Hand made  in NY.", "descriptionHtml": "<p>Hand made <strong>in NY</strong>.</p>",
            "vendor": "Maison", "productType": "Ring", "tags": ["bridal", "solitaire"],
            "options": [{"name": "Metal", "optionValues": [{"name": "Platinum"}]},
                        {"name": "Size", "optionValues": [{"name": str(n)} for n in range(total)]}],
            "images": {"nodes": [{"url": "https://cdn.shopify.com/s.png", "altText": None}]},
            "engravable": {"value": "true"},
            "variants": page([variant(n) for n in range(min(total, 250))], start=0, total=total), **fields}


class FakeStorefront:
    """Answers the connector's queries the way Shopify pages a product of `total` variants (cursors are
    positions), counting round trips."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.all = [variant(n) for n in range(total)]
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        variables = body["variables"]
        if body["query"].startswith("query MoreVariants"):
            after, before = int(variables["p0a"]), variables["p0b"]
            end = int(before) if before is not None else self.total
            ahead = self.all[after + 1:after + 251]
            behind_start = max(0, end - 250)
            return httpx.Response(200, json={"data": {"p0": {
                "after": page(ahead, start=after + 1, total=self.total),
                "before": page(self.all[behind_start:end], start=behind_start, total=self.total)}}})
        return httpx.Response(200, json={"data": {"h0": product(self.total)}})


@respx.mock(base_url=BASE, using="httpx")
async def test_a_product_maps_money_options_images_and_the_engravable_metafield(respx_mock) -> None:
    route = respx_mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={"data": {
        "h0": product(), "h1": None}}))
    found = await execute(catalog, CatalogAPI().products_by_handle(["solitaire", "nope"], client="203.0.113.9"),
                          "shpss_1")
    assert list(found) == ["solitaire"]
    ring = found["solitaire"]
    assert ring.id == "632910392"
    assert [o.name for o in ring.options] == ["Metal", "Size"]
    assert ring.variants[1].id == "1001"
    assert ring.variants[1].product_id == "632910392"
    assert ring.variants[1].selected_options == (SelectedOption("Metal", "Platinum"), SelectedOption("Size", "1"))
    assert ring.variants[1].price == Money.of("4251.50", "EUR")  # the currency is MoneyV2's, not assumed
    assert ring.engravable  # by its metafield: the tags do not say so
    assert ring.description == "Hand made in NY."
    assert ring.images[0].alt_text == ""
    sent = route.calls.last.request
    assert json.loads(sent.content)["variables"] == {"h0": "solitaire", "h1": "nope"}
    assert sent.headers["shopify-storefront-private-token"] == "shpss_1"
    assert sent.headers["shopify-storefront-buyer-ip"] == "203.0.113.9"
    assert "x-shopify-storefront-access-token" not in sent.headers  # the public token is a browser's


@respx.mock(base_url=BASE, using="httpx")
async def test_no_buyer_ip_header_when_the_client_is_not_an_address(respx_mock) -> None:
    route = respx_mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={"data": {"h0": product()}}))
    await execute(catalog, CatalogAPI().products_by_handle(["solitaire"], client="unknown"))
    assert "shopify-storefront-buyer-ip" not in route.calls.last.request.headers


@pytest.mark.parametrize(("total", "round_trips"), [(220, 1), (250, 1), (300, 2), (500, 2), (1_200, 3),
                                                    (1_320, 4), (2_048, 5)])
@respx.mock(base_url=BASE, using="httpx")
async def test_every_variant_comes_back_in_order_in_as_few_round_trips_as_paging_allows(
        respx_mock, total: int, round_trips: int) -> None:
    """Past 250, each follow-up asks the page after the head and the page before the tail at once."""
    shop = FakeStorefront(total)
    respx_mock.post(ENDPOINT).mock(side_effect=shop)
    ring = (await execute(catalog, CatalogAPI().products_by_handle(["solitaire"])))["solitaire"]
    assert [v.sku for v in ring.variants] == [f"SOL-{n}" for n in range(total)]
    assert len(shop.requests) == round_trips


@respx.mock(base_url=BASE, using="httpx")
async def test_a_product_vanishing_between_pages_is_a_bad_response(respx_mock) -> None:
    first = {"data": {"h0": product(600)}}
    respx_mock.post(ENDPOINT).mock(side_effect=[httpx.Response(200, json=first),
                                                httpx.Response(200, json={"data": {"p0": None}})])
    with pytest.raises(VendorBadResponse):
        await execute(catalog, CatalogAPI().products_by_handle(["solitaire"]))


@respx.mock(base_url=BASE, using="httpx")
async def test_throttled_is_a_429_that_waits_for_the_bucket_to_refill(respx_mock) -> None:
    """Shopify's THROTTLED (HTTP 200) backs off by what the cost extension says the refill takes."""
    respx_mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {"cost": {"requestedQueryCost": 760, "actualQueryCost": None, "throttleStatus": {
            "maximumAvailable": 1000.0, "currentlyAvailable": 510.0, "restoreRate": 50.0}}}}))
    with pytest.raises(VendorRateLimited) as caught:
        await execute(catalog, CatalogAPI().products_by_handle(["solitaire"]))
    assert caught.value.retry_after_s == 5.0  # (760 - 510) / 50
    assert caught.value.code == "THROTTLED"


@respx.mock(base_url=BASE, using="httpx")
async def test_throttled_without_a_cost_extension_leaves_the_wait_to_the_policy(respx_mock) -> None:
    respx_mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}))
    with pytest.raises(VendorRateLimited) as caught:
        await execute(catalog, CatalogAPI().products_by_handle(["solitaire"]))
    assert caught.value.retry_after_s is None


@respx.mock(base_url=BASE, using="httpx")
async def test_an_error_on_an_optional_field_leaves_the_rest_whole(respx_mock) -> None:
    """The metafield failed: null there, the product whole; engravable then rests on the tags alone."""
    ring = product(engravable=None, tags=["bridal"])
    respx_mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={
        "errors": [{"message": "Internal error", "path": ["h0", "engravable"],
                    "extensions": {"code": "INTERNAL_SERVER_ERROR"}}],
        "data": {"h0": ring}}))
    found = await execute(catalog, CatalogAPI().products_by_handle(["solitaire"]))
    assert len(found["solitaire"].variants) == 2
    assert not found["solitaire"].engravable


@pytest.mark.parametrize("path", [["h0", "variants"], ["h0", "images"], ["h0"], None])
@respx.mock(base_url=BASE, using="httpx")
async def test_an_error_that_nulled_what_a_page_needs_fails_the_call(respx_mock, path: list[str] | None) -> None:
    """A product nulled by an error (its variants, or an image list whose error bubbled up) is not "no such
    product": the call fails, so the last good answer stands in and nothing half-read is cached."""
    error: dict[str, Any] = {"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    if path is not None:
        error["path"] = path
    respx_mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={"errors": [error], "data": {"h0": None}}))
    with pytest.raises(VendorHTTPError) as caught:
        await execute(catalog, CatalogAPI().products_by_handle(["solitaire"]))
    assert caught.value.code == "INTERNAL_SERVER_ERROR"


@pytest.mark.parametrize(("status", "body", "code"), [
    (401, {"errors": [{"message": "", "extensions": {"code": "UNAUTHORIZED"}}]}, "UNAUTHORIZED"),
    (500, {"errors": [{"message": "Internal error", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]},
     "INTERNAL_SERVER_ERROR"),
    (404, {"errors": "Not Found"}, None),
])
@respx.mock(base_url=BASE, using="httpx")
async def test_shopify_error_statuses_in_both_body_shapes(respx_mock, status: int, body: dict, code: str | None
                                                          ) -> None:
    respx_mock.post(ENDPOINT).mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(VendorHTTPError) as caught:
        await execute(catalog, CatalogAPI().products_by_id(["1"]))
    assert (caught.value.status, caught.value.code) == (status, code)


@pytest.mark.parametrize(
    "mutate",
    [lambda p: p.pop("handle"), lambda p: p["variants"]["nodes"][0]["price"].update(amount="free"),
     lambda p: p.update(options="Metal"), lambda p: p["variants"]["nodes"][0].update(id="gid://shopify/Product/1"),
     lambda p: p["variants"].update(nodes=[])],
)
@respx.mock(base_url=BASE, using="httpx")
async def test_a_product_of_the_wrong_shape_is_a_bad_response(respx_mock, mutate) -> None:
    ring = copy.deepcopy(product())
    mutate(ring)
    respx_mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={"data": {"h0": ring}}))
    with pytest.raises(VendorBadResponse):
        await execute(catalog, CatalogAPI().products_by_handle(["solitaire"]))


@respx.mock(base_url=BASE, using="httpx")
async def test_a_page_keeps_each_product_s_cursor_and_asks_from_the_cursor_given(respx_mock) -> None:
    edges = [{"cursor": f"c{i}", "node": product(id=f"gid://shopify/Product/{i}", handle=f"p{i}")} for i in (1, 2)]
    route = respx_mock.post(ENDPOINT).mock(return_value=httpx.Response(200, json={"data": {"products": {
        "pageInfo": {"hasNextPage": True, "endCursor": "c2"}, "edges": edges}}}))
    found = await execute(catalog, CatalogAPI().product_page(2, "c0"))
    assert [p.handle for p in found.products] == ["p1", "p2"]
    assert found.cursors == ("c1", "c2")
    assert found.has_next_page
    assert json.loads(route.calls.last.request.content)["variables"] == {"first": 2, "after": "c0"}


@respx.mock(base_url=BASE, using="httpx")
async def test_products_by_id_and_the_products_of_variants_speak_global_ids(respx_mock) -> None:
    route = respx_mock.post(ENDPOINT)
    route.mock(return_value=httpx.Response(200, json={"data": {"nodes": [product(), None]}}))
    found = await execute(catalog, CatalogAPI().products_by_id(["632910392", "7"]))
    assert list(found) == ["632910392"]
    assert json.loads(route.calls.last.request.content)["variables"] == {
        "ids": ["gid://shopify/Product/632910392", "gid://shopify/Product/7"]}
    route.mock(return_value=httpx.Response(200, json={"data": {"nodes": [
        {"id": "gid://shopify/ProductVariant/1001", "product": {"id": "gid://shopify/Product/632910392"}}, None]}}))
    assert await execute(catalog, CatalogAPI().products_of_variants(["1001", "9"])) == {"1001": "632910392"}


def test_ids_become_global_ids_and_back_in_one_place() -> None:
    """Webhooks (REST-shaped) name products by number; the Storefront API by global id."""
    assert shopify_gid("Product", "8104000001") == "gid://shopify/Product/8104000001"
    assert legacy_id("gid://shopify/Product/8104000001", "Product") == "8104000001"
    for bad in ("gid://shopify/ProductVariant/1", "8104000001", "gid://shopify/Product/x"):
        with pytest.raises(ValueError, match="is not a Product id"):
            legacy_id(bad, "Product")


def test_the_api_version_and_metafield_are_checked_when_built() -> None:
    assert CatalogAPI(api_version="2026-01").path == "/api/2026-01/graphql.json"
    for bad in ({"api_version": "2025-11"}, {"api_version": "latest"}, {"engravable_metafield": "engravable"}):
        with pytest.raises(ValueError, match=r"vendors\.catalog\.options"):
            CatalogAPI(**bad)


@respx.mock(base_url=BASE, using="httpx")
async def test_an_inventory_item_s_sku_is_asked_of_the_admin_api_with_its_own_token(respx_mock) -> None:
    """The Storefront API has no inventory items: `inventory_levels/update` needs the Admin API's answer."""
    route = respx_mock.get("/admin/api/2024-10/inventory_items/45000045210000001.json")
    route.mock(return_value=httpx.Response(200, json={"inventory_item": {"id": 45000045210000001, "sku": "AUR-1"}}))
    api = CatalogAPI(admin_token="shpat_admin")
    assert await execute(catalog, api.sku_of_inventory_item("45000045210000001"), "shpss_storefront") == "AUR-1"
    assert route.calls.last.request.headers["x-shopify-access-token"] == "shpat_admin"
    assert api.sku_of_inventory_item("1").cache_key == CatalogAPI().sku_of_inventory_item("1").cache_key  # no secret
    route.mock(return_value=httpx.Response(404, json={"errors": "Not Found"}))
    assert await execute(catalog, api.sku_of_inventory_item("45000045210000001")) is None

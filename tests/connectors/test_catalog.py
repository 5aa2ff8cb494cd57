"""Shopify Admin REST mapping: products, options, variants, tags, and Shopify's error bodies."""

from __future__ import annotations

import httpx
import pytest
import respx

from connectors import catalog
from connectors.catalog import CatalogAPI
from connectors.errors import VendorBadResponse, VendorHTTPError, VendorRejectedInput
from connectors.models import Money, SelectedOption
from tests.connectors.helpers import BASE, execute

API = "/admin/api/2024-10"
SHOPIFY_PRODUCT = {
    "id": 632910392, "title": "Solitaire", "body_html": "<p>Hand&nbsp;made <strong>in NY</strong>.</p>",
    "vendor": "Maison", "product_type": "Ring", "handle": "solitaire", "tags": "bridal, engravable, solitaire",
    "options": [{"id": 1, "product_id": 632910392, "name": "Size", "position": 2, "values": ["6", "7"]},
                {"id": 2, "product_id": 632910392, "name": "Metal", "position": 1, "values": ["Platinum"]}],
    "variants": [
        {"id": 808950810, "product_id": 632910392, "title": "Platinum / 6", "price": "4250.00", "sku": "SOL-PT-6",
         "option1": "Platinum", "option2": "6", "option3": None},
        {"id": 808950811, "product_id": 632910392, "title": "Platinum / 7", "price": "4250.50", "sku": "SOL-PT-7",
         "option1": "Platinum", "option2": "7", "option3": None},
    ],
    "images": [{"id": 1, "src": "https://cdn.shopify.com/s.png", "alt": None}],
}


@respx.mock(base_url=BASE, using="httpx")
async def test_products_map_options_in_position_order_and_variants_by_option_name(respx_mock) -> None:
    route = respx_mock.get(f"{API}/products.json").mock(
        return_value=httpx.Response(200, json={"products": [SHOPIFY_PRODUCT]}))
    found = await execute(catalog, CatalogAPI(currency="USD").products_by_handle(["solitaire", "nope"]), "shpat_1")
    assert list(found) == ["solitaire"]
    product = found["solitaire"]
    assert [o.name for o in product.options] == ["Metal", "Size"]
    assert product.variants[1].selected_options == (SelectedOption("Metal", "Platinum"), SelectedOption("Size", "7"))
    assert product.variants[1].price == Money.of("4250.50", "USD")
    assert product.tags == ("bridal", "engravable", "solitaire")
    assert product.engravable
    assert product.description == "Hand made in NY ."
    assert product.images[0].alt_text == ""
    assert route.calls.last.request.url.params["handle"] == "solitaire,nope"
    assert route.calls.last.request.headers["x-shopify-access-token"] == "shpat_1"


@respx.mock(base_url=BASE, using="httpx")
async def test_a_page_asks_one_more_to_know_if_there_is_a_next_page(respx_mock) -> None:
    products = [{**SHOPIFY_PRODUCT, "id": i, "handle": f"p{i}"} for i in (1, 2, 3)]
    route = respx_mock.get(f"{API}/products.json").mock(return_value=httpx.Response(200, json={"products": products}))
    page = await execute(catalog, CatalogAPI(currency="USD").product_page(2, "77"))
    assert [p.handle for p in page.products] == ["p1", "p2"]
    assert page.has_next_page
    assert route.calls.last.request.url.params["limit"] == "3"
    assert route.calls.last.request.url.params["since_id"] == "77"


@respx.mock(base_url=BASE, using="httpx")
async def test_variant_lookup_reads_the_product_id_and_a_404_means_unknown(respx_mock) -> None:
    route = respx_mock.get(f"{API}/variants/808950810.json")
    route.mock(return_value=httpx.Response(200, json={"variant": SHOPIFY_PRODUCT["variants"][0]}))
    assert await execute(catalog, CatalogAPI(currency="USD").product_id_of_variant("808950810")) == "632910392"
    route.mock(return_value=httpx.Response(404, json={"errors": "Not Found"}))
    assert await execute(catalog, CatalogAPI(currency="USD").product_id_of_variant("808950810")) is None


@pytest.mark.parametrize(
    ("status", "body"),
    [(401, {"errors": "[API] Invalid API key or access token"}), (500, {"errors": "Internal Server Error"})],
)
@respx.mock(base_url=BASE, using="httpx")
async def test_shopify_error_bodies_in_both_shapes(respx_mock, status: int, body: dict) -> None:
    respx_mock.get(f"{API}/products.json").mock(return_value=httpx.Response(status, json=body))
    with pytest.raises(VendorHTTPError) as caught:
        await execute(catalog, CatalogAPI(currency="USD").products_by_id(["1"]))
    assert caught.value.status == status


@respx.mock(base_url=BASE, using="httpx")
async def test_a_request_shopify_refuses_is_the_request_s_fault(respx_mock) -> None:
    """A 400 with Shopify's field errors says what was sent was wrong, not that Shopify is failing."""
    respx_mock.get(f"{API}/products.json").mock(return_value=httpx.Response(400, json={"errors": {"limit": [
        "is too big"]}}))
    with pytest.raises(VendorRejectedInput) as caught:
        await execute(catalog, CatalogAPI(currency="USD").products_by_id(["1"]))
    assert caught.value.code == "invalid"
    assert "limit is too big" in str(caught.value)


@pytest.mark.parametrize(
    "mutate",
    [lambda p: p.pop("handle"), lambda p: p["variants"][0].update(price="free"),
     lambda p: p.update(options="Metal"), lambda p: p["variants"][0].update(id="abc")],
)
@respx.mock(base_url=BASE, using="httpx")
async def test_a_product_of_the_wrong_shape_is_a_bad_response(respx_mock, mutate) -> None:
    import copy

    product = copy.deepcopy(SHOPIFY_PRODUCT)
    mutate(product)
    respx_mock.get(f"{API}/products.json").mock(return_value=httpx.Response(200, json={"products": [product]}))
    with pytest.raises(VendorBadResponse):
        await execute(catalog, CatalogAPI(currency="USD").products_by_handle(["solitaire"]))

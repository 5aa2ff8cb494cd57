"""Catalog connector: Shopify Admin REST (2024-10) products and variants.

Products are looked up by handle or id in one call (`handle=a,b`, `ids=1,2`) and paged with
`since_id`. Shopify gives prices as decimal strings in the shop's currency, options as
`option1..3` on each variant, and tags as one comma-separated string. A product is engravable
when it carries the `engravable` tag.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import unescape
from typing import Any

from connectors import payload as p
from connectors.http import ProviderError, VendorCall, VendorRequest
from connectors.models import Image, Money, Product, ProductOption, ProductPage, SelectedOption, Variant, Vendor

VENDOR = Vendor.CATALOG
API = "/admin/api/2024-10"
MAX_PAGE = 250
ENGRAVABLE_TAG = "engravable"
# What a cached catalog answer holds, for events to find it by (`VendorCall.tags`): each product in it,
# and, for list pages, the listing itself (a product published or deleted changes every page).
LISTING = "catalog:listing"


def product_tag(product_id: str) -> str:
    return f"product:{product_id}"


def _tags_of_products(found: dict[str, Product]) -> list[str]:
    return [product_tag(p.id) for p in found.values()]
_TAGS = re.compile(r"<[^>]+>")


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"x-shopify-access-token": api_key} if api_key else {}


def read_error(status: int, body: Any) -> ProviderError:
    errors = p.obj(body)["errors"]
    if isinstance(errors, dict):  # {"field": ["message", ...]}
        message = "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in errors.items())
        return ProviderError(code="invalid", message=message)
    return ProviderError(code=None, message=str(errors))


class CatalogAPI:
    """Builds catalog calls; `currency` is the shop's currency (Shopify REST prices carry none)."""

    def __init__(self, *, currency: str) -> None:
        self.currency = currency

    def products_by_handle(self, handles: Sequence[str]) -> VendorCall[dict[str, Product]]:
        request = VendorRequest(
            "GET", f"{API}/products.json", params={"handle": ",".join(handles), "limit": str(MAX_PAGE)}
        )
        return VendorCall(VENDOR, "catalog.products_by_handle", request, self._products_by("handle"),
                          result_type=dict[str, Product], tags=_tags_of_products)

    def products_by_id(self, ids: Sequence[str]) -> VendorCall[dict[str, Product]]:
        request = VendorRequest("GET", f"{API}/products.json", params={"ids": ",".join(ids), "limit": str(MAX_PAGE)})
        return VendorCall(VENDOR, "catalog.products_by_id", request, self._products_by("id"),
                          result_type=dict[str, Product], tags=_tags_of_products)

    def product_page(self, first: int, after_id: str | None) -> VendorCall[ProductPage]:
        """`first` products after `after_id`, asking one more to learn whether a next page exists."""
        params = {"limit": str(first + 1)}
        if after_id:
            params["since_id"] = after_id
        request = VendorRequest("GET", f"{API}/products.json", params=params)

        def parse(body: Any) -> ProductPage:
            products = [self.map_product(item) for item in p.seq(body, "products")]
            return ProductPage(products=tuple(products[:first]), has_next_page=len(products) > first)

        return VendorCall(VENDOR, "catalog.product_page", request, parse, result_type=ProductPage,
                          tags=lambda page: (LISTING, *(product_tag(p.id) for p in page.products)))

    def product_id_of_variant(self, variant_id: str) -> VendorCall[str | None]:
        """Which product a variant belongs to (None for an unknown variant): Shopify's variant lookup."""
        request = VendorRequest("GET", f"{API}/variants/{variant_id}.json")
        return VendorCall(
            VENDOR,
            "catalog.variant",
            request,
            lambda body: str(p.integer(p.obj(body, "variant"), "product_id")),
            result_type=str | None,
            missing_ok=True,
            tags=lambda product_id: (product_tag(product_id),) if product_id else (),
        )

    def sku_of_inventory_item(self, inventory_item_id: str) -> VendorCall[str | None]:
        """The SKU of a Shopify inventory item (what `inventory_levels/update` names), None if unknown."""
        request = VendorRequest("GET", f"{API}/inventory_items/{inventory_item_id}.json")
        return VendorCall(VENDOR, "catalog.inventory_item", request,
                          lambda body: p.text(p.obj(body, "inventory_item"), "sku"), result_type=str | None,
                          missing_ok=True)

    def _products_by(self, key: str) -> Any:
        def parse(body: Any) -> dict[str, Product]:
            products = [self.map_product(item) for item in p.seq(body, "products")]
            return {getattr(product, key): product for product in products}

        return parse

    def map_product(self, data: Any) -> Product:
        item = p.obj(data)
        product_id = str(p.integer(item, "id"))
        options = tuple(
            ProductOption(name=p.text(o, "name"), values=tuple(str(v) for v in p.seq(o, "values")))
            for o in sorted(p.seq(item, "options"), key=lambda o: p.integer(o, "position"))
        )
        names = [o.name for o in options]
        tags = tuple(t.strip() for t in p.text(item, "tags", default="").split(",") if t.strip())
        body_html = p.opt_text(item, "body_html") or ""
        return Product(
            id=product_id,
            handle=p.text(item, "handle"),
            title=p.text(item, "title"),
            description=" ".join(unescape(_TAGS.sub(" ", body_html)).split()),
            description_html=body_html,
            vendor=p.text(item, "vendor", default=""),
            product_type=p.text(item, "product_type", default=""),
            tags=tags,
            options=options,
            variants=tuple(self.map_variant(v, names) for v in p.seq(item, "variants")),
            engravable=ENGRAVABLE_TAG in tags,
            images=tuple(
                Image(url=p.text(i, "src"), alt_text=p.opt_text(i, "alt") or "")
                for i in p.seq(item, "images") if isinstance(i, dict)
            ) if "images" in item else (),
        )

    def map_variant(self, data: Any, option_names: Sequence[str]) -> Variant:
        item = p.obj(data)
        values = [item.get(f"option{i}") for i in (1, 2, 3)]
        selected = tuple(
            SelectedOption(name=name, value=str(value)) for name, value in zip(option_names, values, strict=False)
            if value is not None
        )
        return Variant(
            id=str(p.integer(item, "id")),
            product_id=str(p.integer(item, "product_id")),
            sku=p.text(item, "sku"),
            title=p.text(item, "title"),
            price=Money.of(p.decimal(item, "price"), self.currency),
            selected_options=selected,
        )

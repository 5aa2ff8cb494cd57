"""Catalog connector: Shopify's Storefront API (GraphQL), where a headless storefront reads its catalog.

Why not the Admin REST API: it is legacy since 2024-10-01, its `/products` and `/variants` are
deprecated, and it answers at most 100 variants a product; the Storefront API (what Hydrogen reads)
answers all of a product's variants, up to Shopify's 2,048, in pages of at most 250.

    POST {url}/api/{version}/graphql.json    Shopify-Storefront-Private-Token: <token>
                                             Shopify-Storefront-Buyer-IP: <the shopper's address>

- Products by handle (`product(handle:)`, one alias per handle), by id (`nodes(ids:)`), the list as a
  cursor connection (`products(first:, after:)`), a variant's product (`nodes(ids:)` on variants).
- Variants: the first request asks `variants(first: 250)`. A product with more is finished by
  follow-ups (`connectors.http.Continue`) that each ask two pages at once from both ends
  (`first: 250, after:` the head's end and `last: 250, before:` the tail's start) until they meet:
  1,200 variants in three round trips (250 + 500 + 500), 2,048 in five, and still one call to the
  call policy.
- Prices are `MoneyV2` (a decimal string and its currency); options `selectedOptions`; a product is
  engravable when its `custom.engravable` metafield (configurable) says "true", or it carries the
  `engravable` tag.
- Errors as Shopify means them: `THROTTLED` is a 429 (`VendorRateLimited`, backing off for as long
  as the cost extension's throttle status says it takes to refill); a top-level `errors` beside
  partial `data` leaves the named fields null: tolerated on parts a page can do without (images,
  the engravable metafield), a failed call for anything else (a product or its variants half-read
  must never be cached as whole).

Ids: Bezel's domain and public ids carry Shopify's numeric resource id (the one webhooks send, which
are REST-shaped); `shopify_gid` and `legacy_id` are the one place they become the Storefront API's
global ids (`gid://shopify/Product/123`) and back.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from connectors import payload as p
from connectors.errors import VendorHTTPError, VendorRateLimited
from connectors.http import Continue, ProviderError, VendorCall, VendorRequest
from connectors.models import Image, Money, Product, ProductOption, ProductPage, SelectedOption, Variant, Vendor

T = TypeVar("T")
log = logging.getLogger("bezel.vendors")

VENDOR = Vendor.CATALOG
DEFAULT_API_VERSION = "2025-10"  # a stable version: Shopify supports each for a year
PAGE = 250  # the most one connection page holds
MAX_VARIANTS = 2_048  # Shopify's most variants per product
ENGRAVABLE_TAG = "engravable"
DEFAULT_ENGRAVABLE_METAFIELD = "custom.engravable"  # namespace.key, exposed to the Storefront API
OPTIONS = ("api_version", "engravable_metafield")  # `[vendors.catalog] options`: `CatalogAPI`'s arguments
# Aliased fields a page can do without: an error there leaves the rest of the answer whole.
OPTIONAL_FIELDS = frozenset({"images", "engravable"})
# What a cached catalog answer holds, for events to find it by (`VendorCall.tags`): each product in it,
# and, for list pages, the listing itself (a product published or deleted changes every page).
LISTING = "catalog:listing"
# The one Admin API call left: the Storefront API has no inventory items, and `inventory_levels/update`
# names one (webhooks are Admin API resources). It carries the Admin API token (`[events]
# shopify_admin_token_env`), not the Storefront one.
ADMIN_API = "/admin/api/2024-10"
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$|^unstable$")
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_GID = re.compile(r"^gid://shopify/(?P<kind>[A-Za-z]+)/(?P<id>\d{1,20})$")
_ACCEPT = "application/graphql-response+json, application/json"

_VARIANT_PAGE = """fragment VariantPage on ProductVariantConnection {
  pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  nodes { id sku title price { amount currencyCode } selectedOptions { name value } }
}"""


def product_tag(product_id: str) -> str:
    return f"product:{product_id}"


def shopify_gid(kind: str, legacy: str) -> str:
    """A Storefront API global id from Shopify's numeric id (what webhooks and Bezel's ids carry)."""
    return f"gid://shopify/{kind}/{legacy}"


def legacy_id(gid: str, kind: str) -> str:
    """The numeric id inside a Storefront API global id of `kind`; ValueError for anything else."""
    match = _GID.match(gid)
    if match is None or match["kind"] != kind:
        raise ValueError(f"{gid!r} is not a {kind} id")
    return match["id"]


def auth_headers(api_key: str | None) -> dict[str, str]:
    """The private (server-to-server) token: never the public one, which is for browsers."""
    return {"shopify-storefront-private-token": api_key} if api_key else {}


def read_error(status: int, body: Any) -> ProviderError:
    """An error status's body: GraphQL's `{"errors": [{message, extensions: {code}}]}`, or Shopify's
    older `{"errors": "text"}` (a 401, a 404 on a wrong URL)."""
    errors = p.obj(body)["errors"]
    if isinstance(errors, list) and errors:
        return ProviderError(code=_code(errors[0]), message="; ".join(_message(e) for e in errors))
    return ProviderError(code=None, message=str(errors))


def buyer_ip(client: str) -> str | None:
    """The shopper's address as Shopify wants it (`Shopify-Storefront-Buyer-IP`), if `client` is one."""
    try:
        return str(ipaddress.ip_address(client))
    except ValueError:
        return None


class CatalogAPI:
    """Builds catalog calls against one Storefront API version."""

    def __init__(self, *, api_version: str = DEFAULT_API_VERSION,
                 engravable_metafield: str = DEFAULT_ENGRAVABLE_METAFIELD, admin_token: str | None = None) -> None:
        """`admin_token`: an Admin API access token (`read_inventory`), for `sku_of_inventory_item` alone."""
        if not _VERSION.match(api_version):
            raise ValueError(f"vendors.catalog.options.api_version: {api_version!r} is not a Shopify API version "
                             "(YYYY-01, -04, -07 or -10)")
        namespace, _, key = engravable_metafield.partition(".")
        if not (_NAME.match(namespace) and _NAME.match(key)):
            raise ValueError(f"vendors.catalog.options.engravable_metafield: {engravable_metafield!r} is not "
                             "namespace.key")
        self.api_version = api_version
        self.path = f"/api/{api_version}/graphql.json"
        self._admin_headers = {"x-shopify-access-token": admin_token} if admin_token else {}
        self._fields = f"""fragment ProductFields on Product {{
  id handle title description descriptionHtml vendor productType tags
  options(first: 3) {{ name optionValues {{ name }} }}
  images(first: 10) {{ nodes {{ url altText }} }}
  engravable: metafield(namespace: {json.dumps(namespace)}, key: {json.dumps(key)}) {{ value }}
  variants(first: {PAGE}) {{ ...VariantPage }}
}}
{_VARIANT_PAGE}"""

    # ------------------------------------------------------------------ calls

    def products_by_handle(self, handles: Sequence[str], *, client: str = "") -> VendorCall[dict[str, Product]]:
        names = [f"h{i}" for i in range(len(handles))]
        query = (f"query ProductsByHandle({', '.join(f'${n}: String!' for n in names)}) {{ "
                 + " ".join(f"{n}: product(handle: ${n}) {{ ...ProductFields }}" for n in names)
                 + f" }}\n{self._fields}")

        def parse(body: Any) -> dict[str, Product] | Continue[dict[str, Product]]:
            data = _data(body)
            found = {handle: p.opt_obj(data, n) for handle, n in zip(handles, names, strict=True)}
            return self._whole(found, lambda products: {pr.handle: pr for pr in products.values()}, client)

        return VendorCall(VENDOR, "catalog.products_by_handle",
                          self._request(query, dict(zip(names, handles, strict=True)), client), parse,
                          result_type=dict[str, Product], tags=_tags_of_products)

    def products_by_id(self, ids: Sequence[str], *, client: str = "") -> VendorCall[dict[str, Product]]:
        query = ("query ProductsById($ids: [ID!]!) { nodes(ids: $ids) { ... on Product { ...ProductFields } } }\n"
                 + self._fields)

        def parse(body: Any) -> dict[str, Product] | Continue[dict[str, Product]]:
            nodes = p.seq(_data(body), "nodes")
            found = {str(i): (p.obj(node) if node else None) for i, node in enumerate(nodes)}
            return self._whole(found, lambda products: {pr.id: pr for pr in products.values()}, client)

        variables = {"ids": [shopify_gid("Product", i) for i in ids]}
        return VendorCall(VENDOR, "catalog.products_by_id", self._request(query, variables, client), parse,
                          result_type=dict[str, Product], tags=_tags_of_products)

    def product_page(self, first: int, after: str | None, *, client: str = "") -> VendorCall[ProductPage]:
        """`first` products after the vendor's cursor `after` (None: from the start)."""
        query = ("query ProductPage($first: Int!, $after: String) { products(first: $first, after: $after) { "
                 "pageInfo { hasNextPage endCursor } edges { cursor node { ...ProductFields } } } }\n" + self._fields)

        def parse(body: Any) -> ProductPage | Continue[ProductPage]:
            connection = p.obj(_data(body), "products")
            edges = [p.obj(e) for e in p.seq(connection, "edges")]
            cursors = tuple(p.text(e, "cursor") for e in edges)
            more = p.boolean(p.obj(connection, "pageInfo"), "hasNextPage")
            found = {str(i): p.obj(e, "node") for i, e in enumerate(edges)}

            def page(products: Mapping[str, Product]) -> ProductPage:
                return ProductPage(products=tuple(products[str(i)] for i in range(len(edges))),
                                   has_next_page=more, cursors=cursors)

            return self._whole(found, page, client)

        return VendorCall(VENDOR, "catalog.product_page",
                          self._request(query, {"first": first, "after": after}, client), parse,
                          result_type=ProductPage,
                          tags=lambda page: (LISTING, *(product_tag(pr.id) for pr in page.products)))

    def products_of_variants(self, variant_ids: Sequence[str], *, client: str = "") -> VendorCall[dict[str, str]]:
        """Which product each variant belongs to, by variant id (an unknown variant is left out)."""
        query = ("query VariantProducts($ids: [ID!]!) { nodes(ids: $ids) { "
                 "... on ProductVariant { id product { id } } } }")

        def parse(body: Any) -> dict[str, str]:
            found = {}
            for node in p.seq(_data(body), "nodes"):
                if node:
                    variant = legacy_id(p.text(node, "id"), "ProductVariant")
                    found[variant] = legacy_id(p.text(p.obj(node, "product"), "id"), "Product")
            return found

        variables = {"ids": [shopify_gid("ProductVariant", v) for v in variant_ids]}
        return VendorCall(VENDOR, "catalog.variant_products", self._request(query, variables, client), parse,
                          result_type=dict[str, str], tags=lambda found: map(product_tag, set(found.values())))

    def sku_of_inventory_item(self, inventory_item_id: str) -> VendorCall[str | None]:
        """The SKU of a Shopify inventory item (what `inventory_levels/update` names), None if unknown: the
        Admin API's, with its own token (the request's headers: never in a cache key)."""
        request = VendorRequest("GET", f"{ADMIN_API}/inventory_items/{inventory_item_id}.json",
                                headers=self._admin_headers)
        return VendorCall(VENDOR, "catalog.inventory_item", request,
                          lambda body: p.text(p.obj(body, "inventory_item"), "sku"), result_type=str | None,
                          missing_ok=True)

    # ------------------------------------------------------------------ requests and pages

    def _request(self, query: str, variables: dict[str, Any], client: str) -> VendorRequest:
        """A GraphQL POST; the buyer's address rides in a header, outside the cache key (`fingerprint`)."""
        headers = {"accept": _ACCEPT}
        if ip := buyer_ip(client):
            headers["shopify-storefront-buyer-ip"] = ip
        return VendorRequest("POST", self.path, json={"query": query, "variables": variables}, headers=headers)

    def _whole(self, found: Mapping[str, dict[str, Any] | None], build: Callable[[dict[str, Product]], T],
               client: str) -> T | Continue[T]:
        """`build` of the products found, once every one has all its variants: follow-ups ask the rest."""
        pending = {key: _Variants(p.obj(raw, "variants")) for key, raw in found.items() if raw is not None}

        def step() -> T | Continue[T]:
            unfinished = [(key, v) for key, v in pending.items() if not v.done]
            if not unfinished:
                return build({key: self.map_product(found[key], v.nodes()) for key, v in pending.items()})
            names = [f"p{i}" for i in range(len(unfinished))]
            query = "query MoreVariants(" + ", ".join(
                f"${n}: ID!, ${n}a: String!, ${n}b: String" for n in names) + ") { " + " ".join(
                f"{n}: node(id: ${n}) {{ ... on Product {{ after: variants(first: {PAGE}, after: ${n}a) "
                f"{{ ...VariantPage }} before: variants(last: {PAGE}, before: ${n}b) {{ ...VariantPage }} }} }}"
                for n in names) + " }\n" + _VARIANT_PAGE
            variables: dict[str, Any] = {}
            for n, (key, v) in zip(names, unfinished, strict=True):
                variables.update({n: p.text(found[key], "id"), f"{n}a": v.after, f"{n}b": v.before})

            def more(body: Any) -> T | Continue[T]:
                data = _data(body)
                for n, (_, v) in zip(names, unfinished, strict=True):
                    v.add(p.obj(data, n))
                return step()

            return Continue(self._request(query, variables, client), more)

        return step()

    # ------------------------------------------------------------------ mapping

    def map_product(self, data: Any, variant_nodes: Sequence[Any]) -> Product:
        item = p.obj(data)
        product_id = legacy_id(p.text(item, "id"), "Product")
        options = tuple(
            ProductOption(name=p.text(o, "name"), values=tuple(p.text(v, "name") for v in p.seq(o, "optionValues")))
            for o in p.seq(item, "options")
        )
        tags = tuple(str(t) for t in p.seq(item, "tags"))
        metafield = p.opt_obj(item, "engravable") if "engravable" in item else None
        images = p.opt_obj(item, "images") if "images" in item else None
        variants = tuple(self.map_variant(v, product_id) for v in variant_nodes)
        if not variants:
            raise ValueError("variants: a product has at least one")
        return Product(
            id=product_id,
            handle=p.text(item, "handle"),
            title=p.text(item, "title"),
            description=" ".join(p.text(item, "description", default="").split()),
            description_html=p.text(item, "descriptionHtml", default=""),
            vendor=p.text(item, "vendor", default=""),
            product_type=p.text(item, "productType", default=""),
            tags=tags,
            options=options,
            variants=variants,
            engravable=ENGRAVABLE_TAG in tags or (metafield is not None
                                                  and (p.opt_text(metafield, "value") or "").lower() == "true"),
            images=tuple(Image(url=p.text(i, "url"), alt_text=p.opt_text(i, "altText") or "")
                         for i in p.seq(images, "nodes")) if images is not None else (),
        )

    def map_variant(self, data: Any, product_id: str) -> Variant:
        item = p.obj(data)
        price = p.obj(item, "price")
        return Variant(
            id=legacy_id(p.text(item, "id"), "ProductVariant"),
            product_id=product_id,
            sku=p.text(item, "sku"),
            title=p.text(item, "title"),
            price=Money.of(p.decimal(price, "amount"), p.text(price, "currencyCode")),
            selected_options=tuple(SelectedOption(name=p.text(o, "name"), value=p.text(o, "value"))
                                   for o in p.seq(item, "selectedOptions")),
        )


class _Variants:
    """A product's variants as they arrive: a head from the start, a tail from the end, until they meet."""

    def __init__(self, first_page: dict[str, Any]) -> None:
        info = p.obj(first_page, "pageInfo")
        self.head: list[Any] = list(p.seq(first_page, "nodes"))
        self.tail: list[Any] = []
        self.after = p.opt_text(info, "endCursor")
        self.before: str | None = None  # None until the tail is asked: then the last page
        self.head_open = p.boolean(info, "hasNextPage")
        self.tail_open = True

    @property
    def done(self) -> bool:
        return not (self.head_open and self.tail_open)

    def add(self, node: dict[str, Any]) -> None:
        """One follow-up's two pages: the one after the head, the one before the tail."""
        ahead, behind = p.obj(node, "after"), p.obj(node, "before")
        self.tail[:0] = p.seq(behind, "nodes")
        behind_info = p.obj(behind, "pageInfo")
        self.before = p.opt_text(behind_info, "startCursor")
        self.tail_open = p.boolean(behind_info, "hasPreviousPage")
        in_tail = {p.text(v, "id") for v in self.tail}
        met = False
        for variant in p.seq(ahead, "nodes"):
            if p.text(variant, "id") in in_tail:
                met = True
                break
            self.head.append(variant)
        ahead_info = p.obj(ahead, "pageInfo")
        self.after = p.opt_text(ahead_info, "endCursor")
        self.head_open = p.boolean(ahead_info, "hasNextPage") and not met
        if len(self.head) + len(self.tail) > 2 * MAX_VARIANTS:
            raise ValueError(f"variants: more than Shopify's {MAX_VARIANTS} and still not met")

    def nodes(self) -> list[Any]:
        """Head then tail, each variant once, in Shopify's order."""
        if not self.tail:
            return self.head
        in_head = {p.text(v, "id") for v in self.head}
        return self.head + [v for v in self.tail if p.text(v, "id") not in in_head]


def _tags_of_products(found: dict[str, Product]) -> list[str]:
    return [product_tag(pr.id) for pr in found.values()]


def _code(error: Any) -> str | None:
    extensions = error.get("extensions") if isinstance(error, dict) else None
    code = extensions.get("code") if isinstance(extensions, dict) else None
    return str(code) if code is not None else None


def _message(error: Any) -> str:
    return str(error.get("message", "")) if isinstance(error, dict) else str(error)


def _data(body: Any) -> dict[str, Any]:
    """The `data` of an answer, read as Shopify means its `errors`: THROTTLED is a 429; errors on optional
    fields leave the rest whole; any other error fails the call (the policy's stale answer stands in)."""
    document = p.obj(body)
    errors = document.get("errors") or []
    if not isinstance(errors, list):
        raise ValueError("errors: expected an array")
    if errors:
        throttled = next((e for e in errors if _code(e) == "THROTTLED"), None)
        if throttled is not None:
            raise VendorRateLimited(VENDOR, "THROTTLED", _message(throttled), _refill_s(document))
        data = document.get("data")
        fatal = [e for e in errors if not _optional(e, data)]
        if data is None or fatal:
            first = (fatal or errors)[0]
            raise VendorHTTPError(VENDOR, 200, _code(first), f"GraphQL error: {_message(first)}")
        log.info("catalog answered with errors on optional fields: %s", "; ".join(map(_message, errors)))
    return p.obj(document, "data")


def _optional(error: Any, data: Any) -> bool:
    """Whether the error nulled only a field a page can do without: its path names one, and the object
    holding it is there (a non-null field's error nulls its parent, which then is not optional at all)."""
    path = error.get("path") if isinstance(error, dict) else None
    if not isinstance(path, list) or not path or path[-1] not in OPTIONAL_FIELDS:
        return False
    held = data
    for part in path[:-1]:
        if isinstance(held, dict) and isinstance(part, str):
            held = held.get(part)
        elif isinstance(held, list) and isinstance(part, int) and 0 <= part < len(held):
            held = held[part]
        else:
            return False
    return isinstance(held, dict)


def _refill_s(document: dict[str, Any]) -> float | None:
    """How long until the bucket holds what the query asked for, from `extensions.cost`; None: not said."""
    try:
        cost = document["extensions"]["cost"]
        status = cost["throttleStatus"]
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        rate = float(status["restoreRate"])
    except (KeyError, TypeError, ValueError):
        return None
    if rate <= 0:
        return None
    return max(0.1, math.ceil(missing / rate * 10) / 10)

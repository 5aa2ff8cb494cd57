"""Catalog vendor, imitating Shopify: the Storefront API (GraphQL, `sandbox.vendors.storefront`, what Bezel
reads) and the Admin REST API (2024-10: what webhooks carry, and what other clients of the sandbox read).

    GET /admin/api/2024-10/products.json?handle=a,b | ids=1,2 | since_id=N &limit=50
    GET /admin/api/2024-10/variants/{id}.json
    GET /cdn/products/{handle}.svg                      a product image

Products carry `options` (name, position, values) and `variants` with `option1..3`, `price` as a
decimal string, `sku` and `inventory_item_id`, as Shopify returns them; `updated_at` moves when a price
changes (`PUT /_admin/price/{sku}`, which also sends the `products/update` webhook with this JSON).
Errors: `{"errors": "Not Found"}` or `{"errors": {"field": ["message"]}}`, Shopify's two shapes.
"""

from __future__ import annotations

from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.seed import SeedProduct, SeedVariant
from sandbox.state import SandboxState
from sandbox.vendors import storefront

API = "/admin/api/2024-10"
MAX_LIMIT = 250
CREATED_AT = "2026-03-02T10:15:00-05:00"
# Shopify's inventory item ids are past 2^53 (a JavaScript number loses them): a receiver must keep them exact.
INVENTORY_ITEM_BASE = 45_000_000_000_000_000


def inventory_item_id(variant_id: int) -> int:
    return INVENTORY_ITEM_BASE + variant_id


def error_body(status: int, path: str = "") -> dict[str, Any]:
    if path.endswith("/graphql.json"):  # the Storefront API's errors are GraphQL's
        code = {401: "UNAUTHORIZED", 403: "ACCESS_DENIED", 429: "THROTTLED"}.get(status, "INTERNAL_SERVER_ERROR")
        return {"errors": [{"message": "Internal error. Looks like something went wrong on our end."
                            if code == "INTERNAL_SERVER_ERROR" else code.replace("_", " ").capitalize(),
                            "extensions": {"code": code}}]}
    messages = {
        401: "[API] Invalid API key or access token (unrecognized login or wrong password)",
        404: "Not Found",
        429: "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
    }
    return {"errors": messages.get(status, "Internal Server Error")}


def product_json(product: SeedProduct, root: str) -> dict[str, Any]:
    return {
        "id": product.id,
        "title": product.title,
        "body_html": product.body_html,
        "vendor": product.vendor,
        "product_type": product.product_type,
        "created_at": CREATED_AT,
        "handle": product.handle,
        "updated_at": product.updated_at or CREATED_AT,
        "published_at": CREATED_AT,
        "status": "active",
        "tags": ", ".join(product.tags),
        "options": [
            {"id": product.id * 10 + i, "product_id": product.id, "name": name, "position": i + 1,
             "values": product.option_values(i)}
            for i, name in enumerate(product.option_names)
        ],
        "variants": [variant_json(product, v) for v in product.variants],
        "images": [
            {
                "id": product.id * 100 + 1,
                "product_id": product.id,
                "position": 1,
                "alt": product.title,
                "width": 800,
                "height": 800,
                "src": f"{root}/cdn/products/{product.handle}.svg",
            }
        ],
    }


def variant_json(product: SeedProduct, variant: SeedVariant) -> dict[str, Any]:
    options = list(variant.options) + [None] * (3 - len(variant.options))
    return {
        "id": variant.id,
        "product_id": product.id,
        "title": " / ".join(variant.options),
        "price": f"{variant.price:.2f}",
        "sku": variant.sku,
        "position": variant.position,
        "inventory_policy": "deny",
        "option1": options[0],
        "option2": options[1],
        "option3": options[2],
        "taxable": True,
        "requires_shipping": True,
        "grams": 6,
        "inventory_item_id": inventory_item_id(variant.id),
        "created_at": CREATED_AT,
        "updated_at": variant.updated_at or CREATED_AT,
    }


def routes(state: SandboxState) -> list[Route]:
    async def products(request: Request) -> Response:
        q = request.query_params
        try:
            limit = int(q.get("limit", "50"))
            since_id = int(q.get("since_id", "0"))
            ids = {int(i) for i in q["ids"].split(",") if i} if q.get("ids") else None
        except ValueError:
            return JSONResponse({"errors": {"limit": ["must be an integer"]}}, status_code=400)
        if not 1 <= limit <= MAX_LIMIT:
            return JSONResponse({"errors": {"limit": [f"must be between 1 and {MAX_LIMIT}"]}}, status_code=400)
        handles = set(q["handle"].split(",")) if q.get("handle") else None
        found = [
            p
            for p in sorted(state.products, key=lambda p: p.id)
            if p.id > since_id
            and (handles is None or p.handle in handles)
            and (ids is None or p.id in ids)
        ][:limit]
        root = _root(request)
        return JSONResponse({"products": [product_json(p, root) for p in found]})

    async def variant(request: Request) -> Response:
        try:
            found = state.variants.get(int(request.path_params["variant_id"]))
        except ValueError:
            found = None
        if found is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        product, v = found
        return JSONResponse({"variant": variant_json(product, v)})

    async def inventory_item(request: Request) -> Response:
        """Shopify's `GET inventory_items/{id}.json`: which SKU an `inventory_levels/update` is about."""
        try:
            wanted = int(request.path_params["item_id"])
        except ValueError:
            wanted = -1
        for variant_id, (_, v) in state.variants.items():
            if inventory_item_id(variant_id) == wanted:
                return JSONResponse({"inventory_item": {"id": wanted, "sku": v.sku, "tracked": True,
                                                        "requires_shipping": True}})
        return JSONResponse({"errors": "Not Found"}, status_code=404)

    async def image(request: Request) -> Response:
        product = state.by_handle.get(request.path_params["handle"])
        if product is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        return Response(_product_svg(product), media_type="image/svg+xml")

    return [
        *storefront.routes(state, state.storefront),
        Route(f"{API}/products.json", products),
        Route(f"{API}/variants/{{variant_id}}.json", variant),
        Route(f"{API}/inventory_items/{{item_id}}.json", inventory_item),
        Route("/cdn/products/{handle}.svg", image),
    ]


def _root(request: Request) -> str:
    """This vendor's public base URL, e.g. http://127.0.0.1:8900/catalog."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"


def _product_svg(product: SeedProduct) -> str:
    gem = {"Ring": "#e8f4ff", "Engagement Ring": "#f4fbff", "Necklace": "#2b4fd8"}.get(product.product_type, "#d9ecff")
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="800" viewBox="0 0 800 800">'
        '<rect width="800" height="800" fill="#f7f3ee"/>'
        '<circle cx="400" cy="430" r="190" fill="none" stroke="#c9a24a" stroke-width="34"/>'
        f'<polygon points="400,150 470,235 400,320 330,235" fill="{gem}" stroke="#9aa7b5" stroke-width="6"/>'
        f'<text x="400" y="720" font-family="Georgia, serif" font-size="34" text-anchor="middle" fill="#333">'
        f"{escape(product.title)}</text></svg>"
    )

"""Catalog vendor, Storefront API side: Shopify's Storefront GraphQL API over the same seed as the REST routes.

    POST /api/{version}/graphql.json     {"query", "variables"}; any version YYYY-01/04/07/10

A real GraphQL endpoint (graphql-core, on a subset of Shopify's schema, names and nullability as
Shopify's): `product(handle:|id:)`, `products(first, after, last, before)`, `node(id:)`,
`nodes(ids:)`; `Product` with `options { optionValues }`, `images`, `variants` (a
`ProductVariantConnection`: `first`/`last` at most 250, `after`/`before` opaque cursors, `pageInfo`,
`nodes`, `edges`), `metafield(namespace:, key:)` (`custom.engravable` on engravable products);
`ProductVariant` with `price: MoneyV2`, `selectedOptions`, `product`. Ids are global ids
(`gid://shopify/Product/<the REST id>`).

Cost, as Shopify counts it: an object 1, a scalar 0, a connection 2 plus its page size times what one
node costs. Every answer carries `extensions.cost`; a leaky bucket (`Storefront.bucket`: the Storefront
API publishes none, so ours is generous, and tests shrink it through `PUT /_admin/catalog/storefront`)
answers `THROTTLED` (HTTP 200, Shopify's body) when a query costs more than it holds, and
`MAX_COST_EXCEEDED` when more than it can ever hold. The same admin route makes a field fail
(`fail_field`: an error in `errors` with its `path`, the field null, as Shopify does), for `times` calls.
Since 2025-01 an invalid document is a 400 (`application/graphql-response+json`).
"""

from __future__ import annotations

import base64
import re
from decimal import Decimal
from html import unescape
from typing import Any

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute,
    parse,
    validate,
    value_from_ast_untyped,
)
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.seed import SeedProduct, SeedVariant
from sandbox.state import SandboxState, Storefront, StorefrontSettings

PAGE_MAX = 250
CURRENCY = "USD"
GRAPHQL_RESPONSE = "application/graphql-response+json"
_VERSION = re.compile(r"^(\d{4})-(01|04|07|10)$")
_TAGS = re.compile(r"<[^>]+>")

SDL = """
schema { query: QueryRoot }
scalar Decimal
scalar URL
scalar HTML
scalar DateTime
enum CurrencyCode { USD }
enum ProductSortKeys { ID TITLE UPDATED_AT }
interface Node { id: ID! }
type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type SelectedOption { name: String! value: String! }
type ProductOptionValue implements Node { id: ID! name: String! }
type ProductOption implements Node { id: ID! name: String! optionValues: [ProductOptionValue!]! }
type Image { id: ID url: URL! altText: String width: Int height: Int }
type ImageEdge { cursor: String! node: Image! }
type ImageConnection { nodes: [Image!]! edges: [ImageEdge!]! pageInfo: PageInfo! }
type Metafield implements Node { id: ID! namespace: String! key: String! value: String! type: String! }
type ProductVariant implements Node {
  id: ID! sku: String title: String! price: MoneyV2! availableForSale: Boolean!
  selectedOptions: [SelectedOption!]! product: Product!
}
type ProductVariantEdge { cursor: String! node: ProductVariant! }
type ProductVariantConnection { nodes: [ProductVariant!]! edges: [ProductVariantEdge!]! pageInfo: PageInfo! }
type Product implements Node {
  id: ID! handle: String! title: String! description: String! descriptionHtml: HTML! vendor: String!
  productType: String! tags: [String!]! updatedAt: DateTime!
  options(first: Int): [ProductOption!]!
  images(first: Int, after: String, last: Int, before: String): ImageConnection!
  variants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): ProductVariantConnection!
  metafield(namespace: String, key: String!): Metafield
}
type ProductEdge { cursor: String! node: Product! }
type ProductConnection { nodes: [Product!]! edges: [ProductEdge!]! pageInfo: PageInfo! }
type QueryRoot {
  product(id: ID, handle: String): Product
  products(first: Int, after: String, last: Int, before: String, sortKey: ProductSortKeys = ID,
           reverse: Boolean = false): ProductConnection!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
}
"""


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def _number(value: str, kind: str) -> int | None:
    prefix = f"gid://shopify/{kind}/"
    rest = value[len(prefix):] if value.startswith(prefix) else ""
    return int(rest) if rest.isdigit() else None


def cursor(item_id: int) -> str:
    return base64.b64encode(orjson.dumps({"last_id": item_id, "last_value": str(item_id)})).decode()


def _cursor_id(value: str) -> int:
    try:
        return int(orjson.loads(base64.b64decode(value.encode(), validate=True))["last_id"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise GraphQLError("Invalid cursor.", extensions={"code": "BAD_REQUEST"}) from exc


def paginate(items: list[dict[str, Any]], index: dict[int, int], args: dict[str, Any]) -> dict[str, Any]:
    """A Relay connection over `items` (each with `_id`), as Shopify pages one: first/after, last/before."""
    first, last, after, before = args.get("first"), args.get("last"), args.get("after"), args.get("before")
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last", extensions={"code": "BAD_REQUEST"})
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= PAGE_MAX:
            raise GraphQLError(f"The {name} argument must be between 0 and {PAGE_MAX}.",
                               extensions={"code": "BAD_REQUEST"})
    if args.get("reverse"):
        raise GraphQLError("The sandbox does not page in reverse.", extensions={"code": "BAD_REQUEST"})
    start, end = 0, len(items)
    if after is not None:
        start = _position(index, after) + 1
    if before is not None:
        end = _position(index, before)
    page = items[start:end]
    if first is not None:
        page = page[:first]
    if last is not None:
        page = page[len(page) - last:] if last else []
    low = index[page[0]["_id"]] if page else start
    high = index[page[-1]["_id"]] if page else end - 1
    return {
        "nodes": page,
        "edges": [{"cursor": cursor(i["_id"]), "node": i} for i in page],
        "pageInfo": {"hasNextPage": high < len(items) - 1, "hasPreviousPage": low > 0,
                     "startCursor": cursor(page[0]["_id"]) if page else None,
                     "endCursor": cursor(page[-1]["_id"]) if page else None},
    }


def _position(index: dict[int, int], value: str) -> int:
    position = index.get(_cursor_id(value))
    if position is None:
        raise GraphQLError("Invalid cursor.", extensions={"code": "BAD_REQUEST"})
    return position


def product_doc(product: SeedProduct, root: str) -> dict[str, Any]:
    """A product as the schema's default resolvers read it (dict keys), variants and all, with their index."""
    doc: dict[str, Any] = {
        "_id": product.id,
        "_seed": product,
        "id": gid("Product", product.id),
        "handle": product.handle,
        "title": product.title,
        "description": " ".join(unescape(_TAGS.sub(" ", product.body_html)).split()),
        "descriptionHtml": product.body_html,
        "vendor": product.vendor,
        "productType": product.product_type,
        "tags": list(product.tags),
        "updatedAt": product.updated_at or "2026-03-02T15:15:00Z",
        "_options": [
            {"id": gid("ProductOption", product.id * 10 + i), "name": name,
             "optionValues": [{"id": gid("ProductOptionValue", product.id * 1000 + i * 100 + j), "name": value}
                              for j, value in enumerate(product.option_values(i))]}
            for i, name in enumerate(product.option_names)
        ],
        "_images": [{"_id": product.id * 100 + 1, "id": gid("ProductImage", product.id * 100 + 1),
                     "url": f"{root}/cdn/products/{product.handle}.svg", "altText": product.title,
                     "width": 800, "height": 800}],
    }
    doc["_variants"] = [_variant_doc(product, v, doc) for v in product.variants]
    doc["_variant_index"] = {v["_id"]: i for i, v in enumerate(doc["_variants"])}
    doc["_image_index"] = {i["_id"]: n for n, i in enumerate(doc["_images"])}
    engravable = "engravable" in product.tags or product.engravable_metafield
    doc["_metafields"] = {("custom", "engravable"): {
        "id": gid("Metafield", product.id * 10), "namespace": "custom", "key": "engravable",
        "value": "true", "type": "boolean"}} if engravable else {}
    return doc


def _variant_doc(product: SeedProduct, variant: SeedVariant, parent: dict[str, Any]) -> dict[str, Any]:
    return {
        "_id": variant.id,
        "id": gid("ProductVariant", variant.id),
        "sku": variant.sku,
        "title": " / ".join(variant.options),
        "price": {"amount": str(variant.price.quantize(Decimal("0.01"))), "currencyCode": CURRENCY},
        "availableForSale": True,
        "selectedOptions": [{"name": n, "value": v} for n, v in zip(product.option_names, variant.options,
                                                                     strict=True)],
        "product": parent,
    }


def build(state: SandboxState, storefront: Storefront) -> GraphQLSchema:
    """The executable schema, its resolvers reading `state` through each product's doc."""
    schema = build_schema(SDL)

    def doc_of(product: SeedProduct, root: str) -> dict[str, Any]:
        held = storefront.docs.get(product.id)
        if held is None or held[0] is not product:  # a price change replaces the product
            held = (product, product_doc(product, root))
            storefront.docs[product.id] = held
        return held[1]

    def fail(name: str) -> None:
        if storefront.failing(name):
            raise GraphQLError("Internal error. Looks like something went wrong on our end.",
                               extensions={"code": "INTERNAL_SERVER_ERROR"})

    def root_of(info: Any) -> str:
        return str(info.context["root"])

    def product(_: Any, info: Any, id: str | None = None, handle: str | None = None) -> dict[str, Any] | None:
        fail("product")
        found = None
        if handle is not None:
            found = state.by_handle.get(handle)
        elif id is not None and (number := _number(id, "Product")) is not None:
            found = state.by_id.get(number)
        return doc_of(found, root_of(info)) if found else None

    def products(_: Any, info: Any, **args: Any) -> dict[str, Any]:
        docs = [doc_of(p, root_of(info)) for p in sorted(state.products, key=lambda p: p.id)]
        return paginate(docs, {d["_id"]: i for i, d in enumerate(docs)}, args)

    def node(_: Any, info: Any, id: str) -> dict[str, Any] | None:
        if (number := _number(id, "Product")) is not None:
            found = state.by_id.get(number)
            return doc_of(found, root_of(info)) if found else None
        if (number := _number(id, "ProductVariant")) is not None and number in state.variants:
            owner, _ = state.variants[number]
            parent = doc_of(owner, root_of(info))
            return parent["_variants"][parent["_variant_index"][number]]  # type: ignore[no-any-return]
        return None

    def nodes(_: Any, info: Any, ids: list[str]) -> list[dict[str, Any] | None]:
        return [node(_, info, i) for i in ids]

    def variants(doc: dict[str, Any], _: Any, **args: Any) -> dict[str, Any]:
        fail("variants")
        return paginate(doc["_variants"], doc["_variant_index"], args)

    def images(doc: dict[str, Any], _: Any, **args: Any) -> dict[str, Any]:
        fail("images")
        return paginate(doc["_images"], doc["_image_index"], {"first": PAGE_MAX} | args)

    def options(doc: dict[str, Any], _: Any, first: int | None = None) -> list[dict[str, Any]]:
        return doc["_options"][:first] if first is not None else doc["_options"]  # type: ignore[no-any-return]

    def metafield(doc: dict[str, Any], _: Any, key: str, namespace: str | None = None) -> dict[str, Any] | None:
        fail("metafield")
        return doc["_metafields"].get((namespace, key))  # type: ignore[no-any-return]

    query, product_type = schema.query_type, schema.type_map["Product"]
    assert query is not None
    for name, resolver in (("product", product), ("products", products), ("node", node), ("nodes", nodes)):
        query.fields[name].resolve = resolver
    for name, resolver in (("variants", variants), ("images", images), ("options", options),
                           ("metafield", metafield)):
        product_type.fields[name].resolve = resolver  # type: ignore[union-attr]
    schema.type_map["Node"].resolve_type = _type_of  # type: ignore[union-attr]
    return schema


def _type_of(value: Any, *_: Any) -> str:
    return "Product" if "handle" in value else "ProductVariant"  # the only nodes `node` answers


def query_cost(document: Any, variables: dict[str, Any]) -> int:
    """What Shopify would charge for the document: objects 1, connections 2 + page size x one node."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))

    def args_of(node: FieldNode) -> dict[str, Any]:
        return {a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments or ()}

    def cost(selection_set: SelectionSetNode | None) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.selection_set is None:
                    continue
                inner = cost(selection.selection_set)
                args = args_of(selection)
                size = args.get("first", args.get("last"))
                ids = args.get("ids")
                if isinstance(size, int) and selection.name.value not in ("options",):
                    total += 2 + size * _per_node(selection.selection_set, cost)
                elif isinstance(ids, list):
                    total += 1 + len(ids) * max(1, inner)
                else:
                    total += 1 + inner
            elif isinstance(selection, InlineFragmentNode):
                total += cost(selection.selection_set)
            else:
                total += cost(fragments[selection.name.value].selection_set)
        return total

    return cost(operation.selection_set)


def _per_node(connection: SelectionSetNode, cost: Any) -> int:
    """What one node of a connection's selection costs: the node itself 1, plus the objects inside it
    (asked as `nodes`, or as `edges { node }`: one node, whichever way or both)."""
    inner = 0
    for selection in connection.selections:
        if isinstance(selection, FieldNode) and selection.name.value == "nodes":
            inner = max(inner, cost(selection.selection_set))
        elif isinstance(selection, FieldNode) and selection.name.value == "edges":
            inner = max(inner, cost(selection.selection_set) - 1)  # its `node` counted 1 already below
    return 1 + inner


def routes(state: SandboxState, storefront: Storefront) -> list[Route]:
    schema = build(state, storefront)

    async def graphql(request: Request) -> Response:
        version = _VERSION.match(request.path_params["version"])
        if version is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        modern = (version[1], version[2]) >= ("2025", "01")  # GraphQL over HTTP, with its status codes
        media = GRAPHQL_RESPONSE if modern else "application/json"
        try:
            body = orjson.loads(await request.body())
            query, variables = body["query"], body.get("variables") or {}
            if not isinstance(query, str) or not isinstance(variables, dict):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return _answer({"errors": [{"message": "Parse error on request body",
                                        "extensions": {"code": "BAD_REQUEST"}}]}, 400, media)
        try:
            document = parse(query)
        except GraphQLError as exc:
            return _answer({"errors": [exc.formatted]}, 400 if modern else 200, media)
        if problems := validate(schema, document):
            return _answer({"errors": [e.formatted for e in problems]}, 400 if modern else 200, media)
        requested = query_cost(document, variables)
        bucket = storefront.bucket
        bucket.refill()
        if requested > bucket.maximum:
            return _answer({"errors": [{"message": f"Query cost is {requested}, which exceeds the single query "
                                                   f"max cost limit ({bucket.maximum:g}).",
                                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                                                       "maxCost": bucket.maximum}}]}, 200, media)
        if requested > bucket.available:
            cost = {"requestedQueryCost": requested, "actualQueryCost": None, "throttleStatus": bucket.status()}
            return _answer({"errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": {"cost": cost}}, 200, media)
        bucket.available -= requested
        root = _root(request)
        key = orjson.dumps([query, variables, root], option=orjson.OPT_SORT_KEYS)
        held = storefront.answers.get(key)
        if held is not None and held[0] is state.products and storefront.settings.fail_field is None:
            answer = held[1]
        else:
            result = execute(schema, document, variable_values=variables, context_value={"root": root})
            answer = {"errors": [e.formatted for e in result.errors]} if result.errors else {}
            answer["data"] = result.data
            if not result.errors:
                storefront.remember(key, state.products, answer)
        _count_down(storefront)
        cost = {"requestedQueryCost": requested, "actualQueryCost": requested, "throttleStatus": bucket.status()}
        return _answer({**answer, "extensions": {"cost": cost}}, 200, media)

    return [Route("/api/{version}/graphql.json", graphql, methods=["POST"])]


def admin_routes(storefront: Storefront) -> list[Route]:
    """`GET|PUT /_admin/catalog/storefront`: the bucket and the failing field; `DELETE`: defaults."""

    async def settings(request: Request) -> Response:
        if request.method == "DELETE":
            storefront.configure(StorefrontSettings())
        elif request.method == "PUT":
            try:
                storefront.configure(StorefrontSettings.model_validate_json(await request.body() or b"{}"))
            except ValidationError as exc:
                return JSONResponse({"error": "invalid body",
                                     "details": exc.errors(include_url=False, include_input=False)}, status_code=422)
        storefront.bucket.refill()
        return JSONResponse({**storefront.settings.model_dump(), "throttleStatus": storefront.bucket.status()})

    return [Route("/catalog/storefront", settings, methods=["GET", "PUT", "DELETE"])]


def _count_down(storefront: Storefront) -> None:
    settings = storefront.settings
    if settings.fail_field is not None and settings.times is not None:
        left = settings.times - 1
        storefront.settings = settings.model_copy(update={"times": left or None,
                                                          "fail_field": settings.fail_field if left else None})


def _answer(body: dict[str, Any], status: int, media: str) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media)


def _root(request: Request) -> str:
    """This vendor's public base URL, e.g. http://127.0.0.1:8900/catalog."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"

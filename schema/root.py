"""The Query root and the schema, built once with its protections."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import (
    ASTValidationRule,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    experimental_execute_incrementally,
)
from graphql.execution import ExperimentalIncrementalExecutionResults
from strawberry.extensions import max_aliases, query_depth_limiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from resolvers import products as product_resolvers
from schema import checkout
from schema.bounds import BoundedExecutionContext
from schema.cart import CartQuote, CartQuoteInput, cart_quote
from schema.common import Info
from schema.documents import DocumentCache, DocumentStore
from schema.errors import ShapeErrors, VendorReport
from schema.fastpath import FastLeafExecutionContext, FastPathCaches
from schema.fastpath.direct import install as direct_resolvers
from schema.incremental import deliver
from schema.limits import QueryLimits
from schema.live import Subscription
from schema.product import Product, ProductConnection, Shells, variant_shells
from schema.rules import OnePlaceOrder, limit_rule
from schema.telemetry import OperationTelemetry


@strawberry.type
class Query:
    @strawberry.field(description="A product by its handle; null when there is no such product.")
    async def product(self, info: Info, handle: str) -> Product | None:
        found = await product_resolvers.product_by_handle(info.context, handle)
        return Product.from_domain(found) if found else None

    @strawberry.field(description="Products in catalog order, `first` (1-50, default 10) at a time.")
    async def products(self, info: Info, first: int | None = None, after: str | None = None) -> ProductConnection:
        return ProductConnection.from_domain(await product_resolvers.product_page(info.context, first, after))

    @strawberry.field(description="Price a cart in one server-side pass: subtotal, tax, insurance, financing, total.")
    async def cart_quote(self, info: Info, input: CartQuoteInput) -> CartQuote:
        return await cart_quote(info, input)

    @strawberry.field(description="An order and each downstream system's sync state, for the holder of its "
                      "orderToken; null for an unknown order or a wrong token.")
    async def order(self, info: Info, id: strawberry.ID, token: str) -> checkout.Order | None:
        return await checkout.order(info, id, token)


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Reserve stock, authorize payment and confirm the order at once; ERP, WMS, CRM "
                         "and the insurer get it through the order stream. Safe to resend with the same "
                         "idempotencyKey.")
    async def place_order(self, info: Info, input: checkout.PlaceOrderInput) -> checkout.PlaceOrderPayload:
        return await checkout.place_order(info, input)


class BezelSchema(strawberry.Schema):
    documents: DocumentStore
    shells: Shells  # variants converted once per catalog answer (schema.product), this schema's own
    # Operation names that get their own metric label (the manifest's, and [gateway] operation_labels):
    # client-chosen names must not decide the metric's cardinality, or push a real page's out of it.
    operation_labels: frozenset[str] = frozenset()
    # The fast path's plans and shared selections (None with the fast path off); `.clear()` resets them.
    fast_path_caches: FastPathCaches | None = None

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Silence strawberry's default logging: `ShapeErrors` logs what needs logging, once."""

    def _get_execute_function(self) -> Callable[..., Any]:
        """Deferred work starts at once, alongside the first part (graphql-core's default waits for it):
        a page's slow vendors are asked when its catalog is, not after."""
        return functools.partial(experimental_execute_incrementally, enable_early_execution=True)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        result = await super().execute(*args, **kwargs)
        if isinstance(result, ExperimentalIncrementalExecutionResults):
            context = kwargs.get("context_value", args[2] if len(args) > 2 else None)
            return deliver(result, context)
        return result


def build_schema(limits: QueryLimits | None = None, *, introspection: bool = True, suggestions: bool = True,
                 fast_path: bool = True) -> BezelSchema:
    """The schema with its extensions and its document store. Validation rules are built here, once,
    so every document is validated with the same rule classes (`DocumentStore` keeps the results).
    Production turns introspection and "Did you mean ...?" suggestions off. `fast_path=False` executes
    with graphql-core's and strawberry's own path only (`schema.fastpath`): the same answers, slower."""
    limits = limits or QueryLimits()
    rules: list[type[ASTValidationRule]] = [
        limit_rule(query_depth_limiter.create_validator(limits.max_depth, None), "max_depth"),
        limit_rule(max_aliases.create_validator(limits.max_aliases), "max_aliases"),
        OnePlaceOrder,
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    documents = DocumentStore(limits, rules, hide_suggestions=not suggestions)
    caches = FastPathCaches(operations=limits.document_cache_size) if fast_path else None
    executor = (FastLeafExecutionContext.limited(limits, quiet=not suggestions, caches=caches) if caches is not None
                else BoundedExecutionContext.limited(limits, quiet=not suggestions))
    schema = BezelSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        execution_context_class=executor,
        config=StrawberryConfig(enable_experimental_incremental_execution=True),
        extensions=[
            OperationTelemetry,  # outermost: its span covers parsing, validation and execution
            ShapeErrors,
            VendorReport,
            lambda: DocumentCache(documents),
        ],
    )
    if caches is not None:
        direct_resolvers(schema)
    schema.fast_path_caches = caches
    documents.bind(schema._schema)
    schema.documents = documents
    schema.shells = variant_shells()
    return schema

"""A faster path through graphql-core for plain fields: scalars, enums, and small flat objects.

graphql-core spends ~5 us on every field: a ResolveInfo object, argument coercion, the resolver call,
awaitable checks, then type dispatch to serialize the value. A product page is mostly such fields
(`sku`, `price { amount currencyCode }`, `selectedOptions { name value }` ... on every variant: 4,700
of them for a 220-variant ring), and most of them are plain attributes: strawberry fields with no
resolver, no arguments, no extensions.

For those, and only when no extension hooks field resolution, this execution context reads the
attribute and serializes it directly; an object (or list of objects) whose selected sub-fields are
all such leaves is built in one step, whether a plain field or a resolver returned it (a product's
`variants` list). Which selections are flat is worked out once per document, unless a directive
takes a variable (`@include(if: $x)`): then it is worked out per request. Anything else (a
resolver, arguments, `__typename`, a null value, a value its type refuses, a fragment or directive
beyond @include/@skip) takes graphql-core's own path, so results and errors are exactly what
graphql-core would produce; a test executes every query of the suite both ways and compares.

    plans     what to do per (type, field), and the `@prefetched` marker resolvers carry
    build     objects and lists built from a flat selection in one step
    context   the execution context that takes the fast path where a plan allows it
    direct    resolvers called without strawberry's per-call chain, arguments converted by functions
              built once per input type (a resolver that needs the chain keeps it)

It leans on strawberry and graphql-core internals (the execution context's hooks, the field
definition back-reference, the default-resolver flag). `pyproject.toml` pins strawberry to one minor
version for that reason, and this package checks at import that every internal it uses is there, so
an upgrade that moves one fails at startup, loudly, instead of quietly taking the slow path or worse.
"""

from __future__ import annotations

import inspect


def _require_internals() -> None:
    problems = []
    try:
        from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
        from strawberry.schema.schema_converter import GraphQLCoreConverter
    except ImportError as exc:  # pragma: no cover - only on an incompatible strawberry
        raise ImportError(f"schema.fastpath: strawberry no longer provides {exc.name}; see pyproject.toml") from exc
    from strawberry.types.field import StrawberryField
    from strawberry.types.fields.resolver import StrawberryResolver

    if not hasattr(GraphQLCoreConverter, "DEFINITION_BACKREF"):
        problems.append("GraphQLCoreConverter.DEFINITION_BACKREF")
    if "python_name" not in inspect.signature(StrawberryField.__init__).parameters:
        problems.append("StrawberryField.python_name")
    if "self.wrapped_func" not in inspect.getsource(StrawberryResolver.__init__):
        problems.append("StrawberryResolver.wrapped_func")
    if not hasattr(GraphQLCoreConverter, "_get_field_exception_handlers"):
        problems.append("GraphQLCoreConverter._get_field_exception_handlers")
    for name in ("reserved_parameters", "self_parameter", "root_parameter", "parent_parameter", "info_parameter"):
        if not hasattr(StrawberryResolver, name):
            problems.append(f"StrawberryResolver.{name}")
    try:
        from strawberry.resolvers import is_default_resolver  # noqa: F401
    except ImportError:
        problems.append("strawberry.resolvers.is_default_resolver")
    hooks = {
        "execute_field": ["self", "parent_type", "source", "field_details_list", "path", "position_context"],
        "complete_object_value": ["self", "return_type", "field_details_list", "info", "path", "result",
                                  "position_context"],
        "complete_list_value": ["self", "return_type", "field_details_list", "info", "path", "result",
                                "position_context"],
        "collect_subfields": ["self", "return_type", "field_details_list"],
        # schema.bounds
        "get_new_delivery_group_map": ["self", "new_defer_usages", "delivery_group_map", "path"],
        "complete_stream_item": ["self", "item_path", "item", "field_details_list", "info", "item_type"],
        "handle_field_error": ["self", "raw_error", "return_type", "field_details_list", "path"],
    }
    for name, parameters in hooks.items():
        method = getattr(StrawberryGraphQLCoreExecutionContext, name, None)
        if method is None or list(inspect.signature(method).parameters) != parameters:
            problems.append(f"ExecutionContext.{name}({', '.join(parameters[1:])})")
    if problems:
        raise ImportError("schema.fastpath relies on strawberry/graphql-core internals that changed: "
                          + "; ".join(problems) + ". Pin strawberry-graphql back (pyproject.toml) or update "
                          "the fast path.")


_require_internals()

from schema.fastpath.context import FastLeafExecutionContext  # noqa: E402  (after the check, on purpose)
from schema.fastpath.plans import prefetched  # noqa: E402

__all__ = ["FastLeafExecutionContext", "prefetched"]

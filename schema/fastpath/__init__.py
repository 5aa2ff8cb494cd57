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
graphql-core would produce: tests/schema/test_execution.py executes every query the test suite sent
to a gateway both ways and compares, and `make test` runs the end-to-end and schema tests again with
the fast path off (`[gateway] fast_path = false`, which gives graphql-core's and strawberry's own path).

    plans     what to do per (type, field), and the `@prefetched` marker resolvers carry
    build     objects and lists built from a flat selection in one step
    caches    what is kept between requests (plans, shared selections), one set per schema
    context   the execution context that takes the fast path where a plan allows it
    planner   a trusted document's selections worked out at startup
    direct    resolvers called without strawberry's per-call chain, arguments converted by functions
              built once per input type (a resolver that needs the chain keeps it)

It leans on strawberry and graphql-core internals (the execution context's hooks, the field
definition back-reference, the default-resolver flag, ...): each is listed in `schema.internals`,
whose probe runs before this package is imported, so an upgrade that moves one fails at startup,
loudly, instead of quietly taking the slow path or worse; `pyproject.toml` pins both libraries to
the versions tested.
"""

from __future__ import annotations

from schema.fastpath.caches import FastPathCaches
from schema.fastpath.context import FastLeafExecutionContext
from schema.fastpath.plans import prefetched

__all__ = ["FastLeafExecutionContext", "FastPathCaches", "prefetched"]

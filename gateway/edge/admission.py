"""Whether a request may run, decided before it does: its client's rate limits, and what it may ask by GET.

Three budgets per client (`[limits]`): `pages`, counted for every GraphQL request before anything is
parsed; `checkout` for an operation that places an order, and `order_lookups` for one that reads an
order, counted once the document is known. Over a budget: 429 `RATE_LIMITED` with `Retry-After`,
nothing run. In production an order lookup must be POSTed: its token would otherwise sit in URLs,
proxy logs and browser history.
"""

from __future__ import annotations

from graphql import DocumentNode, FieldNode, OperationDefinitionNode

from connectors.ratelimits import RateLimits
from gateway.errors import DocumentRefused
from schema.cost import fields_of
from schema.limits import REFUSED

# Root fields that spend a budget of their own, beyond `pages`.
BUDGETS = {"placeOrder": "checkout", "order": "order_lookups"}


def refused_for_rate(wait_s: float, budget: str) -> DocumentRefused:
    REFUSED.add(1, (("reason", f"rate_limit_{budget}"),))
    return DocumentRefused(429, "RATE_LIMITED", f"Too many requests; retry in {wait_s:.0f} s.",
                           headers={"retry-after": f"{wait_s:.0f}"})


async def admit_request(limits: RateLimits, client: str) -> None:
    """Every GraphQL request, before its document is even looked at."""
    wait = await limits.hit("pages", client)
    if wait is not None:
        raise refused_for_rate(wait, "pages")


async def admit_operation(limits: RateLimits, client: str, *, method: str, document: DocumentNode | None,
                          operation_name: str | None, production: bool) -> None:
    """Once the document is known: its own budgets, and no order lookup by GET in production."""
    fields = root_fields(document, operation_name) if document is not None else set()
    if production and method == "GET" and "order" in fields:
        REFUSED.add(1, (("reason", "order_by_get"),))
        raise DocumentRefused(405, "METHOD_NOT_ALLOWED", "Look orders up with POST: an order token must not "
                              "travel in a URL.", headers={"allow": "POST"})
    for name in sorted(fields & BUDGETS.keys()):
        wait = await limits.hit(BUDGETS[name], client)
        if wait is not None:
            raise refused_for_rate(wait, BUDGETS[name])


def root_fields(document: DocumentNode, operation_name: str | None) -> set[str]:
    """The names of the root fields the operation selects (fragments on the root included)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return set()
    return {node.name.value for node in fields_of(document, operations[0].selection_set)
            if isinstance(node, FieldNode)}

"""Whether a request may run, decided before it does: its client's rate limits, and what it may ask by GET.

Three budgets per client (`[limits]`): `pages`, counted for every GraphQL request before anything is
parsed; `checkout` for an operation that places an order, and `order_lookups` for one that reads an
order, counted once the document is known. Over a budget: 429 `RATE_LIMITED` with `Retry-After`,
nothing run. In production an order lookup must be POSTed: its token would otherwise sit in URLs,
proxy logs and browser history.
"""

from __future__ import annotations

from collections.abc import Set

from connectors.ratelimits import RateLimits
from gateway.errors import DocumentRefused
from schema.refusals import REFUSED

# Root fields that spend a budget of their own, beyond `pages`.
BUDGETS = {"placeOrder": "checkout", "order": "order_lookups", "orderUpdated": "order_lookups"}
ORDER_LOOKUPS = frozenset({"order", "orderUpdated"})  # each carries an order token


def refused_for_rate(wait_s: float, budget: str) -> DocumentRefused:
    REFUSED.add(1, (("reason", f"rate_limit_{budget}"),))
    return DocumentRefused(429, "RATE_LIMITED", f"Too many requests; retry in {wait_s:.0f} s.",
                           headers={"retry-after": f"{wait_s:.0f}"})


async def admit_request(limits: RateLimits, client: str) -> None:
    """Every GraphQL request, before its document is even looked at."""
    wait = await limits.hit("pages", client)
    if wait is not None:
        raise refused_for_rate(wait, "pages")


async def admit_operation(limits: RateLimits, client: str, *, method: str, fields: Set[str],
                          production: bool) -> None:
    """Once the document is known (`fields`: the root fields it runs, none if it will not run): its own
    budgets, and no order lookup by GET in production."""
    if production and method == "GET" and fields & ORDER_LOOKUPS:
        REFUSED.add(1, (("reason", "order_by_get"),))
        raise DocumentRefused(405, "METHOD_NOT_ALLOWED", "Look orders up with POST: an order token must not "
                              "travel in a URL.", headers={"allow": "POST"})
    for name in sorted(fields & BUDGETS.keys()):
        wait = await limits.hit(BUDGETS[name], client)
        if wait is not None:
            raise refused_for_rate(wait, BUDGETS[name])


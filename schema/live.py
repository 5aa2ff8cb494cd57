"""The Subscription root: live pages (`productChanged`, `orderUpdated`), fed by `resolvers.live`.

Each field wraps the hub's domain values in the types a query answers with: a `productChanged` message
is a `Product` whose variants' stock was read once for every subscriber of it; an `orderUpdated`
message is the `Order` `order(id, token)` would answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

import strawberry

from connectors.errors import CheckoutUnavailable
from resolvers.live import LiveHub
from schema import checkout
from schema.common import Info
from schema.product import Product


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The product now, then each time its stock or prices change (a sale through "
                             "Bezel, an event from the catalog, the inventory system or the ERP); null while there "
                             "is no such product. Stock is read as a page reads it (checkout's counters first), once "
                             "for every subscriber.")
    async def product_changed(self, info: Info, handle: str) -> AsyncGenerator[Product | None, None]:
        async with contextlib.aclosing(_hub(info).product_changes(info.context, handle)) as states:
            async for state in states:  # closed with the subscription: its place is freed at once
                yield Product.live(state) if state is not None else None

    @strawberry.subscription(description="The order now, then each time a downstream system's sync state changes; it "
                             "ends when every system is SYNCED or one is FAILED. For the holder of its orderToken: an "
                             "unknown order or a wrong token is one null, then the end.")
    async def order_updated(self, info: Info, id: strawberry.ID, token: str) -> AsyncGenerator[checkout.Order | None,
                                                                                                None]:
        async with contextlib.aclosing(_hub(info).order_updates(info.context, str(id), token)) as views:
            async for view in views:
                yield checkout.Order.from_domain(view.order, view.downstream) if view is not None else None


def _hub(info: Info) -> LiveHub:
    hub = info.context.services.live
    if not isinstance(hub, LiveHub):  # services built without one (narrow tests)
        raise CheckoutUnavailable("Live updates are not available on this process.")
    return hub

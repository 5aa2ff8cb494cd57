"""Looking up an order, for whoever holds its order token."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from connectors.checkout import CheckoutStore
from connectors.errors import CheckoutUnavailable
from connectors.models import DownstreamState, Order, SyncStatus
from resolvers.context import RequestContext

_ORDER_ID = re.compile(r"^ord_[0-9a-f]{20}$")


@dataclass(frozen=True)
class OrderView:
    order: Order
    downstream: tuple[DownstreamState, ...]


async def order_for_token(ctx: RequestContext, order_id: str, token: str) -> OrderView | None:
    """The order and its downstream sync state; None for an unknown order or a wrong token (the two look
    the same, so an order id alone reveals nothing)."""
    ctx.shown.personal("order")
    store = ctx.services.store
    if store is None:
        raise CheckoutUnavailable("Orders cannot be looked up right now: no order store is configured.")
    if not _ORDER_ID.match(order_id) or not token or len(token) > 200:
        return None
    try:
        found = await store.orders.get(order_id)
        if found is None:
            return None
        order, token_hash = found
        if not hmac.compare_digest(hashlib.sha256(token.encode()).hexdigest(), token_hash):
            return None
        states = await store.orders.sync_states(order_id)
    except CheckoutUnavailable as exc:
        raise CheckoutUnavailable("Orders cannot be looked up right now; please try again shortly.",
                                  detail=exc.detail) from exc
    return _view(order, states)


async def order_view(store: CheckoutStore, order_id: str) -> OrderView | None:
    """The order and its sync state as they are now, for whoever already proved they hold its token
    (a live order page: `resolvers.live`)."""
    found = await store.orders.get(order_id)
    if found is None:
        return None
    return _view(found[0], await store.orders.sync_states(order_id))


def settled(view: OrderView) -> bool:
    """Every downstream system has the order, or one gave up: nothing more will change by itself."""
    statuses = {state.status for state in view.downstream}
    return SyncStatus.FAILED in statuses or statuses <= {SyncStatus.SYNCED}


def _view(order: Order, states: dict[str, DownstreamState]) -> OrderView:
    downstream = tuple(states.get(system) or DownstreamState(system, SyncStatus.PENDING, 0)
                       for system in order.downstream_systems)
    return OrderView(order=order, downstream=downstream)

"""placeOrder: price server-side, reserve atomically, authorize, confirm at once; and the order sync.

    orchestration   the steps in their order, and checkout's metrics
    inputs          what the client sends, checked before anything else; the request's fingerprint
    idempotency     Stripe's protocol: replay, refuse, or free a key
    pricing         prices, tax and insurance from the vendors, never from the client
    stock           holding stock, and seeding counters from the ERP (shared with the worker)
    payment         authorize exactly once; recover a lost answer; void
    outcome         the answer, user errors, and how a step stops the checkout with one
    sync            what each downstream system does with a placed order (run by `bezel worker`)
"""

from resolvers.checkout.inputs import OrderLineRequest, PlaceOrderRequest
from resolvers.checkout.orchestration import place_order
from resolvers.checkout.outcome import PlaceOrderResult, UserError

__all__ = ["OrderLineRequest", "PlaceOrderRequest", "PlaceOrderResult", "UserError", "place_order"]

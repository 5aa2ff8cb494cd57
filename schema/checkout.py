"""Checkout: placeOrder and the order a customer can look up with its token."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING

import strawberry

from connectors import models
from resolvers import checkout as checkout_resolvers
from resolvers import order_lookup
from resolvers.validation import gid
from schema.common import Info, Money
from schema.quotes import AddressInput


@strawberry.enum
class OrderStatus(Enum):
    CONFIRMED = "CONFIRMED"


# Made from the domain's one list of systems (ERP, WMS, CRM, INSURANCE), without touching that enum. The
# type checker, which cannot follow an enum made at run time, is shown the domain's: same names, same values.
if TYPE_CHECKING:
    DownstreamSystem = models.DownstreamSystem
else:
    DownstreamSystem = strawberry.enum(Enum("DownstreamSystem", {s.name: s.value for s in models.DownstreamSystem}))


@strawberry.enum
class SyncStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Queued or being retried.")
    SYNCED = strawberry.enum_value("SYNCED", description="The system has the order.")
    FAILED = strawberry.enum_value("FAILED", description="Gave up after repeated failures; operations is alerted.")


@strawberry.type(description="Where one downstream system is with the order.")
class DownstreamSync:
    system: DownstreamSystem
    status: SyncStatus
    attempts: int
    last_error: str | None = strawberry.field(description="Why the last attempt failed, e.g. \"timeout\".")
    updated_at: datetime | None


@strawberry.type
class OrderLine:
    variant_id: strawberry.ID
    sku: str
    title: str
    quantity: int
    unit_price: Money
    line_total: Money
    engraving_text: str | None


@strawberry.type
class MailingAddress:
    country_code: str
    zip: str
    province_code: str | None
    city: str | None
    line1: str | None
    line2: str | None


@strawberry.type(description="The authorization; it is captured when the order ships.")
class PaymentSummary:
    status: str
    amount: Money
    card_brand: str | None
    last4: str | None


@strawberry.type
class Order:
    id: strawberry.ID
    status: OrderStatus
    created_at: datetime
    email: str
    ship_to: MailingAddress
    lines: list[OrderLine]
    subtotal: Money
    tax: Money
    insurance: Money | None
    total: Money
    payment: PaymentSummary
    financing_provider: str | None
    downstream: list[DownstreamSync] = strawberry.field(
        description="Each system the order is synced to. Shown only with `order(id, token)`; empty in placeOrder's "
        "answer, where every one is still PENDING."
    )

    @classmethod
    def from_domain(cls, o: models.Order, downstream: tuple[models.DownstreamState, ...] = ()) -> Order:
        return cls(
            id=strawberry.ID(o.id),
            status=OrderStatus(o.status.value),
            created_at=datetime.fromtimestamp(o.created_at, UTC),
            email=o.email,
            ship_to=MailingAddress(**asdict(o.ship_to)),
            lines=[OrderLine(variant_id=strawberry.ID(gid("ProductVariant", line.variant_id)), sku=line.sku,
                             title=line.title, quantity=line.quantity, unit_price=Money.from_domain(line.unit_price),
                             line_total=Money.from_domain(line.total), engraving_text=line.engraving_text)
                   for line in o.lines],
            subtotal=Money.from_domain(o.subtotal),
            tax=Money.from_domain(o.tax),
            insurance=Money.from_domain(o.insurance) if o.insurance else None,
            total=Money.from_domain(o.total),
            payment=PaymentSummary(status=o.payment.status, amount=Money.from_domain(o.payment.amount),
                                   card_brand=o.payment.card_brand, last4=o.payment.last4),
            financing_provider=o.financing_provider,
            downstream=[DownstreamSync(system=DownstreamSystem(d.system.value), status=SyncStatus(d.status.value),
                                       attempts=d.attempts, last_error=d.last_error,
                                       updated_at=datetime.fromtimestamp(d.updated_at, UTC) if d.updated_at else None)
                        for d in downstream],
        )


@strawberry.enum
class CheckoutErrorCode(Enum):
    OUT_OF_STOCK = "OUT_OF_STOCK"
    PAYMENT_DECLINED = "PAYMENT_DECLINED"
    INVALID_INPUT = "INVALID_INPUT"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
    CHECKOUT_UNAVAILABLE = "CHECKOUT_UNAVAILABLE"
    RATE_LIMITED = "RATE_LIMITED"
    ORDER_TOO_LARGE = "ORDER_TOO_LARGE"


@strawberry.type
class CheckoutUserError:
    field: list[str] | None = strawberry.field(description='Path to the input field, e.g. ["lines", "0", "quantity"].')
    message: str
    code: CheckoutErrorCode


@strawberry.type
class PlaceOrderPayload:
    order: Order | None
    order_token: str | None = strawberry.field(
        description="Keep it: `order(id, token)` shows the order only to whoever holds this."
    )
    user_errors: list[CheckoutUserError]
    replayed: bool = strawberry.field(description="True when this is the stored answer to an earlier request "
                                      "with the same idempotency key.")


@strawberry.input
class OrderLineInput:
    variant_id: strawberry.ID
    quantity: int = 1
    engraving_text: str | None = None


@strawberry.input
class PlaceOrderInput:
    idempotency_key: str = strawberry.field(description="One per order attempt (e.g. a UUID made when the "
                                            "checkout page loads); resending it never places a second order.")
    lines: list[OrderLineInput]
    ship_to: AddressInput
    email: str
    payment_token: str
    insure: bool | None = True
    financing_provider: str | None = None


async def place_order(info: Info, input: PlaceOrderInput) -> PlaceOrderPayload:
    result = await checkout_resolvers.place_order(info.context, input)
    return PlaceOrderPayload(
        order=Order.from_domain(result.order) if result.order else None,
        order_token=result.order_token,
        user_errors=[CheckoutUserError(field=list(e.field) if e.field else None, message=e.message,
                                       code=CheckoutErrorCode(e.code)) for e in result.user_errors],
        replayed=result.replayed,
    )


async def order(info: Info, id: strawberry.ID, token: str) -> Order | None:
    found = await order_lookup.order_for_token(info.context, str(id), token)
    return Order.from_domain(found.order, found.downstream) if found else None

"""The cart quote: every price a cart needs, computed server-side in one pass."""

from __future__ import annotations

from typing import TypeVar

import strawberry

from connectors import models
from resolvers import cart as cart_resolvers
from schema.common import Info, Money
from schema.product import ProductVariant
from schema.quotes import AddressInput, FinancingOffers, InsuranceQuote, TaxQuote

T = TypeVar("T")


@strawberry.input
class CartLineInput:
    variant_id: strawberry.ID
    quantity: int = 1


@strawberry.input
class CartQuoteInput:
    lines: list[CartLineInput]
    ship_to: AddressInput
    insure: bool = strawberry.field(default=True, description="Include shipping insurance in the total.")


@strawberry.type
class CartLine:
    variant: ProductVariant
    quantity: int
    unit_price: Money
    line_total: Money


@strawberry.type
class CartQuote:
    lines: list[CartLine]
    subtotal: Money
    total: Money = strawberry.field(description="Subtotal plus every part that could be priced (see `complete`).")
    complete: bool = strawberry.field(description="False when a part (listed in `missing`) failed and is not in "
                                      "`total`; its field is then null with an error.")
    missing: list[str]
    domain: strawberry.Private[models.CartQuote]

    @classmethod
    def from_domain(cls, q: models.CartQuote) -> CartQuote:
        return cls(
            lines=[
                CartLine(variant=ProductVariant.from_domain(line.variant), quantity=line.quantity,
                         unit_price=Money.from_domain(line.variant.price), line_total=Money.from_domain(line.total))
                for line in q.lines
            ],
            subtotal=Money.from_domain(q.subtotal),
            total=Money.from_domain(q.total),
            complete=q.complete,
            missing=list(q.missing),
            domain=q,
        )

    @strawberry.field
    def tax(self) -> TaxQuote | None:
        return TaxQuote.from_domain(_part(self.domain.tax))

    @strawberry.field(description="Null when insurance was not asked for (`insure: false`).")
    def insurance(self) -> InsuranceQuote | None:
        if self.domain.insurance is None:
            return None
        return InsuranceQuote.from_domain(_part(self.domain.insurance))

    @strawberry.field
    def financing(self) -> FinancingOffers | None:
        return FinancingOffers.from_domain(_part(self.domain.financing))


def _part(part: models.Sourced[T] | Exception) -> models.Sourced[T]:
    """The part's value, or its error raised here so it lands on this field only."""
    if isinstance(part, Exception):
        raise part
    return part


async def cart_quote(info: Info, input: CartQuoteInput) -> CartQuote:
    quote = await cart_resolvers.cart_quote(info.context, input.lines, input.ship_to, insure=input.insure)
    return CartQuote.from_domain(quote)

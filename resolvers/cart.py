"""A cart priced in one server-side pass: lines, tax, insurance, financing and the total."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Protocol, TypeVar

from connectors.errors import InputError, PublicError
from connectors.models import CartLine, CartQuote, InsuranceQuote, Money, Sourced
from resolvers.context import RequestContext
from resolvers.quotes import financing, insurance_for_lines, tax_for_lines
from resolvers.validation import AddressFields, address, parse_gid

T = TypeVar("T")
MAX_LINES = 50
MAX_QUANTITY = 10


class CartLineRequest(Protocol):
    """A cart or order line as the client sent it (the GraphQL input)."""

    @property
    def variant_id(self) -> str: ...
    @property
    def quantity(self) -> int: ...


async def resolve_lines(ctx: RequestContext, lines: Sequence[CartLineRequest], argument: str) -> list[CartLine]:
    """Check quantities and find every variant; repeated variants are merged into one line."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise InputError(f"A cart holds 1 to {MAX_LINES} lines.", field=f"{argument}.lines")
    quantities: dict[str, int] = {}
    fields: dict[str, str] = {}
    for i, line in enumerate(lines):
        field = f"{argument}.lines[{i}]"
        variant_id = parse_gid(line.variant_id, "ProductVariant", f"{field}.variantId")
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise InputError(f"Quantity must be between 1 and {MAX_QUANTITY}.", field=f"{field}.quantity")
        quantities[variant_id] = quantities.get(variant_id, 0) + line.quantity
        fields.setdefault(variant_id, f"{field}.variantId")
    if any(q > MAX_QUANTITY for q in quantities.values()):
        raise InputError(f"At most {MAX_QUANTITY} of one item per order.", field=f"{argument}.lines")
    ids = list(quantities)
    product_ids = await ctx.loaders.product_id_by_variant.load_many(ids)
    unknown = [i for i, pid in zip(ids, product_ids, strict=True) if pid is None]
    if unknown:
        raise InputError(f"No such product variant: {unknown[0]}.", field=fields[unknown[0]])
    known = [pid for pid in product_ids if pid is not None]  # every one, past the check above
    products = await ctx.loaders.product_by_id.load_many(list(dict.fromkeys(known)))
    by_id = {p.value.id: p.value for p in products if p is not None}
    resolved = []
    for variant_id, product_id in zip(ids, known, strict=True):
        product = by_id.get(product_id)
        variant = product.variant(variant_id) if product else None
        if variant is None:
            raise InputError(f"No such product variant: {variant_id}.", field=fields[variant_id])
        resolved.append(CartLine(variant=variant, quantity=quantities[variant_id]))
    return resolved


async def _settle(work: Awaitable[Sourced[T]]) -> Sourced[T] | PublicError:
    """A vendor-backed part of the quote, or the public error it ended in."""
    try:
        return await work
    except PublicError as exc:
        return exc


async def cart_quote(ctx: RequestContext, lines: Sequence[CartLineRequest], ship_to: AddressFields, *,
                     insure: bool = True) -> CartQuote:
    """Price the cart: tax and insurance together, then financing on the resulting total.

    A vendor that fails leaves its part as the error it hit (shown on that field) and out of the
    total, which then says it is incomplete; the other parts are unaffected.
    """
    ctx.shown.personal("cart")
    destination = address(ship_to, "input.shipTo")
    cart = await resolve_lines(ctx, lines, "input")
    subtotal = sum((line.total for line in cart), Money.zero(ctx.services.currency))
    priced = [(line.variant, line.quantity) for line in cart]
    tax_part = _settle(tax_for_lines(ctx, destination, priced, "input.shipTo"))
    insurance: Sourced[InsuranceQuote] | PublicError | None = None
    if insure:
        tax, insurance = await asyncio.gather(tax_part, _settle(insurance_for_lines(ctx, destination, priced,
                                                                                    "input.shipTo")))
    else:
        tax = await tax_part
    total, missing = subtotal, []
    if isinstance(tax, Sourced):
        total = total + tax.value.amount_to_collect
    else:
        missing.append("tax")
    if isinstance(insurance, Sourced):
        total = total + insurance.value.premium
    elif insurance is not None:
        missing.append("insurance")
    return CartQuote(
        lines=tuple(cart),
        ship_to=destination,
        subtotal=subtotal,
        tax=tax,
        insurance=insurance,
        financing=await _settle(financing(ctx, total)),
        total=total,
        missing=tuple(missing),
    )

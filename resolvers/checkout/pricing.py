"""Prices from the vendors, never from the client: catalog prices, engraving checked, tax, insurance."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from connectors.errors import InputError, PublicError, VendorUnavailable
from connectors.models import Address, InsuranceQuote, Money, OrderLine, Product, Sourced, TaxQuote, Variant, Vendor
from resolvers.cart import resolve_lines
from resolvers.checkout.inputs import PlaceOrderRequest, field_path, insured
from resolvers.checkout.outcome import Stop, failed, unavailable
from resolvers.context import RequestContext
from resolvers.quotes import engraving_preview, financing, insurance_for_lines, tax_for_lines
from resolvers.validation import address


@dataclass(frozen=True)
class Priced:
    ship_to: Address
    lines: list[OrderLine]
    subtotal: Money
    tax: TaxQuote
    insurance: InsuranceQuote | None

    @property
    def total(self) -> Money:
        extra = self.insurance.premium if self.insurance else Money.zero(self.subtotal.currency)
        return self.subtotal + self.tax.amount_to_collect + extra


async def price(ctx: RequestContext, raw: PlaceOrderRequest) -> Priced:
    """Every line priced from the catalog, tax and insurance quoted, the financing choice checked."""
    ship_to, lines = await _price_lines(ctx, raw)
    tax, insurance = await _tax_and_insurance(ctx, raw, ship_to, lines)
    priced = Priced(ship_to, lines, sum((line.total for line in lines), Money.zero(ctx.services.currency)), tax,
                    insurance)
    await _check_financing(ctx, raw, priced.total)
    return priced


def refuse_if_over_ceiling(priced: Priced, ceiling: Decimal) -> None:
    """ORDER_TOO_LARGE past `[checkout] max_order_total`, before any stock is held or card authorized."""
    if priced.total.amount > ceiling:
        raise Stop(failed("ORDER_TOO_LARGE", f"Orders above {ceiling:,.2f} {priced.total.currency} cannot be placed "
                                             "online; please contact us to complete this order.", ("lines",)),
                   keep=False)


def price_age_limit_s(ctx: RequestContext) -> float:
    """`[checkout] max_price_age_s`, or the catalog's fresh and revalidate windows together."""
    configured = ctx.services.checkout.max_price_age_s
    if configured:
        return configured
    catalog = ctx.services.vendors.policies[Vendor.CATALOG].config
    return catalog.cache_ttl_s + catalog.revalidate_s


def _confirmed_prices(ctx: RequestContext, products: Sequence[Sourced[Product] | None]) -> None:
    """Prices from a catalog answer young enough to charge (the checkout's calls ask for nothing older,
    `CallScope.max_age_s`), never an older one standing in while the catalog fails."""
    limit_ms = price_age_limit_s(ctx) * 1000
    if any(p is not None and p.freshness.age_ms > limit_ms for p in products):
        raise Stop(unavailable("prices could not be confirmed with the catalog"), keep=False)


async def _price_lines(ctx: RequestContext, raw: PlaceOrderRequest) -> tuple[Address, list[OrderLine]]:
    """Prices from the catalog, never from the client; engraving text checked with the vendor."""
    try:
        ship_to = address(raw.ship_to, "shipTo")
        cart = await resolve_lines(ctx, raw.lines, "")
    except InputError as exc:
        raise Stop(failed("INVALID_INPUT", exc.message, field_path(exc.field)), keep=False) from exc
    except VendorUnavailable as exc:
        raise Stop(unavailable("the catalog is not answering"), keep=False) from exc
    engraving = {line.variant_id.rsplit("/", 1)[-1]: (i, line.engraving_text) for i, line in enumerate(raw.lines)
                 if line.engraving_text}
    # Already loaded by resolve_lines: the loader answers from this request's own cache.
    products = await ctx.loaders.product_by_id.load_many([line.variant.product_id for line in cart])
    _confirmed_prices(ctx, products)
    out = []
    for line, sourced in zip(cart, products, strict=True):
        assert sourced is not None  # resolve_lines found every line's product
        product = sourced.value
        text = None
        if line.variant.id in engraving:
            index, text = engraving[line.variant.id]
            try:
                await engraving_preview(ctx, product, line.variant, text=text, font="serif", placement="inside_band")
            except InputError as exc:
                raise Stop(failed("INVALID_INPUT", exc.message, ("lines", str(index), "engravingText")),
                           keep=False) from exc
            except VendorUnavailable as exc:
                raise Stop(unavailable("engraving could not be checked"), keep=False) from exc
        v = line.variant
        out.append(OrderLine(variant_id=v.id, product_id=v.product_id, sku=v.sku, title=f"{product.title} ({v.title})",
                             quantity=line.quantity, unit_price=v.price, engraving_text=text))
    return ship_to, out


async def _tax_and_insurance(ctx: RequestContext, raw: PlaceOrderRequest, ship_to: Address,
                             lines: list[OrderLine]) -> tuple[TaxQuote, InsuranceQuote | None]:
    priced = [(Variant(line.variant_id, line.product_id, line.sku, line.title, line.unit_price, ()), line.quantity)
              for line in lines]

    async def uninsured() -> None:
        return None

    tax, insurance = await asyncio.gather(
        tax_for_lines(ctx, ship_to, priced),
        insurance_for_lines(ctx, ship_to, priced) if insured(raw) else uninsured(),
        return_exceptions=True)
    for result in (tax, insurance):
        if isinstance(result, InputError):
            raise Stop(failed("INVALID_INPUT", result.message, field_path(result.field)), keep=False)
        if isinstance(result, VendorUnavailable):
            raise Stop(unavailable(f"{result.vendor} is not answering"), keep=False)
        if isinstance(result, BaseException):
            raise result
    assert not isinstance(tax, BaseException)  # raised above
    assert not isinstance(insurance, BaseException)
    return tax.value, insurance.value if insurance is not None else None


async def _check_financing(ctx: RequestContext, raw: PlaceOrderRequest, total: Money) -> None:
    provider = raw.financing_provider
    if provider is None:
        return
    providers = ctx.services.vendors.bnpl_providers
    if provider not in providers:
        raise Stop(failed("INVALID_INPUT", f"Financing provider must be one of {', '.join(providers)}.",
                          ("financingProvider",)), keep=False)
    try:
        offers = (await financing(ctx, total)).value
    except PublicError as exc:
        raise Stop(unavailable("financing could not be checked"), keep=False) from exc
    if not any(o.provider == provider for o in offers.offers):
        raise Stop(failed("INVALID_INPUT", f"{provider} does not finance an order of {total.amount} "
                                           f"{total.currency}.", ("financingProvider",)), keep=False)

"""Tax, shipping insurance, financing and engraving previews for a product."""

from __future__ import annotations

import asyncio
from typing import Any

from connectors.bnpl import afterpay_offer
from connectors.errors import InputError, VendorRejectedInput, VendorUnavailable
from connectors.insurance import InsuredItem
from connectors.models import (
    Address,
    EngravingPreview,
    FinancingOffer,
    FinancingOffers,
    Freshness,
    InsuranceQuote,
    Money,
    Outcome,
    Product,
    Source,
    Sourced,
    TaxQuote,
    Variant,
    Vendor,
)
from connectors.tax import TaxLine
from resolvers.context import RequestContext
from resolvers.validation import MAX_ENGRAVING_TEXT, rejected

# Which freshness wins when one answer is built from several calls: the least fresh.
_RANK = {Source.LIVE: 0, Source.CACHE: 1, Source.STALE: 2, Source.NONE: 3}


def least_fresh(parts: list[Freshness]) -> Freshness:
    return max(parts, key=lambda f: (_RANK[f.source], f.age_ms))


async def tax_for_lines(ctx: RequestContext, ship_to: Address, lines: list[tuple[Variant, int]],
                        argument: str = "shipTo") -> Sourced[TaxQuote]:
    ctx.shown.personal("address")
    api = ctx.services.vendors.tax
    tax_lines = [TaxLine(v.sku, qty, v.price) for v, qty in lines]
    try:
        return await ctx.call(api.quote(ship_to, tax_lines, Money.zero(ctx.services.currency)))
    except VendorRejectedInput as exc:
        raise rejected(exc, argument) from exc


async def insurance_for_lines(ctx: RequestContext, ship_to: Address, lines: list[tuple[Variant, int]],
                              argument: str = "shipTo") -> Sourced[InsuranceQuote]:
    ctx.shown.personal("address")
    api = ctx.services.vendors.insurance
    items = [InsuredItem(v.sku, qty, v.price) for v, qty in lines]
    try:
        return await ctx.call(api.quote(ship_to, items))
    except VendorRejectedInput as exc:
        raise rejected(exc, argument) from exc


async def financing(ctx: RequestContext, amount: Money) -> Sourced[FinancingOffers]:
    """Offers from every configured provider, asked together; one failing leaves the others."""
    vendors = ctx.services.vendors
    providers = vendors.bnpl_providers
    calls: dict[str, Any] = {}
    if "affirm" in providers:
        calls["affirm"] = ctx.call(vendors.bnpl.affirm_offers(amount))
    if "afterpay" in providers:
        calls["afterpay"] = ctx.call(vendors.bnpl.afterpay_configuration())
    results = dict(zip(calls, await asyncio.gather(*calls.values(), return_exceptions=True), strict=True))
    offers: list[FinancingOffer] = []
    freshness: list[Freshness] = []
    failed: list[str] = []
    first_error: BaseException | None = None
    for provider, result in results.items():
        if isinstance(result, BaseException):
            if not isinstance(result, VendorUnavailable | VendorRejectedInput):
                raise result
            failed.append(provider)
            first_error = first_error or result
            continue
        freshness.append(result.freshness)
        if provider == "affirm":
            offers.extend(result.value)
        elif (offer := afterpay_offer(result.value, amount)) is not None:
            offers.append(offer)
    if not freshness:
        if isinstance(first_error, VendorUnavailable):
            raise first_error
        raise VendorUnavailable(Vendor.BNPL, Outcome.ERROR)
    offers.sort(key=lambda o: o.installment_amount.amount)
    value = FinancingOffers(amount=amount, offers=tuple(offers), unavailable_providers=tuple(failed))
    return Sourced(value, least_fresh(freshness))


async def engraving_preview(ctx: RequestContext, product: Product, variant: Variant, *, text: str, font: str,
                            placement: str) -> Sourced[EngravingPreview]:
    ctx.shown.personal("engraving")
    if not product.engravable:
        raise InputError(f"{product.title} cannot be engraved.", field="input")
    if len(text) > MAX_ENGRAVING_TEXT:
        raise InputError(f"Engraving text is limited to {MAX_ENGRAVING_TEXT} characters.", field="input.text")
    if len(font) > 32:
        raise InputError("Unknown font.", field="input.font")
    api = ctx.services.vendors.engraving
    try:
        return await ctx.call(api.preview(text=text, font=font, placement=placement, sku=variant.sku))
    except VendorRejectedInput as exc:
        raise exc.to_input_error("input") from exc

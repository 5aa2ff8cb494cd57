"""Tax, shipping insurance, financing and engraving: the vendor-backed answers on a product page."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from connectors import models
from schema.common import Freshness, Money


@strawberry.input(description="A destination. `countryCode` is ISO 3166-1 alpha-2; US and CA need `provinceCode`.")
class AddressInput:
    country_code: str
    zip: str
    province_code: str | None = None
    city: str | None = None
    line1: str | None = None
    line2: str | None = None


@strawberry.type
class Jurisdiction:
    country: str
    state: str | None
    county: str | None
    city: str | None


@strawberry.type(description="Sales tax to collect for shipping to an address.")
class TaxQuote:
    amount_to_collect: Money
    rate: str = strawberry.field(description="Combined rate as a decimal string, e.g. \"0.08875\".")
    taxable_amount: Money
    order_amount: Money
    shipping: Money
    has_nexus: bool
    jurisdiction: Jurisdiction
    freshness: Freshness

    @classmethod
    def from_domain(cls, sourced: models.Sourced[models.TaxQuote]) -> TaxQuote:
        t = sourced.value
        j = t.jurisdiction
        return cls(
            amount_to_collect=Money.from_domain(t.amount_to_collect),
            rate=str(t.rate),
            taxable_amount=Money.from_domain(t.taxable_amount),
            order_amount=Money.from_domain(t.order_amount),
            shipping=Money.from_domain(t.shipping),
            has_nexus=t.has_nexus,
            jurisdiction=Jurisdiction(country=j.country, state=j.state, county=j.county, city=j.city),
            freshness=Freshness.from_domain(sourced.freshness),
        )


@strawberry.type(description="A shipping-insurance quote: the premium to cover the shipment's full value.")
class InsuranceQuote:
    quote_id: strawberry.ID
    premium: Money
    insured_amount: Money
    provider: str
    coverage: str
    expires_at: datetime | None
    freshness: Freshness

    @classmethod
    def from_domain(cls, sourced: models.Sourced[models.InsuranceQuote]) -> InsuranceQuote:
        q = sourced.value
        return cls(
            quote_id=strawberry.ID(q.quote_id),
            premium=Money.from_domain(q.premium),
            insured_amount=Money.from_domain(q.insured_amount),
            provider=q.provider,
            coverage=q.coverage,
            expires_at=q.expires_at,
            freshness=Freshness.from_domain(sourced.freshness),
        )


@strawberry.enum
class InstallmentInterval(Enum):
    TWO_WEEKS = "TWO_WEEKS"
    MONTH = "MONTH"


@strawberry.type(description="One way to pay over time.")
class FinancingOffer:
    provider: str
    term: str = strawberry.field(description='Human-readable term, e.g. "12 months".')
    installments: int
    interval: InstallmentInterval
    apr: str = strawberry.field(description="Annual percentage rate as a decimal string, e.g. \"0.0999\".")
    installment_amount: Money
    total_cost: Money
    message: str = strawberry.field(description="The provider's display message, ready to show.")


@strawberry.type(description="Offers from each configured BNPL provider; a failed provider is listed, not fatal.")
class FinancingOffers:
    amount: Money
    offers: list[FinancingOffer]
    unavailable_providers: list[str]
    freshness: Freshness

    @classmethod
    def from_domain(cls, sourced: models.Sourced[models.FinancingOffers]) -> FinancingOffers:
        f = sourced.value
        return cls(
            amount=Money.from_domain(f.amount),
            offers=[
                FinancingOffer(
                    provider=o.provider,
                    term=o.term,
                    installments=o.installments,
                    interval=InstallmentInterval(o.interval.value),
                    apr=str(o.apr),
                    installment_amount=Money.from_domain(o.installment_amount),
                    total_cost=Money.from_domain(o.total_cost),
                    message=o.message,
                )
                for o in f.offers
            ],
            unavailable_providers=list(f.unavailable_providers),
            freshness=Freshness.from_domain(sourced.freshness),
        )


@strawberry.enum
class EngravingPlacement(Enum):
    INSIDE_BAND = "inside_band"
    OUTSIDE_BAND = "outside_band"
    BACK = "back"


@strawberry.input
class EngravingInput:
    text: str
    font: str = "serif"
    placement: EngravingPlacement = EngravingPlacement.INSIDE_BAND
    variant_id: strawberry.ID | None = None


@strawberry.type(description="What the engraving vendor accepts, for client-side validation.")
class EngravingLimits:
    max_length: int
    allowed_characters: str
    allowed_pattern: str = strawberry.field(description="The allowed characters as a regular expression.")
    fonts: list[str]
    placements: list[str]


@strawberry.type
class EngravingPreview:
    image_url: str = strawberry.field(description="A URL the browser can load directly (SVG).")
    text: str
    font: str
    placement: str
    limits: EngravingLimits
    freshness: Freshness

    @classmethod
    def from_domain(cls, sourced: models.Sourced[models.EngravingPreview]) -> EngravingPreview:
        e = sourced.value
        lim = e.limits
        return cls(
            image_url=e.image_url,
            text=e.text,
            font=e.font,
            placement=e.placement,
            limits=EngravingLimits(max_length=lim.max_length, allowed_characters=lim.allowed_characters,
                                   allowed_pattern=lim.allowed_pattern, fonts=list(lim.fonts),
                                   placements=list(lim.placements)),
            freshness=Freshness.from_domain(sourced.freshness),
        )

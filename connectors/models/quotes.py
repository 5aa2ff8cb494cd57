"""Addresses and the priced answers of a product page or a cart: tax, insurance, financing, engraving."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from connectors.models.catalog import Variant
from connectors.models.values import Money, Sourced


@dataclass(frozen=True, slots=True)
class Address:
    country_code: str
    zip: str
    province_code: str | None = None
    city: str | None = None
    line1: str | None = None
    line2: str | None = None


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    country: str
    state: str | None
    county: str | None
    city: str | None


@dataclass(frozen=True, slots=True)
class TaxQuote:
    amount_to_collect: Money
    rate: Decimal
    taxable_amount: Money
    order_amount: Money
    shipping: Money
    has_nexus: bool
    jurisdiction: Jurisdiction


@dataclass(frozen=True, slots=True)
class InsuranceQuote:
    quote_id: str
    token: str  # binds the cover after the order is placed
    premium: Money
    insured_amount: Money
    provider: str
    coverage: str
    expires_at: datetime | None


class InstallmentInterval(enum.Enum):
    TWO_WEEKS = "TWO_WEEKS"
    MONTH = "MONTH"


@dataclass(frozen=True, slots=True)
class FinancingOffer:
    provider: str
    installments: int
    interval: InstallmentInterval
    apr: Decimal
    installment_amount: Money
    total_cost: Money
    message: str

    @property
    def term(self) -> str:
        if self.interval is InstallmentInterval.TWO_WEEKS:
            return f"{self.installments} payments every 2 weeks"
        return f"{self.installments} months"


@dataclass(frozen=True, slots=True)
class FinancingOffers:
    amount: Money
    offers: tuple[FinancingOffer, ...]
    unavailable_providers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EngravingLimits:
    max_length: int
    allowed_characters: str  # a human-readable description, e.g. "A-Z a-z 0-9 space & . , ' ! ? -"
    allowed_pattern: str  # the same as a regular expression, for client-side validation
    fonts: tuple[str, ...]
    placements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EngravingPreview:
    image_url: str
    text: str
    font: str
    placement: str
    limits: EngravingLimits


@dataclass(frozen=True, slots=True)
class CartLine:
    variant: Variant
    quantity: int

    @property
    def total(self) -> Money:
        return self.variant.price.times(self.quantity)


@dataclass(frozen=True)
class CartQuote:
    """A cart priced in one server-side pass; each vendor part is a `Sourced` or the public error it hit."""

    lines: tuple[CartLine, ...]
    ship_to: Address
    subtotal: Money
    tax: Sourced[TaxQuote] | Exception
    insurance: Sourced[InsuranceQuote] | Exception | None  # None: insurance not asked for
    financing: Sourced[FinancingOffers] | Exception
    total: Money
    missing: tuple[str, ...] = field(default=())  # parts not included in `total` because they failed

    @property
    def complete(self) -> bool:
        return not self.missing

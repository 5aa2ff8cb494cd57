"""Domain values every layer speaks.

Connectors map vendor payloads into these; resolvers return them; `schema/` turns them into GraphQL
objects. They are plain frozen dataclasses so they can be cached, compared and serialized without
knowing anything about HTTP or GraphQL. This module imports nothing of ours.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Generic, TypeVar

T = TypeVar("T")

CENT = Decimal("0.01")


class Source(enum.Enum):
    """Where an answer came from."""

    LIVE = "LIVE"  # the vendor answered during this request
    CACHE = "CACHE"  # a fresh cached answer (within the vendor's cache TTL)
    STALE = "STALE"  # the last good answer, served because the vendor failed
    NONE = "NONE"  # no answer at all: the value is a placeholder (e.g. UNKNOWN availability)


@dataclass(frozen=True, slots=True)
class Freshness:
    source: Source
    age_ms: int
    vendor: str


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """A vendor answer together with where it came from and how old it is."""

    value: T
    freshness: Freshness


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str) -> Money:
        return cls(Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP), currency.upper())

    @classmethod
    def from_minor(cls, cents: int, currency: str) -> Money:
        return cls.of(Decimal(cents) / 100, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.of(0, currency)

    @property
    def minor(self) -> int:
        return int((self.amount * 100).to_integral_value(rounding=ROUND_HALF_UP))

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money.of(self.amount + other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money.of(self.amount * quantity, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


# ---------------------------------------------------------------- catalog


@dataclass(frozen=True, slots=True)
class SelectedOption:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ProductOption:
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Variant:
    id: str
    product_id: str
    sku: str
    title: str
    price: Money
    selected_options: tuple[SelectedOption, ...]


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    alt_text: str


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    handle: str
    title: str
    description: str
    description_html: str
    vendor: str
    product_type: str
    tags: tuple[str, ...]
    options: tuple[ProductOption, ...]
    variants: tuple[Variant, ...]
    engravable: bool
    images: tuple[Image, ...] = ()

    @property
    def min_price(self) -> Money:
        return min(self.variants, key=lambda v: v.price.amount).price

    @property
    def max_price(self) -> Money:
        return max(self.variants, key=lambda v: v.price.amount).price

    def variant(self, variant_id: str) -> Variant | None:
        return next((v for v in self.variants if v.id == variant_id), None)


@dataclass(frozen=True, slots=True)
class ProductPage:
    products: tuple[Product, ...]
    has_next_page: bool


# ---------------------------------------------------------------- inventory


class StockStatus(enum.Enum):
    IN_STOCK = "IN_STOCK"
    LOW_STOCK = "LOW_STOCK"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class StockLevel:
    sku: str
    available: int  # available to promise: on hand minus reservations
    on_hand: int
    restock_days: int | None = None


class StockPath(enum.Enum):
    """How an availability answer was reached."""

    CACHE = "CACHE"  # at or above safety stock: served from cache
    LIVE = "LIVE"  # not cached yet: asked the inventory vendor
    LIVE_CHECK = "LIVE_CHECK"  # below safety stock: asked the inventory vendor, as on every read
    FALLBACK = "FALLBACK"  # the inventory vendor could not answer: a stale answer, or nothing


@dataclass(frozen=True, slots=True)
class Availability:
    """What a shopper is told about a variant's stock, and how sure we are."""

    status: StockStatus
    quantity: int | None
    freshness: Freshness
    confirmed: bool  # False when the answer could not be checked (vendor failed): never a stale IN_STOCK
    path: StockPath


# ---------------------------------------------------------------- addresses, quotes


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
    preview_id: str
    image_url: str
    text: str
    font: str
    placement: str
    limits: EngravingLimits


# ---------------------------------------------------------------- cart


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


# ---------------------------------------------------------------- checkout


class OrderStatus(enum.Enum):
    CONFIRMED = "CONFIRMED"  # stock held, payment authorized; downstream sync under way


class SyncStatus(enum.Enum):
    PENDING = "PENDING"
    SYNCED = "SYNCED"
    FAILED = "FAILED"  # gave up after the configured deliveries; the entry is in the dead-letter stream


@dataclass(frozen=True, slots=True)
class PaymentAuthorization:
    intent_id: str
    status: str  # the provider's status, e.g. "requires_capture"
    amount: Money
    card_brand: str | None = None
    last4: str | None = None


@dataclass(frozen=True, slots=True)
class OrderLine:
    variant_id: str
    product_id: str
    sku: str
    title: str
    quantity: int
    unit_price: Money
    engraving_text: str | None = None

    @property
    def total(self) -> Money:
        return self.unit_price.times(self.quantity)


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    status: OrderStatus
    created_at: float
    email: str
    ship_to: Address
    lines: tuple[OrderLine, ...]
    subtotal: Money
    tax: Money
    insurance: Money | None
    total: Money
    payment: PaymentAuthorization
    reservation_id: str
    downstream_systems: tuple[str, ...]  # e.g. ("erp", "wms", "crm", "insurance")
    insurance_quote_token: str | None = None
    financing_provider: str | None = None


@dataclass(frozen=True, slots=True)
class DownstreamState:
    system: str
    status: SyncStatus
    attempts: int
    last_error: str | None = None
    updated_at: float | None = None

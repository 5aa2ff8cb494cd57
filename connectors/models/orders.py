"""A placed order, its payment authorization, and where each downstream system is with it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from connectors.models.quotes import Address
from connectors.models.values import DownstreamSystem, Money


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
    downstream_systems: tuple[DownstreamSystem, ...]  # insurance only when the order is insured
    insurance_quote_token: str | None = None
    financing_provider: str | None = None


@dataclass(frozen=True, slots=True)
class DownstreamState:
    system: DownstreamSystem
    status: SyncStatus
    attempts: int
    last_error: str | None = None
    updated_at: float | None = None

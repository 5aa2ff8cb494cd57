"""Domain values every layer speaks.

Connectors map vendor payloads into these; resolvers return them; `schema/` turns them into GraphQL
objects. They are plain frozen dataclasses and enums, so they can be cached, compared and serialized
without knowing anything about HTTP or GraphQL. Nothing here imports anything else of Bezel's.
"""

from connectors.models.catalog import (
    Availability,
    Image,
    Product,
    ProductOption,
    ProductPage,
    SelectedOption,
    StockLevel,
    StockPath,
    StockStatus,
    Variant,
)
from connectors.models.events import (
    Change,
    Event,
    EventSource,
    InventoryItemChanged,
    ProductChanged,
    StockChanged,
)
from connectors.models.orders import (
    DownstreamState,
    Order,
    OrderLine,
    OrderStatus,
    PaymentAuthorization,
    SyncStatus,
)
from connectors.models.quotes import (
    Address,
    CartLine,
    CartQuote,
    EngravingLimits,
    EngravingPreview,
    FinancingOffer,
    FinancingOffers,
    InstallmentInterval,
    InsuranceQuote,
    Jurisdiction,
    TaxQuote,
)
from connectors.models.values import CENT, DownstreamSystem, Freshness, Money, Outcome, Source, Sourced, Vendor

__all__ = [
    "CENT",
    "Address",
    "Availability",
    "CartLine",
    "CartQuote",
    "Change",
    "DownstreamState",
    "DownstreamSystem",
    "EngravingLimits",
    "EngravingPreview",
    "Event",
    "EventSource",
    "FinancingOffer",
    "FinancingOffers",
    "Freshness",
    "Image",
    "InstallmentInterval",
    "InsuranceQuote",
    "InventoryItemChanged",
    "Jurisdiction",
    "Money",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Outcome",
    "PaymentAuthorization",
    "Product",
    "ProductChanged",
    "ProductOption",
    "ProductPage",
    "SelectedOption",
    "Source",
    "Sourced",
    "StockChanged",
    "StockLevel",
    "StockPath",
    "StockStatus",
    "SyncStatus",
    "TaxQuote",
    "Variant",
    "Vendor",
]

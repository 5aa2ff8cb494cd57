"""What the systems that change things tell Bezel: events, and the changes they carry.

A webhook (Shopify, commercetools, the ERP) becomes one `Event`: who sent it, how to tell a repeat
(`delivery_id`), how to tell an older one (`resource` and `version`), and what changed. The gateway
reads the wire formats; what a change means for caches and counters is `resolvers.events`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EventSource(enum.StrEnum):
    SHOPIFY = "shopify"
    COMMERCETOOLS = "commercetools"
    ERP = "erp"


@dataclass(frozen=True, slots=True)
class StockChanged:
    """A SKU's stock in the system that sent it (`inventory`: what pages read; `erp`: the books)."""

    sku: str
    available: int
    on_hand: int | None
    system: str  # "inventory" or "erp"


@dataclass(frozen=True, slots=True)
class InventoryItemChanged:
    """Shopify's inventory level of an item, known by its inventory item id (not yet by SKU)."""

    inventory_item_id: str  # above 2^53: kept as a string
    available: int


@dataclass(frozen=True, slots=True)
class ProductChanged:
    """A product edited (price, options, publication) or deleted in the catalog."""

    product_id: str
    deleted: bool = False


Change = StockChanged | InventoryItemChanged | ProductChanged


@dataclass(frozen=True, slots=True)
class Event:
    source: EventSource
    topic: str  # the sender's name for it: "products/update", "InventoryEntryQuantitySet", "stock.changed"
    delivery_id: str  # the same on every retry and duplicate of one delivery: seen once, applied once
    resource: str  # what it is about, for ordering ("sku:AUR-...", "product:632910392")
    version: float  # its place among the resource's events (a sequence number or a timestamp)
    origin_at: float  # when the change happened at its source (epoch seconds): the lag is counted from it
    changes: tuple[Change, ...]

"""Products, variants and stock, as the catalog and inventory vendors describe them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from connectors.models.values import Freshness, Money


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
    cursors: tuple[str, ...] = ()  # the catalog's cursor of each product: where the page after it starts


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


class StockPath(enum.Enum):
    """How an availability answer was reached."""

    CACHE = "CACHE"  # at or above safety stock: served from cache
    LIVE = "LIVE"  # not cached yet: asked the inventory vendor
    LIVE_CHECK = "LIVE_CHECK"  # below safety stock: asked the inventory vendor, as on every read
    FALLBACK = "FALLBACK"  # the inventory vendor could not answer: a stale answer, or nothing
    CHECKOUT = "CHECKOUT"  # checkout's own counter (what it would sell now) is below the vendor's number


@dataclass(frozen=True, slots=True)
class Availability:
    """What a shopper is told about a variant's stock, and how sure we are."""

    status: StockStatus
    quantity: int | None
    freshness: Freshness
    confirmed: bool  # False when the answer could not be checked (vendor failed): never a stale IN_STOCK
    path: StockPath

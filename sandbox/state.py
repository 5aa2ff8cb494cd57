"""What the sandbox's vendors remember between calls: the catalog, each system's stock, what was sent to them.

Stock lives in two systems, as in a real shop: the ERP's on-hand (`erp_stock`: what its ATP answers and
sales orders decrement) and the inventory system's level (`inventory_stock`: what the commercetools-like
inventory API answers). They agree only as far as the integration between them (`sandbox.systems`) has
caught up, which is the gap Bezel's webhooks and backstop must cover.
"""

from __future__ import annotations

import dataclasses
import enum
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.seed import SeedProduct, SeedVariant, build_catalog, initial_stock

INVENTORY_CREATED_AT = "2026-03-02T15:15:00.000Z"
INVENTORY_MODIFIED_AT = "2026-11-20T09:00:00.000Z"  # the seeded entries' last change


# The Storefront API endpoint's own state (`sandbox.vendors.storefront`), kept here with every vendor's.
MAX_ANSWERS = 512


class StorefrontSettings(BaseModel):
    """What `PUT /_admin/catalog/storefront` sets: the cost bucket, and a field made to fail."""

    model_config = ConfigDict(extra="forbid")

    # The Storefront API publishes no bucket for server traffic: ours never throttles a benchmark (a
    # 1,200-variant product costs ~3,800 a read) unless a test shrinks it.
    maximum_available: float = Field(default=1_000_000, gt=0)
    restore_rate: float = Field(default=1_000_000, ge=0)  # points per second
    fail_field: Literal["variants", "images", "metafield", "product"] | None = None
    times: int | None = Field(default=None, ge=1)  # the next N calls get `fail_field`; None: until cleared


@dataclass
class Bucket:
    """Shopify's leaky bucket of query cost: it refills at `restore_rate` up to `maximum`."""

    maximum: float
    restore_rate: float
    available: float = -1.0
    at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.available < 0:
            self.available = self.maximum

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.at) * self.restore_rate)
        self.at = now

    def status(self) -> dict[str, float]:
        return {"maximumAvailable": self.maximum, "currentlyAvailable": round(self.available, 1),
                "restoreRate": self.restore_rate}


@dataclass
class Storefront:
    """The endpoint's own state: its bucket, the failure asked for, and each product's answer, made once."""

    settings: StorefrontSettings = field(default_factory=StorefrontSettings)
    bucket: Bucket = field(default_factory=lambda: Bucket(1_000_000, 1_000_000))
    docs: dict[int, tuple[SeedProduct, dict[str, Any]]] = field(default_factory=dict)
    # Answers by (query, variables), each with the catalog it was read from (`SandboxState.products`, a new
    # list on every change): graphql-core spends ~50 ms on 500 variants, and the sandbox must not eat the
    # CPU a benchmark measures the gateway with.
    answers: OrderedDict[bytes, tuple[object, dict[str, Any]]] = field(default_factory=OrderedDict)

    def remember(self, key: bytes, catalog: object, answer: dict[str, Any]) -> None:
        self.answers[key] = (catalog, answer)
        self.answers.move_to_end(key)
        while len(self.answers) > MAX_ANSWERS:
            self.answers.popitem(last=False)

    def configure(self, settings: StorefrontSettings) -> None:
        self.settings = settings
        self.bucket = Bucket(settings.maximum_available, settings.restore_rate)

    def failing(self, name: str) -> bool:
        """Whether `name` fails on this call (counting down `times` once per call, in `take`)."""
        return self.settings.fail_field == name


class ErpReason(enum.StrEnum):
    """Why the ERP's on-hand changed: the `reason` of its `stock.changed` webhook."""

    SALES_ORDER = "sales_order"
    RESTOCK = "restock"
    RETURN = "return"
    SALE = "sale"


# Told of every ERP change (sku, old, new, reason); `sandbox.systems` sets it to emit and pass it on.
ErpListener = Callable[[str, int, int, ErpReason], None]


@dataclass
class SandboxState:
    products: list[SeedProduct] = field(default_factory=build_catalog)
    erp_stock: dict[str, int] = field(default_factory=dict)  # the ERP's on-hand per SKU (may go below 0)
    inventory_stock: dict[str, int] = field(default_factory=dict)  # the inventory system's level per SKU
    inventory_versions: dict[str, int] = field(default_factory=dict)  # each inventory entry's version
    inventory_sequence: dict[str, int] = field(default_factory=dict)  # last message sequenceNumber per entry
    inventory_modified_at: dict[str, str] = field(default_factory=dict)
    erp_sequence: dict[str, int] = field(default_factory=dict)  # last `stock.changed` sequence per SKU
    payment_intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, int, Any]] = field(default_factory=dict)  # key -> (fingerprint, status, body)
    in_flight: set[str] = field(default_factory=set)
    received: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # vendor -> external id -> doc
    insurance_policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    purges: list[dict[str, Any]] = field(default_factory=list)  # what Bezel purged at the emulated edges
    erp_listener: ErpListener | None = None
    storefront: Storefront = field(default_factory=Storefront)  # the Storefront API's cost bucket and faults

    def __post_init__(self) -> None:
        if not self.erp_stock and not self.inventory_stock:
            self.reset_stock()
        self._index()

    def _index(self) -> None:
        self.by_handle = {p.handle: p for p in self.products}
        self.by_id = {p.id: p for p in self.products}
        self.variants: dict[int, tuple[SeedProduct, SeedVariant]] = {
            v.id: (p, v) for p in self.products for v in p.variants
        }
        self.by_sku: dict[str, tuple[SeedProduct, SeedVariant]] = {v.sku: (p, v) for p, v in self.variants.values()}

    def reset_stock(self) -> None:
        """Both systems back at the seeded stock, in agreement; entries at version 1 (their creation).
        After `reset_catalog` when products were deleted: the seed walks the whole catalog."""
        seeded = initial_stock(self.products)
        self.erp_stock = dict(seeded)
        self.inventory_stock = dict(seeded)
        self.inventory_versions = dict.fromkeys(seeded, 1)
        self.inventory_sequence = dict.fromkeys(seeded, 1)  # message 1: InventoryEntryCreated
        self.inventory_modified_at = dict.fromkeys(seeded, INVENTORY_MODIFIED_AT)
        self.erp_sequence = dict.fromkeys(seeded, 0)

    def reset_catalog(self) -> None:
        """The seeded catalog: prices changed and products deleted through the admin API come back."""
        self.products = build_catalog()
        self._index()

    def set_erp_level(self, sku: str, quantity: int, reason: ErpReason) -> None:
        """The ERP's on-hand for `sku` becomes `quantity`; its integrations are told."""
        old = self.erp_stock[sku]
        self.erp_stock[sku] = quantity
        if self.erp_listener is not None:
            self.erp_listener(sku, old, quantity, reason)

    def set_inventory_level(self, sku: str, quantity: int, at: str) -> tuple[int, int, int]:
        """The inventory entry's level becomes `quantity`: (old level, new version, message sequence number)."""
        old = self.inventory_stock[sku]
        self.inventory_stock[sku] = quantity
        self.inventory_versions[sku] += 1
        self.inventory_sequence[sku] += 1
        self.inventory_modified_at[sku] = at
        return old, self.inventory_versions[sku], self.inventory_sequence[sku]

    def set_price(self, sku: str, price: Decimal, at: str) -> SeedProduct:
        """The variant's price from now on; it and its product are `updated_at` then. Returns the product."""
        product, variant = self.by_sku[sku]
        changed = dataclasses.replace(variant, price=price, updated_at=at)
        edited = dataclasses.replace(product, updated_at=at,
                                     variants=tuple(changed if v.id == variant.id else v for v in product.variants))
        self.products = [edited if p.id == product.id else p for p in self.products]
        self._index()
        return edited

    def delete_product(self, handle: str) -> SeedProduct:
        """The catalog no longer serves the product (its stock stays: the systems forget nothing)."""
        product = self.by_handle[handle]
        self.products = [p for p in self.products if p.id != product.id]
        self._index()
        return product

    @property
    def stock(self) -> MutableMapping[str, int]:
        """Both systems at once, for code written before they were apart: writing sets both, quietly
        (no webhook); reading answers the inventory system's level."""
        return _BothSystems(self)


class _BothSystems(MutableMapping[str, int]):
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def __getitem__(self, sku: str) -> int:
        return self.state.inventory_stock[sku]

    def __setitem__(self, sku: str, quantity: int) -> None:
        self.state.erp_stock[sku] = quantity
        self.state.inventory_stock[sku] = quantity

    def __delitem__(self, sku: str) -> None:
        raise TypeError("the sandbox's SKUs cannot be removed")

    def __iter__(self) -> Iterator[str]:
        return iter(self.state.inventory_stock)

    def __len__(self) -> int:
        return len(self.state.inventory_stock)
